"""Exporting days: one consistent snapshot, three tables, verified, then published.

All days of one call are read from ONE read-only REPEATABLE READ snapshot
(see ``snapshot.py``), so a range or a full backfill is a single point-in-time
picture of the database and costs two connections in all. Exports to the same
lake are serialised with a transaction-scoped advisory lock.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import psycopg

from superstore import __version__
from superstore.clients import PgConfig
from superstore.errors import FatalError, TransientError
from superstore.export.dump import TableDump, dump_table
from superstore.export.lake import LakeConfig, lake_errors
from superstore.export.layout import CUSTOMERS, ORDERS, PRODUCTS, aggregate_sql
from superstore.export.manifest import Manifest, order_stats
from superstore.export.publish import check_written, discard, publish, temp_path
from superstore.export.snapshot import Snapshot, open_snapshot

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = ["EXPORT_LOCK", "export_day", "export_days", "order_dates"]

EXPORT_LOCK = 0x5E5E_0005  # first key of pg_try_advisory_xact_lock(int, int) for exports
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


def order_dates(conn: psycopg.Connection) -> list[dt.date]:
    """Every distinct order date in the database, oldest first."""
    rows = conn.execute("SELECT DISTINCT order_date FROM orders ORDER BY 1").fetchall()
    return [row[0] for row in rows]


def _lock_lake(conn: psycopg.Connection, lake: LakeConfig) -> None:
    key = zlib.crc32(lake.url.encode()) - (1 << 31)  # signed int4
    row = conn.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [EXPORT_LOCK, key]).fetchone()
    if not (row and row[0]):
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
    expected = conn.execute(aggregate_sql(day)).fetchone()
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
