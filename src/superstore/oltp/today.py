"""/today's numbers, read from the PostgreSQL OLTP tables in one consistent snapshot.

One snapshot per day serves every browser watching it: the live hub
recomputes it once per committed ingest transaction (NOTIFY), not once per
client. Queries are constant SQL with the day as a bound parameter, over the
running day totals the ingest transaction keeps (migration 003).

Cancelled orders leave the day's figures (sales, lines, orders, products,
categories) the moment their cancellation is committed; returns stay in sales
and are shown beside them. The running totals count every line stored, so a
snapshot takes away the day's cancelled lines, found through the few orders
any event touched (the ``orders_with_events`` index), never a scan of the day.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel, Field

from superstore.oltp.events import OUTCOME_COLUMNS

__all__ = ["CategorySales", "LatestOrder", "ProductSales", "TodaySnapshot", "read_today"]

TOP_PRODUCTS = 5
LATEST_ORDERS = 10


class ProductSales(BaseModel):
    """One product version's sales on the day."""

    product_id: str
    product_name: str
    sales: Decimal


class CategorySales(BaseModel):
    """One category's sales on the day."""

    category: str
    sales: Decimal


class LatestOrder(BaseModel):
    """An order of the day, most recently ingested first."""

    order_id: str
    customer_name: str
    city: str
    state: str
    lines: int
    sales: Decimal
    ingested_at: dt.datetime
    status: str = Field(default="sold", description="sold, cancelled, returned or partly returned.")


class TodaySnapshot(BaseModel):
    """Everything /today shows. Money is exact (a decimal string in JSON)."""

    date: dt.date
    timezone: str
    sales: Decimal = Field(description="Sum of the day's line sales, cancelled orders left out.")
    orders: int = Field(description="Orders of the day, cancelled ones left out.")
    lines: int = Field(description="Lines of the day, cancelled orders' left out.")
    cancelled_orders: int = 0
    cancelled_sales: Decimal = Field(default=Decimal(0), description="Sales cancelled.")
    returned_orders: int = Field(default=0, description="Orders with a line returned.")
    returned_sales: Decimal = Field(
        default=Decimal(0), description="Part of `sales` returned (still counted in it)."
    )
    top_products: list[ProductSales]
    categories: list[CategorySales]
    latest_orders: list[LatestOrder]
    last_update: dt.datetime | None = Field(
        description="When the day's data last changed (a line stored or moved)."
    )
    generated_at: dt.datetime


# The top products by sales plus one row per category (its total), and the
# day's lines and sales, from per-product-version rows (product_id,
# product_name, lines, sales). Every total stays exact NUMERIC arithmetic.
def _ranked(per_product: str) -> str:
    return f"""
SELECT product_id, product_name, category, sales, category_sales, day_lines, day_sales, rank
FROM (
    SELECT t.product_id, t.product_name, p.category, t.sales,
           sum(t.sales) OVER (PARTITION BY p.category) AS category_sales,
           row_number() OVER (PARTITION BY p.category) AS in_category,
           row_number() OVER (ORDER BY t.sales DESC, t.product_id, t.product_name) AS rank,
           sum(t.lines) OVER () AS day_lines, sum(t.sales) OVER () AS day_sales
    FROM ({per_product}) t
    LEFT JOIN products p ON p.product_id = t.product_id AND p.product_name = t.product_name
) ranked
WHERE rank <= %(top)s OR in_category = 1
ORDER BY rank
"""


# A tracked day's running totals (migration 003), kept by the ingest transaction:
# a snapshot reads one row per product sold that day and one per day, never the
# day's lines, so its cost does not grow with the day (bench/freshness.py).
# Less the cancelled lines of the day, per product version.
_BY_PRODUCT = _ranked(
    "SELECT product_id, product_name, sum(lines) AS lines, sum(sales) AS sales FROM ("
    " SELECT product_id, product_name, lines, sales FROM day_product_sales"
    " WHERE order_date = %(day)s AND lines <> 0"
    " UNION ALL"
    " SELECT l.product_id, l.product_name, -count(*), -sum(l.sales)"
    " FROM orders o JOIN order_lines l ON l.order_id = o.order_id"
    " WHERE o.order_date = %(day)s AND o.events_at IS NOT NULL AND o.cancelled_at IS NOT NULL"
    " GROUP BY l.product_id, l.product_name"
    ") t GROUP BY product_id, product_name HAVING sum(lines) <> 0"
)

