"""One batch's lines and events into the OLTP tables, inside the batch's transaction.

Staging is narrow (superstore.oltp.staging): each order, customer and product
version is COPYed once per batch; then set-based upserts. The orders upsert
returns the orders it inserted: their lines cannot be stored yet, so they are
COPYed straight into `order_lines` (the fast path, nearly every line of a
stream); lines of orders stored before (a correction, a late line, a replay)
go through the upsert, so a replayed line replaces itself and never adds its
sales twice, and no statement of normal operation raises an error. Events are
logged and settled (superstore.oltp.events); every day a statement changed is
then marked (superstore.oltp.changes).

Customer attributes: when two lines of one batch disagree on a customer's name
or segment, the line with the latest offset wins (the one Kafka delivered
last), as a later batch would win over an earlier one. A product version is
staged once with its earliest order date; its category is the one first seen.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any, NamedTuple

import psycopg

from superstore.contract import WireLine
from superstore.oltp import staging as sql
from superstore.oltp.changes import mark_changed_days
from superstore.oltp.events import EVENT_COLUMNS, INSERT_EVENTS, SETTLE, StagedEvent, event_rows
from superstore.oltp.records import StagedLine

__all__ = ["TrackingNeeded", "Written", "stage", "upsert_staged"]

_LINE_FIELDS = attrgetter(*sql.LINE_COLUMNS)  # line -> tuple of its columns, in C
_ORDER_FIELDS = attrgetter(*sql.ORDER_COLUMNS)
_CUSTOMER_FIELDS = attrgetter(*sql.CUSTOMER_COLUMNS)
_PRODUCT_FIELDS = attrgetter(*sql.PRODUCT_COLUMNS)
_STAGED_LINE = (*sql.LINE_COLUMNS, "src_topic", "src_partition", "src_offset")
_STAGED_PRODUCT = (*sql.PRODUCT_COLUMNS[:-1], "first_order_date")

Row = tuple[Any, ...]


class Written(NamedTuple):
    """What a batch's statements did beyond storing rows."""

    days: list[dt.date]  # the order dates whose data changed (now marked)
    categories: list[tuple[str, str]]  # (category, sub-category) of new product versions


class TrackingNeeded(Exception):
    """The batch has days to start tracking: redo it holding TRACKING_LOCK exclusively."""


def stage(
    conn: psycopg.Connection,
    lines: Iterable[StagedLine],
    *,
    with_lines: bool = True,
    events: Sequence[StagedEvent] = (),
) -> list[Row]:
    """COPY a batch into the session's staging tables (inside the current transaction).

    Each order, customer and product version is kept once per batch (the latest
    line's order and customer, the product version's earliest order date) and
    COPYed to its staging table. Returns the lines' rows (their own columns and
    Kafka coordinates), COPYed to stage_lines too unless `with_lines` is False.
    Values are the wire's text (money, dates) and ints; PostgreSQL types them.
    """
    orders: dict[str, WireLine] = {}
    customers: dict[str, WireLine] = {}
    products: dict[tuple[str, str], WireLine] = {}
    rows: list[Row] = []
    append = rows.append
    for doc, _, topic, partition, offset in lines:
        append((*_LINE_FIELDS(doc), topic, partition, offset))
        orders[doc.order_id] = doc
        customers[doc.customer_id] = doc
        version = (doc.product_id, doc.product_name)
        first = products.get(version)
        if first is None or doc.order_date < first.order_date:
            products[version] = doc
    conn.execute(sql.STAGE_DDL)
    for table, columns, fields, docs in (
        ("stage_orders", sql.ORDER_COLUMNS, _ORDER_FIELDS, orders),
        ("stage_customers", sql.CUSTOMER_COLUMNS, _CUSTOMER_FIELDS, customers),
        ("stage_products", _STAGED_PRODUCT, _PRODUCT_FIELDS, products),
    ):
        _copy(conn, table, columns, map(fields, docs.values()))
    if with_lines:
        _copy(conn, "stage_lines", _STAGED_LINE, rows)
    if events:
        _copy(conn, "stage_events", EVENT_COLUMNS, event_rows(events))
    return rows


