"""The breakdown table: category -> sub-category -> product, or by customer, or by city.

Category and sub-category rows come from the pre-aggregates; products,
customers and cities are as many as the facts hold, so their top-N is read
from the warehouse (`superstore.web.detail`) with the same filters. Every
answer carries the rest as one "others" row and the total under the
filters (from the pre-aggregates), so the table always reconciles with the
KPI cards: top rows + others = total, to the cent.
"""

from __future__ import annotations

from typing import Any, Literal

from superstore.warehouse import WarehouseReader
from superstore.web import analytics
from superstore.web.cubes import Cubes
from superstore.web.cubesql import SUMS, bind, query, where
from superstore.web.detail import FACTS, WHERE
from superstore.web.filters import Filters
from superstore.web.measures import BASE_COLUMNS, Measure

__all__ = ["LEVELS", "Level", "breakdown", "detail_params"]

Level = Literal["category", "sub_category", "product", "customer", "city"]
LEVELS: tuple[Level, ...] = ("category", "sub_category", "product", "customer", "city")

# Warehouse levels: (columns naming a row, GROUP BY).
_GROUPS = {
    "product": (
        "p.product_id, min(p.product_name) AS product_name,"
        " count(DISTINCT p.product_name) AS names, min(p.category) AS category,"
        " min(p.sub_category) AS sub_category",
        "p.product_id",
    ),
    "customer": (
        "c.customer_id, min(c.customer_name) AS customer_name, min(c.segment) AS segment",
        "c.customer_id",
    ),
    "city": ("l.city, l.state, min(l.region) AS region", "l.city, l.state"),
}
_FACT_SUMS = ", ".join(f"{sql} AS {name}" for name, sql in BASE_COLUMNS.items())


def _order(m: Measure) -> str:
    top = BASE_COLUMNS[m.numerator]
    if m.denominator is None:
        return top
    return f"{top} / NULLIF({BASE_COLUMNS[m.denominator]}, 0)"


def detail_params(
    cubes: Cubes, filters: Filters, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Bound parameters of a warehouse statement (`detail.WHERE`) for the filters."""
    dates = filters.dates(cubes.last_day)
    lo, hi = dates.hull(cubes.first_day, cubes.last_day)
    params: dict[str, Any] = {
        "lo_key": lo.year * 10000 + lo.month * 100 + lo.day,
        "hi_key": hi.year * 10000 + hi.month * 100 + hi.day,
        "years": list(dates.years),
        "states": list(filters.states),
        "scope_regions": list(cubes.scope_regions),  # the caller's row scope
        "scope_states": list(cubes.scope_states),
        "segment": filters.segment,
        "region": filters.region,
        "category": filters.category,
        "sub_category": None,
        "product_id": None,
        "customer_id": None,
        "city": None,
    }
    return params | (extra or {})


def _params(cubes: Cubes, filters: Filters, sub_category: str | None) -> dict[str, Any]:
    params = bind(cubes, filters)
    return params | ({"sub_category": sub_category} if sub_category is not None else {})


def _cube_rows(
    cubes: Cubes, filters: Filters, level: Level, sub_category: str | None
) -> list[dict[str, Any]]:
    column = "category" if level == "category" else "sub_category"
    params = _params(cubes, filters, sub_category)
    sql = f"""SELECT {column}, any_value(category) AS parent, {SUMS} FROM cube
        {where(params)} GROUP BY {column}"""
    rows = query(cubes.cursor(), sql, params)
    for row in rows:
        if level == "sub_category":
            row["category"] = row.pop("parent")
        else:
            row.pop("parent")
    return rows


def _total(cubes: Cubes, filters: Filters, sub_category: str | None) -> dict[str, Any]:
    params = _params(cubes, filters, sub_category)
    (row,) = query(cubes.cursor(), f"SELECT {SUMS} FROM cube {where(params)}", params)
    return analytics.sums_of(row)


def breakdown(
    cubes: Cubes,
    reader: WarehouseReader | None,
    filters: Filters,
    level: Level,
    m: Measure,
    top: int,
    sub_category: str | None = None,
) -> dict[str, Any]:
    """The top `top` members of `level` by the measure, the others as one row, the total."""
    if level in ("category", "sub_category"):
        rows = _cube_rows(cubes, filters, level, sub_category)
        members = len(rows)
        for row in rows:
            row["value"] = m.value(analytics.sums_of(row))
        rows.sort(key=lambda r: (r["value"] is None, -(r["value"] or 0), str(r[level])))
        rows = rows[:top]
    else:
        if reader is None:
            raise LookupError("no warehouse to read products, customers or cities from")
        names, group = _GROUPS[level]
        sql = f"""SELECT {names}, {_FACT_SUMS}, count(*) OVER () AS members {FACTS} {WHERE}
            GROUP BY {group} ORDER BY {_order(m)} DESC NULLS LAST, {group} LIMIT %(top)s"""
        params = detail_params(cubes, filters, {"sub_category": sub_category, "top": top})
        rows = reader.rows(sql, params)
        members = int(rows[0]["members"]) if rows else 0
        for row in rows:
            row.pop("members")
            row.update(analytics.sums_of(row))
            row["value"] = m.value(row)
    total = _total(cubes, filters, sub_category)
    rest = {c: total[c] - sum((r[c] for r in rows), type(total[c])(0)) for c in BASE_COLUMNS}
    others = None
    if members > len(rows):
        others = {**rest, "members": members - len(rows), "value": m.value(rest)}
    return {
        "level": level,
        "rows": rows,
        "others": others,
        "total": {**total, "members": members, "value": m.value(total)},
    }