# The day's orders that any event touched: how many are cancelled or returned, and
# the money involved (the meaning of a status is the OLTP store's OUTCOME_COLUMNS).
_EVENTS = f"""
SELECT count(DISTINCT o.order_id) FILTER (WHERE o.cancelled_at IS NOT NULL),
       coalesce(sum(l.sales) FILTER (WHERE o.cancelled_at IS NOT NULL), 0),
       count(DISTINCT o.order_id) FILTER (WHERE o.cancelled_at IS NULL
                                          AND ({OUTCOME_COLUMNS["returned_sales"]}) > 0),
       coalesce(sum({OUTCOME_COLUMNS["returned_sales"]}), 0)
FROM orders o JOIN order_lines l ON l.order_id = o.order_id
WHERE o.order_date = %(day)s AND o.events_at IS NOT NULL
"""

_DAY = "SELECT orders, latest_ids, last_at FROM day_totals WHERE order_date = %(day)s"

# The latest orders named by their ids, in that order, read by primary key; an
# order that has since moved to another date is left out (the caller then falls
# back to a scan).
_LATEST = """
SELECT o.order_id, c.customer_name, o.city, o.state, s.lines, s.sales, s.at,
       CASE WHEN o.cancelled_at IS NOT NULL THEN 'cancelled'
            WHEN o.returned_at IS NOT NULL THEN 'returned'
            WHEN s.returned THEN 'partly returned' ELSE 'sold' END
FROM unnest(%(ids)s::text[]) WITH ORDINALITY AS lt(order_id, pos)
JOIN orders o ON o.order_id = lt.order_id AND o.order_date = %(day)s
JOIN customers c ON c.customer_id = o.customer_id
CROSS JOIN LATERAL (
    SELECT count(*) AS lines, sum(x.sales) AS sales, max(x.ingested_at) AS at,
           bool_or(x.returned_at IS NOT NULL) AS returned
    FROM order_lines x WHERE x.order_id = lt.order_id
) s
ORDER BY lt.pos
"""

# Fallback when the totals' latest list came up short (an order moved away) or
# the day is not tracked: the latest order ids from a scan of the day's lines,
# then read by _LATEST like the totals' list.
_LATEST_SCAN = """
SELECT coalesce(array_agg(order_id ORDER BY at DESC, order_id DESC), '{}')
FROM (
    SELECT l.order_id, max(l.ingested_at) AS at
    FROM orders o
    JOIN order_lines l ON l.order_id = o.order_id
    WHERE o.order_date = %(day)s
    GROUP BY l.order_id
    ORDER BY at DESC, l.order_id DESC
    LIMIT %(limit)s
) latest
"""

# A day the ingest does not track (an old day, or one written before tracking):
# the same numbers from a scan of its lines.
_SCAN_BY_PRODUCT = _ranked(
    "SELECT l.product_id, l.product_name, count(*) AS lines, sum(l.sales) AS sales"
    " FROM orders o JOIN order_lines l ON l.order_id = o.order_id"
    " WHERE o.order_date = %(day)s AND o.cancelled_at IS NULL"
    " GROUP BY l.product_id, l.product_name"
)

_SCAN_DAY = """
SELECT count(DISTINCT o.order_id) FILTER (WHERE o.cancelled_at IS NULL), max(l.ingested_at)
FROM orders o JOIN order_lines l ON l.order_id = o.order_id
WHERE o.order_date = %(day)s
"""


