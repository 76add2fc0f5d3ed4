"""Small named reads other stages ask of the OLTP store (status, scheduling, reconciliation).

Each is one constant statement; callers pass an open connection, so a
command that asks several questions pays one connection.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg

__all__ = ["DayLines", "order_dates", "orphan_counts", "rejected_count", "totals_by_day"]

DayLines = tuple[dt.date, int, int, Decimal]  # order date, lines, orders, exact sales


def order_dates(conn: psycopg.Connection) -> list[dt.date]:
    """Every distinct order date in the database, oldest first."""
    rows = conn.execute("SELECT DISTINCT order_date FROM orders ORDER BY 1").fetchall()
    return [row[0] for row in rows]


def rejected_count(conn: psycopg.Connection) -> int:
    """Messages dead-lettered into `rejected_lines` so far."""
    row = conn.execute("SELECT count(*) FROM rejected_lines").fetchone()
    return int(row[0]) if row else 0


def totals_by_day(conn: psycopg.Connection) -> list[DayLines]:
    """Lines, orders and exact sales per order date (orders join their lines)."""
    rows = conn.execute(
        "SELECT o.order_date, count(*), count(DISTINCT o.order_id), sum(l.sales)"
        " FROM order_lines l JOIN orders o USING (order_id) GROUP BY o.order_date"
    ).fetchall()
    return [(day, int(n), int(o), Decimal(s)) for day, n, o, s in rows]


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
