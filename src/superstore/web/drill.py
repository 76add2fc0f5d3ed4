"""Drill-through: the order lines behind any mark or KPI, paged and sortable.

A click on "West, 2016" or on the Sales card asks: which lines make this
number? The answer is read from the warehouse (`superstore.web.detail`)
under exactly the filters of the mark, and carries the lines' count and
exact sums, so the page can show that they add up to the number clicked.
Sorting is chosen from a fixed list of columns (never text from the
request), with the line key as the tie-breaker so pages never overlap.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from superstore.warehouse import WarehouseReader
from superstore.web.breakdown import detail_params
from superstore.web.cubes import Cubes
from superstore.web.detail import FACTS, WHERE
from superstore.web.filters import Filters

__all__ = ["COLUMNS", "CSV_LIMIT", "ORDERS", "SORTS", "Order", "lines", "lines_csv_rows"]

CSV_LIMIT = 100_000  # lines in one CSV download: more asks to narrow the filters

SORTS: dict[str, str] = {
    "date": "t.full_date",
    "order_id": "f.order_id",
    "customer": "c.customer_name",
    "segment": "c.segment",
    "city": "l.city",
    "state": "l.state",
    "product": "p.product_name",
    "category": "p.category",
    "sales": "f.sales",
    "quantity": "f.quantity",
    "discount": "f.discount",
    "profit": "f.profit",
    "status": "f.status",
    "returned_sales": "f.returned_sales",
}
Order = Literal["asc", "desc"]
ORDERS: tuple[Order, ...] = ("asc", "desc")

COLUMNS = (
    "order_id", "line_number", "order_date", "customer_id", "customer_name", "segment",
    "city", "state", "region", "product_id", "product_name", "category", "sub_category",
    "sales", "quantity", "discount", "profit", "status", "returned_sales",
)  # fmt: skip

_SELECT = f"""SELECT f.order_id, f.line_number, t.full_date AS order_date, c.customer_id,
    c.customer_name, c.segment, l.city, l.state, l.region, p.product_id, p.product_name,
    p.category, p.sub_category, f.sales, f.quantity, f.discount, f.profit,
    coalesce(f.status, 'sold') AS status, coalesce(f.returned_sales, 0) AS returned_sales
    {FACTS} {WHERE}"""
_PAGE = {
    (key, order): f"""{_SELECT} ORDER BY {column} {order.upper()} NULLS LAST, f.line_key
        LIMIT %(limit)s OFFSET %(offset)s"""
    for key, column in SORTS.items()
    for order in ("asc", "desc")
}
_TOTALS = f"""SELECT count(*) AS lines, count(DISTINCT f.order_id) AS orders,
    coalesce(sum(f.sales), 0) AS sales, coalesce(sum(f.profit), 0) AS profit,
    coalesce(sum(f.quantity), 0) AS quantity,
    coalesce(sum(f.returned_sales), 0) AS returns {FACTS} {WHERE}"""


def lines(
    cubes: Cubes,
    reader: WarehouseReader,
    filters: Filters,
    detail: dict[str, Any],
    sort: str,
    order: Order,
    page: int,
    size: int,
) -> dict[str, Any]:
    """One page of lines under the filters (plus `detail`: sub-category, product, ...)."""
    params = detail_params(cubes, filters, detail)
    (totals,) = reader.rows(_TOTALS, params)
    rows = reader.rows(_PAGE[(sort, order)], params | {"limit": size, "offset": (page - 1) * size})
    return {
        "totals": totals,
        "page": page,
        "size": size,
        "pages": max(1, -(-int(totals["lines"]) // size)),
        "sort": sort,
        "order": order,
        "rows": rows,
    }


def lines_csv_rows(
    cubes: Cubes,
    reader: WarehouseReader,
    filters: Filters,
    detail: dict[str, Any],
    sort: str,
    order: Order,
) -> tuple[int, Iterator[dict[str, Any]]]:
    """Every line (up to CSV_LIMIT) in the chosen order: (lines under the filters, rows)."""
    params = detail_params(cubes, filters, detail)
    (totals,) = reader.rows(_TOTALS, params)
    count = int(totals["lines"])
    if count > CSV_LIMIT:
        return count, iter(())
    rows = reader.rows(_PAGE[(sort, order)], params | {"limit": CSV_LIMIT, "offset": 0})
    return count, iter(rows)