def _copy(
    conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterable[Row]
) -> None:
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        write_row = copy.write_row
        for row in rows:
            write_row(row)


def _copy_new(conn: psycopg.Connection, rows: list[Row]) -> None:
    """Lines of orders this batch inserted, COPYed straight into order_lines.

    None can be stored already (its order was not), so the COPY cannot conflict;
    the savepoint is a safety net for a database edited by hand (a line without
    its order), whose lines then take the upsert. Measured per line: 5.3 us
    against 8.1 us for COPY into stage_lines plus INSERT ... SELECT.
    """
    try:
        with conn.transaction():
            _copy(conn, "order_lines", _STAGED_LINE, rows)
            return
    except psycopg.errors.UniqueViolation:
        pass
    _copy(conn, "stage_lines", _STAGED_LINE, rows)
    conn.execute(sql.LINES_WRITTEN)


_INSERT_TOTALLED = sql.lines_totalled(sql.LINES_INSERT)
_UPSERT_TOTALLED = sql.lines_totalled(sql.LINES_UPSERT)


def upsert_staged(
    conn: psycopg.Connection,
    *,
    exclusive: bool = False,
    rows: list[Row] | None = None,
    events: bool = False,
) -> Written:
    """Move the staging tables into the OLTP tables and the day totals, idempotently.

    Must run in a transaction holding TRACKING_LOCK (shared, or exclusive when
    `exclusive`). Raises TrackingNeeded, before anything is written, when the
    batch holds a day to start tracking and the lock is only shared: the caller
    rolls back and redoes the batch holding the lock exclusively. `rows`: the
    lines' rows when they are not in stage_lines yet (see `stage`); `events`:
    stage_events holds the batch's events.
    """
    days = conn.execute(sql.BATCH_DAYS).fetchall()
    untracked = [day for day, tracked in days if not tracked]
    if untracked and not exclusive:
        raise TrackingNeeded()
    customers, products = sql.PARENTS
    conn.execute(customers)
    versions = [(str(c), str(s)) for c, s in conn.execute(products).fetchall()]
    inserted = conn.execute(sql.ORDERS_WRITTEN).fetchall()  # (order_id, order_date)
    fresh, stored = _split(rows, {order_id for order_id, _ in inserted})
    if not days:  # no tracked day (a backfill of old days): no totals to keep
        if fresh:
            _copy_new(conn, fresh)
        if stored or rows is None:
            if stored:
                _copy(conn, "stage_lines", _STAGED_LINE, stored)
            conn.execute(sql.LINES_WRITTEN)
    else:
        if rows is not None:
            _copy(conn, "stage_lines", _STAGED_LINE, rows)
        if untracked:
            conn.execute(sql.TRACK_DAYS, {"days": untracked})
        tracked = {day for day, _ in days}
        counts = Counter(day for _, day in inserted if day in tracked)
        params = {
            "tracked": sorted(tracked),
            "days": sorted(counts),
            "new_orders": [counts[d] for d in sorted(counts)],
        }
        # Every line new (all of its orders are): a plain INSERT; else the upsert.
        conn.execute(
            _INSERT_TOTALLED if rows is not None and not stored else _UPSERT_TOTALLED, params
        )
    if events:
        conn.execute(INSERT_EVENTS)
    for statement in SETTLE:
        conn.execute(statement)
    return Written(mark_changed_days(conn), versions)


def _split(rows: list[Row] | None, new_orders: set[str]) -> tuple[list[Row], list[Row]]:
    """The rows of orders the batch inserted (first), and the rest."""
    if rows is None:
        return [], []
    fresh = [row for row in rows if row[0] in new_orders]
    if len(fresh) == len(rows):
        return rows, []
    return fresh, [row for row in rows if row[0] not in new_orders]