# A caller limited to some regions and/or states (row-level security): the same scans,
# with the order's ship-to place filtered (empty list = no limit on that dimension).
# The running totals are per day, not per place, so a scoped snapshot always scans.
PLACE = """o.order_date = %(day)s
  AND (cardinality(%(regions)s::text[]) = 0 OR o.region = ANY(%(regions)s::text[]))
  AND (cardinality(%(states)s::text[]) = 0 OR o.state = ANY(%(states)s::text[]))"""
_SCANS = {"products": _SCAN_BY_PRODUCT, "day": _SCAN_DAY, "latest": _LATEST_SCAN, "events": _EVENTS}
_PLACED = {k: sql.replace("o.order_date = %(day)s", PLACE) for k, sql in _SCANS.items()}


async def _one(conn: AsyncConnection, sql: str, params: dict[str, object]) -> tuple[Any, ...]:
    """The one row of an aggregate (it always has one)."""
    row = await (await conn.execute(sql, params)).fetchone()
    assert row is not None, "an aggregate without GROUP BY returns one row"
    return tuple(row)


async def read_today(
    conn: AsyncConnection,
    day: dt.date,
    timezone: str,
    regions: tuple[str, ...] = (),
    states: tuple[str, ...] = (),
) -> TodaySnapshot:
    """The day's snapshot, of only the orders shipped to `regions`/`states` if given.

    Every query sees the same committed data.
    """
    scoped = bool(regions or states)
    scans = _PLACED if scoped else _SCANS
    place = {"day": day, "regions": list(regions), "states": list(states)}
    async with conn.transaction():
        # REPEATABLE READ so totals, products, categories and orders agree.
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        totals = None if scoped else await (await conn.execute(_DAY, {"day": day})).fetchone()
        if totals is None:  # not tracked (or scoped): scan the day's lines
            products = await (
                await conn.execute(scans["products"], place | {"top": TOP_PRODUCTS})
            ).fetchall()
            orders, last = await _one(conn, scans["day"], place)
            latest = []
        else:
            orders, ids, last = totals
            products = await (
                await conn.execute(_BY_PRODUCT, {"day": day, "top": TOP_PRODUCTS})
            ).fetchall()
            latest = await (
                await conn.execute(_LATEST, {"ids": ids[:LATEST_ORDERS], "day": day})
            ).fetchall()
        cancelled, cancelled_sales, returned, returned_sales = await _one(
            conn, scans["events"], place
        )
        if totals is not None:
            orders -= cancelled  # the running totals count every order stored
        if len(latest) < min(LATEST_ORDERS, orders + cancelled):
            ids = (await _one(conn, scans["latest"], place | {"limit": LATEST_ORDERS}))[0]
            latest = await (await conn.execute(_LATEST, {"ids": ids, "day": day})).fetchall()
    # Rows: the top products by rank, plus one row per category for its total.
    categories = {r[2]: r[4] for r in products if r[2] is not None}  # None: no products row
    lines, sales = products[0][5:7] if products else (0, Decimal(0))
    return TodaySnapshot(
        date=day,
        timezone=timezone,
        sales=sales,
        orders=orders,
        lines=int(lines),
        cancelled_orders=cancelled,
        cancelled_sales=cancelled_sales,
        returned_orders=returned,
        returned_sales=returned_sales,
        top_products=[
            ProductSales(product_id=r[0], product_name=r[1], sales=r[3])
            for r in products
            if r[7] <= TOP_PRODUCTS
        ],
        categories=[
            CategorySales(category=c, sales=v)
            for c, v in sorted(categories.items(), key=lambda x: (-x[1], x[0]))
        ],
        latest_orders=[
            LatestOrder(
                order_id=r[0],
                customer_name=r[1],
                city=r[2],
                state=r[3],
                lines=r[4],
                sales=r[5],
                ingested_at=r[6],
                status=r[7],
            )
            for r in latest
        ],
        last_update=last,
        generated_at=dt.datetime.now(dt.UTC),
    )
