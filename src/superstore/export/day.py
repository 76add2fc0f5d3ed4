"""Exporting days: one consistent snapshot, three tables, verified, then published.

All days of one call are read from ONE read-only REPEATABLE READ snapshot
(see ``snapshot.py``), so a range or a full backfill is a single point-in-time
picture of the database and costs two connections in all. Exports to the same
lake are serialised with a transaction-scoped advisory lock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from decimal import Decimal
from typing import Any

import psycopg
from fsspec import AbstractFileSystem

from superstore import __version__
from superstore.clients import PgConfig
from superstore.errors import FatalError, TransientError
from superstore.export.dump import TableDump, dump_table
from superstore.export.layout import CUSTOMERS, ORDERS, PRODUCTS
from superstore.export.manifest import Manifest, order_stats
from superstore.export.publish import check_written, discard, publish, temp_path
from superstore.oltp import Snapshot, day_totals_sql, open_snapshot, order_dates, try_lock_export
from superstore.storage import LakeConfig, lake_errors

__all__ = ["export_day", "export_days"]

OnDay = Callable[[Manifest, int, int], None]
_ORDER_KEEP = ("order_id", "order_date", "sales", "profit")
_Small = tuple[tuple[int, Decimal] | None, TableDump, TableDump]


def export_day(pg: PgConfig, lake: LakeConfig, day: dt.date) -> Manifest:
    """Export one day's orders, customers and products; returns the published manifest."""
    return export_days(pg, lake, [day])[0]


def export_days(
    pg: PgConfig,
    lake: LakeConfig,
    days: Sequence[dt.date] | None = None,
    on_day: OnDay | None = None,
) -> list[Manifest]:
    """Export each of ``days`` (every distinct order date when None) from one snapshot.

    ``on_day(manifest, done, total)`` is called after each published partition.
    A day with no orders still gets a partition (zero rows, ``lines: 0``).
    """
    fs = lake.fs()
    with open_snapshot(pg) as snap:
        _lock_lake(snap.main, lake)
        todo = sorted(set(days)) if days is not None else order_dates(snap.main)
        manifests = []
        for done, day in enumerate(todo, start=1):
            manifests.append(_export_one(snap, lake, fs, day))
            if on_day:
                on_day(manifests[-1], done, len(todo))
    return manifests


def _lock_lake(conn: psycopg.Connection, lake: LakeConfig) -> None:
    if not try_lock_export(conn, lake.url):
        raise TransientError(
            f"another export to {lake.url} is running", hint="wait for it and try again"
        )


def _export_one(snap: Snapshot, lake: LakeConfig, fs: AbstractFileSystem, day: dt.date) -> Manifest:
    tmp = temp_path(lake, day)
    small: Future[_Small] | None = None
    try:
        with lake_errors(lake, f"writing {tmp}"):
            if snap.pool:  # the small reads run beside the big COPY
                small = snap.pool.submit(_dump_small, snap.helper, day, fs, tmp)
            orders = dump_table(snap.main, ORDERS, day, fs, tmp, keep=_ORDER_KEEP)
            expected, customers, products = (
                small.result() if small else _dump_small(snap.helper, day, fs, tmp)
            )
            manifest = _manifest(day, orders, customers, products, snap.info)
            _cross_check(manifest, expected)
            check_written(fs, tmp, manifest.files)
        publish(lake, fs, tmp, manifest)
    except BaseException:
        if small is not None and not small.cancel():
            wait([small])  # never delete files the side connection is still writing
        discard(lake, fs, tmp)
        raise
    return manifest


def _dump_small(conn: psycopg.Connection, day: dt.date, fs: Any, tmp: str) -> _Small:
    expected = conn.execute(day_totals_sql(day)).fetchone()
    customers = dump_table(conn, CUSTOMERS, day, fs, tmp)
    products = dump_table(conn, PRODUCTS, day, fs, tmp)
    return expected, customers, products


def _manifest(
    day: dt.date,
    orders: TableDump,
    customers: TableDump,
    products: TableDump,
    snapshot: dict[str, str],
) -> Manifest:
    stats = order_stats(orders.kept_table())
    return Manifest(
        date=day,
        lines=stats["lines"],
        orders=stats["orders"],
        customers=customers.rows,
        products=products.rows,
        sales=stats["sales"],
        profit=stats["profit"],
        min_order_date=stats["min_order_date"],
        max_order_date=stats["max_order_date"],
        files={**orders.files, **customers.files, **products.files},
        snapshot=snapshot,
        exported_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        tool=f"superstore {__version__}",
    )


def _cross_check(manifest: Manifest, expected: tuple[int, Decimal] | None) -> None:
    """The files must agree with an aggregate over the same snapshot, to the last decimal."""
    lines, sales = expected or (0, Decimal(0))
    if (manifest.lines, manifest.sales) != (lines, sales):
        raise FatalError(
            f"export of {manifest.date} disagrees with the database: files hold "
            f"{manifest.lines} lines / sales {manifest.sales}, the snapshot has {lines} / {sales}"
        )
