"""Small named reads other stages ask of the OLTP store (status, scheduling, reconciliation).

Each is one constant statement; callers pass an open connection, so a
command that asks several questions pays one connection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

import psycopg

from superstore.contract import LINE_FIELD_NAMES, OrderLine
from superstore.oltp.exports import DAY_OUTCOMES, LINE_EXPRESSIONS

__all__ = [
    "REFUSED_REASON",
    "DayLines",
    "known_categories",
    "order_dates",
    "orphan_counts",
    "read_lines",
    "refused_offsets",
    "rejected_count",
    "totals_by_day",
]

#: How a dead letter's reason starts when PostgreSQL, not the contract, refused the line.
REFUSED_REASON = "refused by PostgreSQL"

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


def refused_offsets(conn: psycopg.Connection, topic: str) -> set[tuple[int, int]]:
    """(partition, offset) of the messages of ``topic`` valid by the contract that
    PostgreSQL itself refused (dead-lettered with `REFUSED_REASON`).

    Whoever judges the topic again (check, topic stats) counts them as rejected
    too, so every layer agrees with the dead-letter queue.
    """
    rows = conn.execute(
        'SELECT partition, "offset" FROM rejected_lines WHERE topic = %s'
        " AND starts_with(reason, %s)",
        [topic, REFUSED_REASON],
    ).fetchall()
    return {(int(p), int(o)) for p, o in rows}


def read_lines(conn: psycopg.Connection, keys: Iterable[tuple[str, int]]) -> list[OrderLine]:
    """The stored lines of the natural keys `keys`, as the contract's model (absent keys skipped).

    For writers that correct a stored line (benchmarks, tools): the line as a
    message would carry it, so changing one field and sending it back is a
    correction.
    """
    wanted = list(keys)
    if not wanted:
        return []
    fields = [f for f in LINE_FIELD_NAMES if f in LINE_EXPRESSIONS]
    select = ", ".join(LINE_EXPRESSIONS[f] for f in fields)
    rows = conn.execute(
        f"""SELECT {select}
        FROM unnest(%s::text[], %s::int[]) AS k(order_id, line_number)
        JOIN order_lines l ON l.order_id = k.order_id AND l.line_number = k.line_number
        JOIN orders o ON o.order_id = l.order_id
        JOIN customers c ON c.customer_id = o.customer_id
        JOIN products p ON p.product_id = l.product_id AND p.product_name = l.product_name""",
        [[k[0] for k in wanted], [k[1] for k in wanted]],
    ).fetchall()
    return [OrderLine(**dict(zip(fields, row, strict=True))) for row in rows]


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
