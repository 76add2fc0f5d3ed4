"""Exporting days: one consistent snapshot, three tables, verified, then published.

All days of one call are read from ONE read-only REPEATABLE READ snapshot
(see ``snapshot.py``), so a range or a full backfill is a single point-in-time
picture of the database and costs two connections in all. Exports to the same
lake are serialised with a transaction-scoped advisory lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from decimal import Decimal
from typing import Any

import psycopg
from fsspec import AbstractFileSystem

from superstore import __version__
from superstore.clients import PgConfig
from superstore.errors import BusyError, FatalError
from superstore.export.dump import TableDump, dump_table
from superstore.export.layout import CUSTOMERS, ORDERS, PRODUCTS
from superstore.export.manifest import Manifest, order_stats
from superstore.export.publish import check_written, discard, publish, temp_path
from superstore.faults import crash_point
from superstore.oltp import (
    Snapshot,
    day_marks,
    day_totals_sql,
    open_snapshot,
    order_dates,
    record_exports,
    try_lock_export,
    unlock_export,
)
from superstore.storage import LakeConfig, lake_errors

__all__ = ["export_day", "export_days"]

OnDay = Callable[[Manifest, int, int], None]
_ORDER_KEEP = ("order_id", "order_date", "sales", "profit", "status", "returned_sales")
_Small = tuple[tuple[object, ...] | None, TableDump, TableDump]


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
    # The lake's lock first, then the snapshot: one export after another, each newer.
    with _Recorder(pg, lake) as recorder, open_snapshot(pg) as snap:
        todo = sorted(set(days)) if days is not None else order_dates(snap.main)
        marks = day_marks(snap.main, todo)  # what this snapshot holds of each day
        manifests = []
        for done, day in enumerate(todo, start=1):
            manifests.append(_export_one(snap, lake, fs, day, marks[day]))
            crash_point("lake_after_publish")
            recorder.published(day, marks[day])
            if on_day:
                on_day(manifests[-1], done, len(todo))
    return manifests


class _Recorder:
    """Holds the lake's export lock, and records each published partition's mark.

    Its own connection, outside the read-only snapshot: it takes the lock
    before the snapshot exists, and commits the mark after each partition, so
    a crash between publishing and recording only leaves the day looking
    stale, and exporting it again is idempotent.
    """

    def __init__(self, pg: PgConfig, lake: LakeConfig) -> None:
        self._pg = pg
        self._lake = lake
        self._conn: psycopg.Connection | None = None

    def __enter__(self) -> _Recorder:
        self._conn = self._pg.connect(autocommit=True)
        try:
            locked = try_lock_export(self._conn, self._lake.url)
        except BaseException:
            self._conn.close()
            raise
        if not locked:
            self._conn.close()
            raise BusyError(
                f"another export to {self._lake.url} is running", hint="wait for it and try again"
            )
        return self

    def published(self, day: dt.date, mark: int) -> None:
        assert self._conn is not None
        record_exports(self._conn, self._lake.url, {day: mark})

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                unlock_export(self._conn, self._lake.url)
            self._conn.close()


def _export_one(
    snap: Snapshot, lake: LakeConfig, fs: AbstractFileSystem, day: dt.date, mark: int
) -> Manifest:
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
            manifest = _manifest(day, orders, customers, products, snap.info, mark)
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
    mark: int,
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
        change_mark=mark,
        cancelled_lines=stats["cancelled_lines"],
        cancelled_sales=stats["cancelled_sales"],
        returned_lines=stats["returned_lines"],
        returned_sales=stats["returned_sales"],
    )


def _cross_check(manifest: Manifest, expected: tuple[object, ...] | None) -> None:
    """The files must agree with an aggregate over the same snapshot, to the last decimal."""
    zero = (0, Decimal(0), 0, Decimal(0), 0, Decimal(0))
    want = tuple(expected) if expected else zero
    files = (
        manifest.lines, manifest.sales, manifest.cancelled_lines, manifest.cancelled_sales,
        manifest.returned_lines, manifest.returned_sales,
    )  # fmt: skip
    if files != want:
        raise FatalError(
            f"export of {manifest.date} disagrees with the database: the files hold "
            f"{files} (lines, sales, cancelled lines and sales, returned lines and sales), "
            f"the snapshot has {want}"
        )
