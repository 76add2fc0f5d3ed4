"""SQL over the pre-aggregates: constant fragments, composed per set of active filters.

Values are always bound parameters (``$states``, ``$lo`` ...); only the
choice of fragments depends on the request, and that choice is made from
which filters are set, never from their text. Composing them (instead of
one statement full of ``$x IS NULL OR ...``) matters for speed: DuckDB's
planning grows with every predicate, and on the small pre-aggregates the
planning is most of a query's cost (a statement with every optional
predicate took 3-9 ms where the two that apply take under 1 ms).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any, Literal

import duckdb

from superstore.web.cubes import Cubes
from superstore.web.filters import Filters
from superstore.web.measures import sums_sql
from superstore.web.periods import DateSet, shift_months

__all__ = ["SUMS", "bind", "customers", "query", "where"]

SUMS = sums_sql()

_PREDICATES = {
    "states": "list_contains($states::VARCHAR[], state)",
    "segment": "segment = $segment::VARCHAR",
    "region": "region = $region::VARCHAR",
    "lo": "order_date BETWEEN $lo::DATE AND $hi::DATE",
    "years": "list_contains($years::INTEGER[], year)",
    "sub_category": "sub_category = $sub_category::VARCHAR",
}
Category = Literal["exact", "any", "ignore"]


def bind(cubes: Cubes, filters: Filters, dates: DateSet | None = None) -> dict[str, Any]:
    """The parameters of the filters that are set (a time filter as its held days)."""
    dates = dates if dates is not None else filters.dates(cubes.last_day)
    params: dict[str, Any] = {}
    if filters.states:
        params["states"] = list(filters.states)
    for name in ("segment", "region", "category"):
        if getattr(filters, name) is not None:
            params[name] = getattr(filters, name)
    if not dates.everything:
        params["lo"], params["hi"] = dates.hull(cubes.first_day, cubes.last_day)
    if dates.years:
        params["years"] = list(dates.years)
    return params


@lru_cache(maxsize=512)
def _where(active: frozenset[str], category: Category, columns: frozenset[str] | None) -> str:
    parts = [
        sql
        for name, sql in _PREDICATES.items()
        if name in active and (columns is None or name in columns)
    ]
    if category == "exact" and "category" in active:
        parts.append("category = $category::VARCHAR")
    elif category == "any":  # category NULL rows stand for "any category"
        parts.append(
            "category = $category::VARCHAR" if "category" in active else "category IS NULL"
        )
    return "WHERE " + " AND ".join(parts or ["TRUE"])


def where(
    params: dict[str, Any], category: Category = "exact", columns: frozenset[str] | None = None
) -> str:
    """`WHERE ...` for the bound filters; `columns` limits it to a table's own columns."""
    return _where(frozenset(params), category, columns)


def query(cur: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Run a statement with the parameters it names bound."""
    result = cur.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})
    names = [d[0] for d in result.description or []]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


# Customers: one row per customer in the mask tables; the level is the narrowest place filter.
_LEVELS = {
    "state": ("count(DISTINCT customer_key)", "cust_state", {"states", "region", "segment"}),
    "region": ("count(*)", "cust_region", {"region", "segment"}),
    "all": ("count(*)", "cust_all", {"segment"}),
}
_MONTHS = "months & $mmask::HUGEINT != 0"
_EDGES = """(order_date BETWEEN $h_lo::DATE AND $h_hi::DATE
    OR order_date BETWEEN $t_lo::DATE AND $t_hi::DATE)"""


def _month_split(cubes: Cubes, dates: DateSet) -> tuple[int, list[tuple[dt.date, dt.date]]]:
    """The selected days as whole months (a bit mask) plus partial months at the ends."""
    lo, hi = dates.hull(cubes.first_day, cubes.last_day)
    want_lo, want_hi = dates.lo or dt.date.min, dates.hi or dt.date.max
    mask, edges = 0, []
    month = lo.replace(day=1)
    while month <= hi:
        end = shift_months(month, 1) - dt.timedelta(days=1)
        if not dates.years or month.year in dates.years:
            if want_lo <= month and end <= want_hi:
                mask |= 1 << (month.year * 12 + month.month - 1 - cubes.first_month)
            else:
                edges.append((max(lo, month), min(hi, end)))
        month = end + dt.timedelta(days=1)
    return mask, edges


def customers(
    cubes: Cubes, filters: Filters, dates: DateSet, params: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The statement counting distinct customers, and the parameters it adds.

    Whole months are read from the month masks (one row per customer), the
    partial months at the ends of a date range from ``cust_days``.
    """
    level = "state" if filters.states else "region" if filters.region else "all"
    count, table, columns = _LEVELS[level]
    dims = where(params, "any", frozenset(columns))
    if dates.everything and cubes.masks:
        return f"SELECT {count} FROM {table} {dims}", {}
    days = f"SELECT count(DISTINCT customer_key) FROM cust_days {where(params, 'any')}"
    if not cubes.masks:
        return days, {}
    mask, edges = _month_split(cubes, dates)
    if not mask:
        return days, {}
    if not edges:
        return f"SELECT {count} FROM {table} {dims} AND {_MONTHS}", {"mmask": mask}
    head, tail = edges[0], edges[-1] if len(edges) > 1 else (None, None)
    place = where(params, "any", frozenset(_PREDICATES) - {"lo", "years"})
    sql = f"""SELECT count(DISTINCT customer_key) FROM (
        SELECT customer_key FROM {table} {dims} AND {_MONTHS}
        UNION ALL SELECT customer_key FROM cust_days {place} AND {_EDGES})"""
    return sql, {"mmask": mask, "h_lo": head[0], "h_hi": head[1], "t_lo": tail[0], "t_hi": tail[1]}
