"""The /analytics visuals, answered from the pre-aggregates with bound parameters.

Every statement below is a constant; filter values are passed as DuckDB
parameters (``$years``, ``$category`` ...), never spliced into SQL. A visual
is filtered by every filter except the one it sets itself (the segment donut
keeps showing all segments, highlighting the clicked one), as in Power BI;
its CSV applies every filter. Queries return exact sums of the base columns
and the chosen measure is computed from them (`superstore.web.measures`), so
a ratio is always a ratio of sums. Time visuals get every period of the
selected span, zero when nothing sold: an axis never skips a month.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from superstore.web import cubesql
from superstore.web.cubes import Cubes
from superstore.web.cubesql import SUMS, bind, query, where
from superstore.web.filters import Dimension, Filters
from superstore.web.measures import (
    BASE_COLUMNS,
    INTEGER_COLUMNS,
    MEASURES,
    Measure,
    change,
    measure,
)
from superstore.web.periods import DateSet, Grain, Period, periods_between, shift_months

__all__ = [
    "Comparison",
    "Kpis",
    "by_member",
    "category_trend",
    "growth",
    "kpi_comparison",
    "kpis",
    "regions",
    "segments",
    "states",
    "sums_of",
    "zero_sums",
]

_LABEL = {
    "year": "strftime({d}, '%Y')",
    "quarter": "strftime({d}, '%Y') || '-Q' || CAST(quarter({d}) AS VARCHAR)",
    "month": "strftime({d}, '%Y-%m')",
    "day": "strftime({d}, '%Y-%m-%d')",
}
_A_YEAR_LATER = "CAST(order_date + INTERVAL 1 YEAR AS DATE)"


class Kpis(BaseModel):
    """The KPI cards. `cities` counts distinct (city, state) pairs."""

    sales: Decimal
    profit: Decimal
    quantity: int
    orders: int
    customers: int
    cities: int
    lines: int
    margin: Decimal | None = None
    city_names: int = 0  # distinct city names (a name shared by two states counts once)
    returns: Decimal = Decimal(0)  # the returned part of sales
    net_sales: Decimal = Decimal(0)  # sales - returns
    return_rate: Decimal | None = None  # returns / sales


class Comparison(BaseModel):
    """The same KPIs over the comparable span just before, and the change to it."""

    label: str
    kpis: Kpis
    change: dict[str, float | None]


def zero_sums() -> dict[str, Any]:
    """A row of base sums for "nothing sold"."""
    return {c: 0 if c in INTEGER_COLUMNS else Decimal(0) for c in BASE_COLUMNS}


def sums_of(row: dict[str, Any] | None) -> dict[str, Any]:
    """The base sums of a result row, zero where nothing was summed."""
    zero = zero_sums()
    return {c: zero[c] if row is None or row.get(c) is None else row[c] for c in zero}


def kpis(cubes: Cubes, filters: Filters, dates: DateSet | None = None) -> Kpis:
    """Totals under every filter (over `dates` instead of the filters' own days if given)."""
    dates = dates if dates is not None else filters.dates(cubes.last_day)
    params = bind(cubes, filters, dates)
    customers, extra = cubesql.customers(cubes, filters, dates, params)
    sql = f"""
    WITH sums AS (SELECT {SUMS} FROM cube {where(params)})
    SELECT sums.*,
      (SELECT coalesce(sum(orders), 0) FROM order_cells {where(params, "any")}) AS orders,
      ({customers}) AS customers,
      (SELECT count(DISTINCT (state, city)) FROM city_cells {where(params, "any")}) AS cities,
      (SELECT count(DISTINCT city) FROM city_cells {where(params, "any")}) AS city_names
    FROM sums"""
    (row,) = query(cubes.cursor(), sql, params | extra)
    sums = sums_of(row)
    return Kpis(
        **sums,
        orders=row["orders"],
        customers=row["customers"],
        cities=row["cities"],
        city_names=row["city_names"],
        margin=measure("margin").value(sums),
        return_rate=measure("return_rate").value(sums),
    )


def kpi_comparison(cubes: Cubes, filters: Filters, current: Kpis) -> Comparison | None:
    """The KPIs of the previous comparable span (None without a time filter)."""
    dates = filters.dates(cubes.last_day)
    before = dates.previous(cubes.first_day, cubes.last_day)
    if before is None or before.empty(cubes.first_day, cubes.last_day):
        return None
    previous = kpis(cubes, filters, before)
    changes: dict[str, float | None] = {}
    for name in (*MEASURES, "orders", "customers", "cities"):
        m = measure(name) if name in MEASURES else None
        m = m or Measure(name, name, "count", name)
        changes[name] = change(m, getattr(current, name), getattr(previous, name))
    return Comparison(label=before.label or "", kpis=previous, change=changes)


def _axis(cubes: Cubes, dates: DateSet, grain: Grain) -> list[str]:
    lo, hi = dates.hull(cubes.first_day, cubes.last_day)
    return periods_between(lo, hi, grain, dates.years) if lo <= hi else []


def category_trend(
    cubes: Cubes, filters: Filters, grain: Grain, m: Measure
) -> list[dict[str, Any]]:
    """The measure per period and category, every period and category present.

    The category cross-filter only highlights here (it filters the others).
    """
    dates = filters.dates(cubes.last_day)
    params = bind(cubes, filters.without("category"), dates)
    sql = f"""SELECT {_LABEL[grain].format(d="order_date")} AS period, category, {SUMS}
        FROM cube {where(params)} GROUP BY ALL"""
    got = {(r["period"], r["category"]): r for r in query(cubes.cursor(), sql, params)}
    out = []
    for period in _axis(cubes, dates, grain):
        for category in cubes.known["category"]:
            sums = sums_of(got.get((period, category)))
            out.append({"period": period, "category": category, **sums, "value": m.value(sums)})
    return out


def growth(cubes: Cubes, filters: Filters, grain: Grain, m: Measure) -> list[dict[str, Any]]:
    """The measure per period against the same days a year before.

    The time filters pick which periods are shown, not which are compared:
    2017's growth is measured against 2016 even when only 2017 is selected.
    A change is in % for sums and in percentage points for ratios.
    """
    dates = filters.dates(cubes.last_day)
    before = dates.shifted_year()
    now_params, then_params = bind(cubes, filters, dates), bind(cubes, filters, before)
    cur = f"""SELECT {_LABEL[grain].format(d="order_date")} AS period, {SUMS}
        FROM cube {where(now_params)} GROUP BY ALL"""
    prev = f"""SELECT {_LABEL[grain].format(d=_A_YEAR_LATER)} AS period, {SUMS}
        FROM cube {where(then_params)} GROUP BY ALL"""
    con = cubes.cursor()
    now = {r["period"]: r for r in query(con, cur, now_params)}
    then = {r["period"]: r for r in query(con, prev, then_params)}
    sales = measure("sales")
    out = []
    for label in _axis(cubes, dates, grain):
        period = Period.parse(label)
        comparable = shift_months(period.end, -12) >= cubes.first_day and not (
            grain == "day" and (period.start.month, period.start.day) == (2, 29)
        )
        sums = sums_of(now.get(label))
        before_sums = sums_of(then.get(label)) if comparable else None
        value = m.value(sums)
        prev_value = m.value(before_sums) if before_sums is not None else None
        prev_sales = before_sums["sales"] if before_sums is not None else None
        out.append(
            {
                "period": label,
                "sales": sums["sales"],
                "prev_sales": prev_sales,
                "yoy_pct": change(sales, sums["sales"], prev_sales),
                "value": value,
                "prev_value": prev_value,
                "change": change(m, value, prev_value),
            }
        )
    return out


def by_member(
    cubes: Cubes, filters: Filters, column: str, m: Measure, own: Dimension | None
) -> list[dict[str, Any]]:
    """The measure per member of `column`, ignoring the visual's own filter `own`.

    Sorted by the measure, largest first. `share` is each member's part of
    the total, only for an additive measure whose members are all >= 0 (a
    part of a whole); otherwise None.
    """
    if own is not None:
        filters = filters.without(own)
    params = bind(cubes, filters)
    sql = f"SELECT {column}, {SUMS} FROM cube {where(params)} GROUP BY ALL"
    rows = query(cubes.cursor(), sql, params)
    out = []
    for row in rows:
        sums = sums_of(row)
        out.append({column: row[column], **sums, "value": m.value(sums)})
    out.sort(key=lambda r: (r["value"] is None, -(r["value"] or 0), str(r[column])))
    values = [Decimal(r["value"]) for r in out if r["value"] is not None]
    total = sum(values, Decimal(0))
    parts = m.additive and total > 0 and all(v >= 0 for v in values)
    for row in out:
        row["share"] = round(Decimal(row["value"]) / total, 6) if parts else None
    return out


def segments(cubes: Cubes, filters: Filters, m: Measure, csv: bool = False) -> list[dict[str, Any]]:
    """The measure by customer segment, with each segment's share of the total."""
    return by_member(cubes, filters, "segment", m, None if csv else "segment")


def regions(cubes: Cubes, filters: Filters, m: Measure, csv: bool = False) -> list[dict[str, Any]]:
    """The measure by region (treemap, or bars when the measure is not parts of a whole)."""
    return by_member(cubes, filters, "region", m, None if csv else "region")


def states(cubes: Cubes, filters: Filters, m: Measure, csv: bool = False) -> list[dict[str, Any]]:
    """The measure by US state (the map shows every state; its CSV the selected ones)."""
    return by_member(cubes, filters, "state", m, None if csv else "state")
