"""/today's numbers, read from the PostgreSQL OLTP tables in one consistent snapshot.

One snapshot per day serves every browser watching it: the live hub
recomputes it once per committed ingest transaction (NOTIFY), not once per
client. Queries are constant SQL with the day as a bound parameter; two
passes over the day's lines (by product version, by order) give every number.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

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
    last_update: dt.datetime | None = Field(description="When the day's latest line was stored.")
    generated_at: dt.datetime


# Two passes over the day's lines instead of one per widget: recomputed at every
# committed ingest transaction, the snapshot's cost is the freshness of /today
# (bench/freshness.py). Aggregating before joining lets PostgreSQL use hash
# aggregates on the lines and join only the aggregated rows (product versions,
# 10 orders, whose lines and sales are then read by primary key); every total
# stays exact NUMERIC arithmetic in PostgreSQL.
_BY_PRODUCT = """
SELECT product_id, product_name, category, sales, category_sales, day_lines, day_sales,
       day_last, rank
FROM (
    SELECT t.product_id, t.product_name, p.category, t.sales,
           sum(t.sales) OVER (PARTITION BY p.category) AS category_sales,
           row_number() OVER (PARTITION BY p.category) AS in_category,
           row_number() OVER (ORDER BY t.sales DESC, t.product_id, t.product_name) AS rank,
           sum(t.lines) OVER () AS day_lines, sum(t.sales) OVER () AS day_sales,
           max(t.last) OVER () AS day_last
    FROM (
        SELECT l.product_id, l.product_name, count(*) AS lines, sum(l.sales) AS sales,
               max(l.ingested_at) AS last
        FROM orders o
        JOIN order_lines l ON l.order_id = o.order_id
        WHERE o.order_date = %(day)s
        GROUP BY l.product_id, l.product_name
    ) t
    LEFT JOIN products p ON p.product_id = t.product_id AND p.product_name = t.product_name
) ranked
WHERE rank <= %(top)s OR in_category = 1
ORDER BY rank
"""

_BY_ORDER = """
WITH per_order AS (
    SELECT l.order_id, max(l.ingested_at) AS at
    FROM orders o
    JOIN order_lines l ON l.order_id = o.order_id
    WHERE o.order_date = %(day)s
    GROUP BY l.order_id
), latest AS (
    SELECT * FROM per_order ORDER BY at DESC, order_id DESC LIMIT %(limit)s
)
SELECT n.orders, lt.order_id, c.customer_name, o.city, o.state, s.lines, s.sales, lt.at
FROM (SELECT count(*) AS orders FROM per_order) n
LEFT JOIN (
    latest lt
    JOIN orders o ON o.order_id = lt.order_id
    JOIN customers c ON c.customer_id = o.customer_id
    CROSS JOIN LATERAL (
        SELECT count(*) AS lines, sum(x.sales) AS sales
        FROM order_lines x WHERE x.order_id = lt.order_id
    ) s
) ON true
ORDER BY lt.at DESC, lt.order_id DESC
"""


async def read_today(conn: AsyncConnection, day: dt.date, timezone: str) -> TodaySnapshot:
    """The day's snapshot; both queries see the same committed data."""
    async with conn.transaction():
        # REPEATABLE READ so totals, products, categories and orders agree.
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        products = await (
            await conn.execute(_BY_PRODUCT, {"day": day, "top": TOP_PRODUCTS})
        ).fetchall()
        latest = await (
            await conn.execute(_BY_ORDER, {"day": day, "limit": LATEST_ORDERS})
        ).fetchall()
    # Rows: the top products by rank, plus one row per category for its total.
    categories = {r[2]: r[4] for r in products if r[2] is not None}  # None: no products row
    lines, sales, last = products[0][5:8] if products else (0, Decimal(0), None)
    return TodaySnapshot(
        date=day,
        timezone=timezone,
        sales=sales,
        orders=latest[0][0],  # one row even for an empty day: the count, no order
        lines=int(lines),
        top_products=[
            ProductSales(product_id=r[0], product_name=r[1], sales=r[3])
            for r in products
            if r[8] <= TOP_PRODUCTS
        ],
        categories=[
            CategorySales(category=c, sales=v)
            for c, v in sorted(categories.items(), key=lambda x: (-x[1], x[0]))
        ],
        latest_orders=[
            LatestOrder(
                order_id=r[1],
                customer_name=r[2],
                city=r[3],
                state=r[4],
                lines=r[5],
                sales=r[6],
                ingested_at=r[7],
            )
            for r in latest
            if r[1] is not None
        ],
        last_update=last,
        generated_at=dt.datetime.now(dt.UTC),
    )
