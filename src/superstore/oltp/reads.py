"""Small named reads other stages ask of the OLTP store (status, scheduling, reconciliation).

Each is one constant statement; callers pass an open connection, so a
command that asks several questions pays one connection.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg

from superstore.oltp.exports import DAY_OUTCOMES

__all__ = [
    "DayLines",
    "known_categories",
    "order_dates",
    "orphan_counts",
    "rejected_count",
    "rejected_offsets",
    "totals_by_day",
]

# order date, lines, orders, exact sales, cancelled lines and sales, returned lines and sales
DayLines = tuple[dt.date, int, int, Decimal, int, Decimal, int, Decimal]


def order_dates(conn: psycopg.Connection) -> list[dt.date]:
    """Every distinct order date in the database, oldest first."""
    rows = conn.execute("SELECT DISTINCT order_date FROM orders ORDER BY 1").fetchall()
    return [row[0] for row in rows]


def rejected_count(conn: psycopg.Connection) -> int:
    """Messages dead-lettered into `rejected_lines` so far."""
    row = conn.execute("SELECT count(*) FROM rejected_lines").fetchone()
    return int(row[0]) if row else 0


_TOTALS = f"""
SELECT o.order_date, count(DISTINCT o.order_id), {DAY_OUTCOMES}
FROM order_lines l JOIN orders o ON o.order_id = l.order_id
GROUP BY o.order_date
"""


def rejected_offsets(conn: psycopg.Connection, topic: str) -> set[tuple[int, int]]:
    """(partition, offset) of every dead-lettered message of ``topic``."""
    rows = conn.execute(
        'SELECT partition, "offset" FROM rejected_lines WHERE topic = %s', [topic]
    ).fetchall()
    return {(int(p), int(o)) for p, o in rows}


def known_categories(conn: psycopg.Connection) -> set[tuple[str, str]]:
    """Every (category, sub-category) of the stored products."""
    rows = conn.execute("SELECT DISTINCT category, sub_category FROM products").fetchall()
    return {(str(c), str(s)) for c, s in rows}


def totals_by_day(conn: psycopg.Connection) -> list[DayLines]:
    """Per order date: lines, orders, exact sales, and the cancelled and returned figures."""
    return [
        (day, int(lines), int(orders), Decimal(sales), int(cl), Decimal(cs), int(rl), Decimal(rs))
        for day, orders, lines, sales, cl, cs, rl, rs in conn.execute(_TOTALS).fetchall()
    ]


def orphan_counts(conn: psycopg.Connection) -> tuple[int, int]:
    """Lines without their order, and orders without their customer (both should be 0).

    The tables have no foreign keys on the ingest hot path (migrations 001 and
    002 say why), so integrity is proved by counting instead.
    """
    lines = conn.execute(
        "SELECT count(*) FROM order_lines l WHERE NOT EXISTS"
        " (SELECT 1 FROM orders o WHERE o.order_id = l.order_id)"
    ).fetchone()
    orders = conn.execute(
        "SELECT count(*) FROM orders o WHERE NOT EXISTS"
        " (SELECT 1 FROM customers c WHERE c.customer_id = o.customer_id)"
    ).fetchone()
    return int(lines[0]) if lines else 0, int(orders[0]) if orders else 0
