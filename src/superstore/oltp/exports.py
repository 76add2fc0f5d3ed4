"""What an export reads of one day, written as SQL by the store that owns the tables.

The lake layout (``superstore.export.layout``) names each file's columns,
their CSV headers and Arrow types; this module knows where each value lives
in the OLTP tables and which rows make up a day. An order's day is its
``order_date``; only orders that have lines count; names and categories come
from the customer row and the product VERSION of the line.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Sequence

import psycopg

__all__ = [
    "EXPORTED_COLUMNS",
    "EXPORT_LOCK",
    "day_copy_sql",
    "day_totals_sql",
    "try_lock_export",
]

EXPORT_LOCK = 0x5E5E_0005  # first key of pg_try_advisory_xact_lock(int, int) for exports

# The day's lines: orders dated D joined to their lines.
_DAY_LINES = """FROM orders o
JOIN order_lines l ON l.order_id = o.order_id
WHERE o.order_date = {day}"""
_ORDER_JOINS = """JOIN customers c ON c.customer_id = o.customer_id
JOIN products p ON p.product_id = l.product_id AND p.product_name = l.product_name
WHERE"""

# Per exported table: column name -> SQL expression, and the FROM ... ORDER BY of a day.
_TABLES: dict[str, tuple[dict[str, str], str]] = {
    "orders": (
        {
            "row_id": "l.row_id",
            "order_id": "o.order_id",
            "order_date": "o.order_date",
            "ship_date": "o.ship_date",
            "ship_mode": "o.ship_mode",
            "customer_id": "o.customer_id",
            "customer_name": "c.customer_name",
            "segment": "c.segment",
            "country": "o.country",
            "city": "o.city",
            "state": "o.state",
            "postal_code": "o.postal_code",
            "region": "o.region",
            "product_id": "l.product_id",
            "category": "p.category",
            "sub_category": "p.sub_category",
            "product_name": "l.product_name",
            "sales": "l.sales",
            "quantity": "l.quantity",
            "discount": "l.discount",
            "profit": "l.profit",
            "line_number": "l.line_number",
        },
        f"""{_DAY_LINES.replace("WHERE", _ORDER_JOINS)}
ORDER BY o.order_id, l.line_number""",
    ),
    "customers": (
        {
            "customer_id": "c.customer_id",
            "customer_name": "c.customer_name",
            "segment": "c.segment",
        },
        """FROM customers c
WHERE c.customer_id IN (SELECT o.customer_id FROM orders o WHERE o.order_date = {day})
ORDER BY c.customer_id""",
    ),
    "products": (
        {
            "product_id": "p.product_id",
            "product_name": "p.product_name",
            "category": "p.category",
            "sub_category": "p.sub_category",
        },
        # GROUP BY first: one hash aggregate over the day's lines beats a semi-join's hash.
        f"""FROM (SELECT l.product_id, l.product_name {_DAY_LINES} GROUP BY 1, 2) d
JOIN products p ON p.product_id = d.product_id AND p.product_name = d.product_name
ORDER BY p.product_id, p.product_name""",
    ),
}
EXPORTED_COLUMNS: dict[str, tuple[str, ...]] = {t: tuple(c) for t, (c, _) in _TABLES.items()}


def _date_literal(day: dt.date) -> str:
    # COPY takes no bind parameters; a date's ISO form is digits and dashes, safe to inline.
    # fromordinal() drops any time part a datetime would add to isoformat().
    return f"DATE '{dt.date.fromordinal(day.toordinal()).isoformat()}'"


def day_copy_sql(table: str, day: dt.date, headers: Sequence[tuple[str, str]]) -> str:
    """Server-side COPY of ``table``'s rows of ``day`` as CSV, columns as ``(name, header)``."""
    expressions, source = _TABLES[table]
    unknown = [name for name, _ in headers if name not in expressions]
    if unknown:
        raise KeyError(f"the OLTP store exports no column {unknown} of {table}")
    cols = ", ".join(f'{expressions[name]} AS "{header}"' for name, header in headers)
    select = f"SELECT {cols} {source.format(day=_date_literal(day))}"
    return f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER)"


def day_totals_sql(day: dt.date) -> str:
    """Lines and exact sales of ``day`` straight from the tables, to cross-check the files."""
    return "SELECT count(*), coalesce(sum(l.sales), 0) " + _DAY_LINES.format(day=_date_literal(day))


def try_lock_export(conn: psycopg.Connection, target: str) -> bool:
    """Take the export lock of ``target`` (a lake URL) for the current transaction, if free."""
    key = zlib.crc32(target.encode()) - (1 << 31)  # signed int4
    row = conn.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [EXPORT_LOCK, key]).fetchone()
    return bool(row and row[0])
