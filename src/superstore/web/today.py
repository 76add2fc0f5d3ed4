"""/today's numbers, read from the PostgreSQL OLTP tables in one consistent snapshot.

One snapshot per day serves every browser watching it: the live hub
recomputes it once per committed ingest transaction (NOTIFY), not once per
client. Queries are constant SQL with the day as a bound parameter.
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


_TOTALS = """
SELECT count(*), count(DISTINCT l.order_id), coalesce(sum(l.sales), 0), max(l.ingested_at)
FROM orders o JOIN order_lines l ON l.order_id = o.order_id
WHERE o.order_date = %(day)s
"""

_TOP_PRODUCTS = """
SELECT l.product_id, l.product_name, sum(l.sales) AS sales
FROM orders o JOIN order_lines l ON l.order_id = o.order_id
WHERE o.order_date = %(day)s
GROUP BY l.product_id, l.product_name
ORDER BY sales DESC, l.product_id, l.product_name
LIMIT %(limit)s
"""

_CATEGORIES = """
SELECT p.category, sum(l.sales) AS sales
FROM orders o
JOIN order_lines l ON l.order_id = o.order_id
JOIN products p ON p.product_id = l.product_id AND p.product_name = l.product_name
WHERE o.order_date = %(day)s
GROUP BY p.category
ORDER BY sales DESC, p.category
"""

_LATEST = """
SELECT o.order_id, c.customer_name, o.city, o.state, count(*), sum(l.sales),
       max(l.ingested_at) AS at
FROM orders o
JOIN order_lines l ON l.order_id = o.order_id
JOIN customers c ON c.customer_id = o.customer_id
WHERE o.order_date = %(day)s
GROUP BY o.order_id, c.customer_name, o.city, o.state
ORDER BY at DESC, o.order_id DESC
LIMIT %(limit)s
"""


async def read_today(conn: AsyncConnection, day: dt.date, timezone: str) -> TodaySnapshot:
    """The day's snapshot; all four queries see the same committed data."""
    params = {"day": day, "limit": TOP_PRODUCTS}
    async with conn.transaction():
        # REPEATABLE READ so totals, products, categories and orders agree.
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        lines, orders, sales, last = await (await conn.execute(_TOTALS, params)).fetchone()
        top = await (await conn.execute(_TOP_PRODUCTS, params)).fetchall()
        categories = await (await conn.execute(_CATEGORIES, params)).fetchall()
        latest = await (
            await conn.execute(_LATEST, {"day": day, "limit": LATEST_ORDERS})
        ).fetchall()
    return TodaySnapshot(
        date=day,
        timezone=timezone,
        sales=sales,
        orders=orders,
        lines=lines,
        top_products=[ProductSales(product_id=a, product_name=b, sales=c) for a, b, c in top],
        categories=[CategorySales(category=a, sales=b) for a, b in categories],
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
