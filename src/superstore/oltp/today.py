"""/today's numbers, read from the PostgreSQL OLTP tables in one consistent snapshot.

One snapshot per day serves every browser watching it: the live hub
recomputes it once per committed ingest transaction (NOTIFY), not once per
client. Queries are constant SQL with the day as a bound parameter, over the
running day totals the ingest transaction keeps (migration 003).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel, Field

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


class TodaySnapshot(BaseModel):
    """Everything /today shows. Money is exact (a decimal string in JSON)."""

    date: dt.date
    timezone: str
    sales: Decimal = Field(description="Sum of the day's line sales, exact.")
    orders: int
    lines: int
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
_BY_PRODUCT = _ranked(
    "SELECT product_id, product_name, lines, sales FROM day_product_sales"
    " WHERE order_date = %(day)s AND lines <> 0"
)

_DAY = "SELECT orders, latest_ids, last_at FROM day_totals WHERE order_date = %(day)s"

# The latest orders named by their ids, in that order, read by primary key; an
# order that has since moved to another date is left out (the caller then falls
# back to a scan).
_LATEST = """
SELECT o.order_id, c.customer_name, o.city, o.state, s.lines, s.sales, s.at
FROM unnest(%(ids)s::text[]) WITH ORDINALITY AS lt(order_id, pos)
JOIN orders o ON o.order_id = lt.order_id AND o.order_date = %(day)s
JOIN customers c ON c.customer_id = o.customer_id
CROSS JOIN LATERAL (
    SELECT count(*) AS lines, sum(x.sales) AS sales, max(x.ingested_at) AS at
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
    " WHERE o.order_date = %(day)s GROUP BY l.product_id, l.product_name"
)

_SCAN_DAY = """
SELECT count(DISTINCT o.order_id), max(l.ingested_at)
FROM orders o JOIN order_lines l ON l.order_id = o.order_id
WHERE o.order_date = %(day)s
"""


async def _one(conn: AsyncConnection, sql: str, params: dict[str, object]) -> tuple[Any, ...]:
    """The one row of an aggregate (it always has one)."""
    row = await (await conn.execute(sql, params)).fetchone()
    assert row is not None, "an aggregate without GROUP BY returns one row"
    return tuple(row)


async def read_today(conn: AsyncConnection, day: dt.date, timezone: str) -> TodaySnapshot:
    """The day's snapshot; every query sees the same committed data."""
    async with conn.transaction():
        # REPEATABLE READ so totals, products, categories and orders agree.
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        totals = await (await conn.execute(_DAY, {"day": day})).fetchone()
        if totals is None:  # not tracked: scan the day's lines
            products = await (
                await conn.execute(_SCAN_BY_PRODUCT, {"day": day, "top": TOP_PRODUCTS})
            ).fetchall()
            orders, last = await _one(conn, _SCAN_DAY, {"day": day})
            latest = []
        else:
            orders, ids, last = totals
            products = await (
                await conn.execute(_BY_PRODUCT, {"day": day, "top": TOP_PRODUCTS})
            ).fetchall()
            latest = await (
                await conn.execute(_LATEST, {"ids": ids[:LATEST_ORDERS], "day": day})
            ).fetchall()
        if len(latest) < min(LATEST_ORDERS, orders):
            ids = (await _one(conn, _LATEST_SCAN, {"day": day, "limit": LATEST_ORDERS}))[0]
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
            )
            for r in latest
        ],
        last_update=last,
        generated_at=dt.datetime.now(dt.UTC),
    )
