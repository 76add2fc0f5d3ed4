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

from superstore.oltp.events import OUTCOME_COLUMNS

__all__ = [
    "DAY_OUTCOMES",
    "EXPORTED_COLUMNS",
    "EXPORT_LOCK",
    "day_copy_sql",
    "day_totals_sql",
    "try_lock_export",
    "unlock_export",
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
            "status": OUTCOME_COLUMNS["status"],
            "returned_quantity": OUTCOME_COLUMNS["returned_quantity"],
            "returned_sales": f"CAST({OUTCOME_COLUMNS['returned_sales']} AS numeric(18, 4))",
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
#: Each field of a line message -> its SQL over orders o, order_lines l, customers c, products p.
LINE_EXPRESSIONS: dict[str, str] = _TABLES["orders"][0]


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


# Per day: lines, exact sales, then cancelled lines and sales, returned lines and sales.
DAY_OUTCOMES = f"""count(*), coalesce(sum(l.sales), 0),
    count(*) FILTER (WHERE o.cancelled_at IS NOT NULL),
    coalesce(sum(l.sales) FILTER (WHERE o.cancelled_at IS NOT NULL), 0),
    count(*) FILTER (WHERE ({OUTCOME_COLUMNS["status"]}) IN ('returned', 'partly returned')),
    coalesce(sum({OUTCOME_COLUMNS["returned_sales"]}), 0)"""


def day_totals_sql(day: dt.date) -> str:
    """A day's lines, sales, cancelled and returned figures, to cross-check the files."""
    return f"SELECT {DAY_OUTCOMES} " + _DAY_LINES.format(day=_date_literal(day))


def _export_key(target: str) -> int:
    return zlib.crc32(target.encode()) - (1 << 31)  # signed int4


def try_lock_export(conn: psycopg.Connection, target: str) -> bool:
    """Take the export lock of ``target`` (a lake URL) for the session, if free.

    Taken BEFORE the export's snapshot, on a connection of its own: exports of
    one lake then run one after the other with ever newer snapshots, so a
    partition is never replaced by an older one. Released by
    `unlock_export`, or by the session ending (a killed exporter).
    """
    row = conn.execute(
        "SELECT pg_try_advisory_lock(%s, %s)", [EXPORT_LOCK, _export_key(target)]
    ).fetchone()
    return bool(row and row[0])


def unlock_export(conn: psycopg.Connection, target: str) -> None:
    """Let the next export of ``target`` run."""
    conn.execute("SELECT pg_advisory_unlock(%s, %s)", [EXPORT_LOCK, _export_key(target)])
