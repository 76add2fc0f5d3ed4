"""The /analytics visuals, answered from the pre-aggregates with bound parameters.

Every statement below is a constant; filter values are passed as DuckDB
parameters (``$years``, ``$category`` ...), never spliced into SQL. A visual
is filtered by every filter except the one it sets itself (the segment donut
keeps showing all segments, highlighting the clicked one), as in Power BI.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import duckdb
from pydantic import BaseModel

from superstore.web.cubes import Cubes
from superstore.web.filters import Filters

__all__ = [
    "Grain",
    "Kpis",
    "category_trend",
    "growth",
    "kpis",
    "regions",
    "segments",
    "states",
]

Grain = Literal["month", "quarter", "year"]

_WHERE = """
    (len($years::INTEGER[]) = 0 OR list_contains($years::INTEGER[], year))
    AND (len($states::VARCHAR[]) = 0 OR list_contains($states::VARCHAR[], state))
    AND ($segment::VARCHAR IS NULL OR segment = $segment::VARCHAR)
    AND ($region::VARCHAR IS NULL OR region = $region::VARCHAR)
"""
_CATEGORY = "AND ($category::VARCHAR IS NULL OR category = $category::VARCHAR)"
# In orders/customers/cities, category NULL rows stand for "any category".
_ANY_CATEGORY = "AND category IS NOT DISTINCT FROM $category::VARCHAR"

_PERIOD = {
    "month": "printf('%04d-%02d', year, month)",
    "quarter": "printf('%04d-Q%d', year, quarter)",
    "year": "CAST(year AS VARCHAR)",
}


_SEGMENT = "($segment::VARCHAR IS NULL OR segment = $segment::VARCHAR)"
_YEAR_BITS = "($ymask::HUGEINT IS NULL OR years & $ymask::HUGEINT != 0)"
_CUSTOMERS = {
    # The smallest table that can answer; one row per customer in cust_region/cust_all.
    "state": f"""SELECT count(DISTINCT customer_key) FROM cust_state
        WHERE list_contains($states::VARCHAR[], state)
          AND ($region::VARCHAR IS NULL OR region = $region::VARCHAR)
          AND {_SEGMENT} {_ANY_CATEGORY} AND {_YEAR_BITS}""",
    "region": f"""SELECT count(*) FROM cust_region WHERE region = $region::VARCHAR
          AND {_SEGMENT} {_ANY_CATEGORY} AND {_YEAR_BITS}""",
    "all": f"""SELECT count(*) FROM cust_all WHERE {_SEGMENT} {_ANY_CATEGORY}
          AND {_YEAR_BITS}""",
}


def _customer_table(filters: Filters) -> str:
    return "state" if filters.states else "region" if filters.region else "all"


def _year_mask(cubes: Cubes, filters: Filters) -> int | None:
    """The year slicer as bits (bit 0 = the first year held); None = every year."""
    if not filters.years:
        return None
    return sum(1 << (y - cubes.first_year) for y in filters.years if y >= cubes.first_year)


class Kpis(BaseModel):
    """The KPI cards."""

    sales: Decimal
    profit: Decimal
    quantity: int
    orders: int
    customers: int
    cities: int
    lines: int


def _params(filters: Filters) -> dict[str, Any]:
    return {
        "years": list(filters.years),
        "states": list(filters.states),
        "segment": filters.segment,
        "region": filters.region,
        "category": filters.category,
    }


def _rows(
    cur: duckdb.DuckDBPyConnection, sql: str, filters: Filters, **extra: Any
) -> list[dict[str, Any]]:
    """Run a constant statement with the filters bound (only those it names)."""
    params = {k: v for k, v in (_params(filters) | extra).items() if f"${k}" in sql}
    result = cur.execute(sql, params)
    names = [d[0] for d in result.description or []]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def kpis(cubes: Cubes, filters: Filters) -> Kpis:
    """Totals under every filter."""
    sql = f"""
    WITH sums AS (
      SELECT coalesce(sum(sales), 0) AS sales, coalesce(sum(profit), 0) AS profit,
             coalesce(sum(quantity), 0) AS quantity, coalesce(sum(lines), 0) AS lines
      FROM cube WHERE {_WHERE} {_CATEGORY}
    )
    SELECT sums.*,
      (SELECT coalesce(sum(orders), 0) FROM order_cells WHERE {_WHERE} {_ANY_CATEGORY}) AS orders,
      ({_CUSTOMERS[_customer_table(filters)]}) AS customers,
      (SELECT count(DISTINCT (state, city)) FROM city_cells WHERE {_WHERE} {_ANY_CATEGORY})
        AS cities
    FROM sums
    """
    (row,) = _rows(cubes.cursor(), sql, filters, ymask=_year_mask(cubes, filters))
    return Kpis(**row)


def category_trend(cubes: Cubes, filters: Filters, grain: Grain) -> list[dict[str, Any]]:
    """Sales per period and category (the category cross-filter only highlights)."""
    period = _PERIOD[grain]
    sql = f"""
    SELECT {period} AS period, category, sum(sales) AS sales
    FROM cube WHERE {_WHERE}
    GROUP BY ALL ORDER BY period, category
    """
    return _rows(cubes.cursor(), sql, filters.without("category"))


def _by(cubes: Cubes, filters: Filters, column: str) -> list[dict[str, Any]]:
    sql = f"""
    SELECT {column}, sum(sales) AS sales, sum(profit) AS profit, sum(quantity) AS quantity
    FROM cube WHERE {_WHERE} {_CATEGORY}
    GROUP BY ALL ORDER BY sales DESC, {column}
    """
    return _rows(cubes.cursor(), sql, filters)


def segments(cubes: Cubes, filters: Filters) -> list[dict[str, Any]]:
    """Sales by customer segment, with each segment's share of the total."""
    rows = _by(cubes, filters.without("segment"), "segment")
    total = sum((r["sales"] for r in rows), Decimal(0))
    for row in rows:
        row["share"] = round(row["sales"] / total, 6) if total else Decimal(0)
    return rows


def regions(cubes: Cubes, filters: Filters) -> list[dict[str, Any]]:
    """Sales and profit by region (treemap)."""
    return _by(cubes, filters.without("region"), "region")


def states(cubes: Cubes, filters: Filters) -> list[dict[str, Any]]:
    """Sales and profit by US state (choropleth); the map shows every state."""
    return _by(cubes, filters.without("state"), "state")


def growth(cubes: Cubes, filters: Filters, grain: Grain) -> list[dict[str, Any]]:
    """Sales per period with the change against the same period a year before, in %.

    The year slicer picks which periods are shown, not which are compared:
    2017's growth is measured against 2016 even when only 2017 is selected.
    """
    period = _PERIOD[grain]
    sub = {"month": "month", "quarter": "quarter", "year": "0"}[grain]
    sql = f"""
    WITH p AS (
      SELECT year, {sub} AS sub, any_value({period}) AS period, sum(sales) AS sales
      FROM cube WHERE {_WHERE} {_CATEGORY} GROUP BY ALL
    )
    SELECT cur.period, cur.sales, prev.sales AS prev_sales,
           CASE WHEN prev.sales > 0
                THEN round(CAST((cur.sales - prev.sales) * 100 / prev.sales AS DOUBLE), 2)
           END AS yoy_pct
    FROM p cur LEFT JOIN p prev ON prev.year = cur.year - 1 AND prev.sub = cur.sub
    WHERE len($shown::INTEGER[]) = 0 OR list_contains($shown::INTEGER[], cur.year)
    ORDER BY cur.year, cur.sub
    """
    return _rows(cubes.cursor(), sql, filters.without("year"), shown=list(filters.years))
