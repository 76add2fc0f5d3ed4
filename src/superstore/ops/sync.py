"""Continuous sync: days that changed are re-exported and reloaded by themselves.

Every committed ingest transaction notifies (LISTEN/NOTIFY); the syncer wakes,
waits for the burst to settle (a debounce of at most 2 s: under steady traffic
one pass gathers two seconds of changes, which bounds its cost), then makes
one pass:

1. the past days whose change mark is newer than their lake partition (the
   OLTP store's change tracking) are exported from one snapshot, and the past
   days whose partition is newer than what the warehouse loaded are loaded in
   one transaction;
2. then the same for the day being written, when its turn has come (the
   analytics pre-aggregates follow the warehouse's version by themselves).

Past days are synced at every pass. The day still being written (today, and
any later date) rides along with a pass at most every ``sync_interval``
seconds, and never more often than its own cost allows: its next turn is at
least ``_COST_FACTOR`` times what exporting and loading it took after the start
of its last one (past days are exported and loaded before it, so neither a
backlog of history delays it nor it a correction of history), so the loop's
share of a core stays bounded as the day grows. One process syncs a lake at a
time (a PostgreSQL advisory lock); a process killed at any moment leaves each
partition old or new (publishing is atomic) and each load whole or absent (one
transaction), and the next pass converges. The daily close of the finished
day (superstore.ops.supervisor) is then one pass bounded by that day, under the
same lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import psycopg

from superstore.errors import BusyError, SuperstoreError, TransientError
from superstore.etl import behind_in_warehouse, engine_config, run_etl
from superstore.export import export_days
from superstore.faults import crash_point
from superstore.oltp import NOTIFY_CHANNEL, release_sync_lock, stale_days, try_sync_lock
from superstore.ops import metrics
from superstore.retry import Backoff, short_reason
from superstore.settings import Settings
from superstore.stack import READER_ROLE, pg_config
from superstore.storage import LakeConfig
from superstore.warehouse import warehouse_config

__all__ = ["SyncPass", "Syncer", "run_sync_until", "wait_for_sync_lock"]

log = logging.getLogger(__name__)

_COST_FACTOR = 6.0  # the hot day may be synced again only after this many times its own sync
_IDLE_WAKE = 30.0  # seconds: look even without a notification (a missed one, a failed pass)


@dataclass
class SyncPass:
    """What one pass did."""

    exported: list[dt.date] = field(default_factory=list)
    loaded: list[dt.date] = field(default_factory=list)
    waiting_hot: list[dt.date] = field(default_factory=list)  # stale, not due yet
    seconds: float = 0.0
    hot_seconds: float = 0.0  # of `seconds`, exporting and loading the day being written
    busy: bool = False  # another process holds the lake's sync lock


class Syncer:
    """The sync loop of `superstore run` (a thread), or one pass on demand."""

    def __init__(
        self,
        settings: Settings,
        stop: threading.Event | None = None,
        debounce: float = 2.0,
        clock: type[dt.datetime] = dt.datetime,
    ) -> None:
        self.settings = settings
        self.stop = stop or threading.Event()
        self.debounce = debounce
        self.lake = LakeConfig.from_settings(settings)
        self._clock = clock
        self._hot_due = 0.0  # monotonic time the day being written may be synced again
        self.passes = 0

    def today(self) -> dt.date:
        """The day being written, in the configured time zone."""
        return self._clock.now(ZoneInfo(self.settings.timezone)).date()

    # -- one pass ----------------------------------------------------------
    def sync_once(
        self, include_hot: bool | None = None, until: dt.date | None = None, wait: float = 0.0
    ) -> SyncPass:
        """Export and load every stale day (the hot day only when due, or when asked).

        `until`: only days up to it (a scheduler's run for a finished day). `wait`:
        seconds to wait for another pass over the lake to end (else: busy at once).
        """
        started, cpu = time.monotonic(), time.thread_time()
        hot_now = time.monotonic() >= self._hot_due if include_hot is None else include_hot
        result = SyncPass()
        pg = pg_config(self.settings, READER_ROLE)
        with pg.connect(autocommit=True) as conn:
            if not wait_for_sync_lock(conn, self.lake.url, wait, self.stop):
                result.busy = True
                return result
            try:
                self._pass(conn, hot_now, result, until)
            finally:
                release_sync_lock(conn, self.lake.url)
        result.seconds = time.monotonic() - started
        self.passes += 1
        if result.hot_seconds:  # rate-limit by the hot day's own cost, not the backlog's
            self._hot_due = started + max(
                self.settings.sync_interval, _COST_FACTOR * result.hot_seconds
            )
        metrics.observe_sync(
            result.seconds, time.thread_time() - cpu, len(result.exported), len(result.loaded)
        )
        return result

    def _pass(
        self, conn: psycopg.Connection, hot_now: bool, result: SyncPass, until: dt.date | None
    ) -> None:
        today = self.today()
        stale = [s.day for s in stale_days(conn, self.lake.url)]
        result.waiting_hot = [] if hot_now else [d for d in stale if d >= today]

        def due(day: dt.date) -> bool:
            return (hot_now or day < today) and (until is None or day <= until)

        todo = [d for d in stale if due(d)]
        metrics.set_stale_days(len(stale) - len(todo))
        # Past days first, exported and loaded, then the day being written on its own,
        # timed: its cost alone paces how often it is synced again (a backlog of history
        # must not delay it), and the past days' changes never wait for its export.
        past, hot = [d for d in todo if d < today], [d for d in todo if d >= today]
        self._export(past, result)
        hot_behind = self._load(conn, lambda d: due(d) and d < today, result)
        if hot or any(d >= today and due(d) for d in hot_behind):
            started = time.monotonic()
            self._export(hot, result)
            self._load(conn, lambda d: due(d) and d >= today, result)
            result.hot_seconds += time.monotonic() - started

    def _export(self, days: list[dt.date], result: SyncPass) -> None:
        if not days:
            return
        log.info("sync: exporting %d changed day(s): %s", len(days), _days(days))
        export_days(pg_config(self.settings, READER_ROLE), self.lake, days)
        result.exported += days
        crash_point("sync_after_export")

    def _load(
        self, conn: psycopg.Connection, wanted: Callable[[dt.date], bool], result: SyncPass
    ) -> list[dt.date]:
        """Load the `wanted` days the warehouse is behind the lake on, in one transaction.

        Returns the days it is behind on that were not wanted. The warehouse is open
        only for this (the dashboards' pre-aggregates read the same file once a load
        commits).
        """
        with warehouse_config(self.settings).open() as warehouse:
            behind = behind_in_warehouse(conn, self.lake, warehouse)
            days = [d for d in behind if wanted(d)]
            if days:
                log.info("sync: loading %d day(s) into the warehouse: %s", len(days), _days(days))
                with engine_config(self.settings, lake=self.lake).open() as engine:
                    run_etl(self.lake, engine, warehouse, days)
                result.loaded += days
        return [d for d in behind if not wanted(d)]

    # -- the loop ------------------------------------------------------------
    def run(self) -> None:
        """Sync until stopped, woken by every committed ingest transaction."""
        backoff = Backoff(first=2.0, maximum=60.0)
        retry_at = 0.0
        while not self.stop.is_set():
            try:
                dsn = pg_config(self.settings, READER_ROLE).dsn
                with psycopg.connect(dsn, autocommit=True) as listen:
                    listen.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    backoff.reset()
                    while not self.stop.is_set():
                        if time.monotonic() >= retry_at:
                            retry_at = self._safe_pass(backoff)
                        self._wait(listen, retry_at)
            except psycopg.OperationalError as exc:
                delay = backoff.next()
                log.warning("sync paused, PostgreSQL: %s; again in %.0fs", short_reason(exc), delay)
                self.stop.wait(delay)

    def _safe_pass(self, backoff: Backoff) -> float:
        """One pass; a failure is logged and retried with backoff (returns when to retry)."""
        try:
            result = self.sync_once()
        except BusyError as exc:  # the daily close or a manual export holds the lake
            log.debug("sync waits: %s", exc)
            return time.monotonic() + self.settings.sync_interval
        except (SuperstoreError, OSError, psycopg.Error) as exc:
            delay = backoff.next()
            metrics.observe_sync_failure()
            log.warning("sync failed (%s); again in %.0fs", short_reason(exc), delay)
            return time.monotonic() + delay
        backoff.reset()
        if result.busy:
            log.debug("sync: another process is syncing %s", self.lake.url)
            return time.monotonic() + self.settings.sync_interval
        return 0.0

    def _wait(self, listen: psycopg.Connection, retry_at: float) -> None:
        """Until a notification (then the debounce), the hot day's turn, or the idle wake.

        After a failed pass, until its retry time: notifications do not hurry it.
        """
        now = time.monotonic()
        until = min(now + _IDLE_WAKE, self._hot_due if self._hot_due > now else now + _IDLE_WAKE)
        if retry_at > now:
            until = retry_at
        while not self.stop.is_set() and (left := until - time.monotonic()) > 0:
            woke = list(listen.notifies(timeout=min(left, 1.0), stop_after=1))  # sees `stop`
            if woke and retry_at <= time.monotonic():
                self._settle(listen)
                return

    def _settle(self, listen: psycopg.Connection) -> None:
        """Let a burst of commits end (each notifies) before syncing: at most `debounce`."""
        deadline = time.monotonic() + self.debounce
        while (left := deadline - time.monotonic()) > 0:
            if not list(listen.notifies(timeout=left, stop_after=1)):
                return


def wait_for_sync_lock(
    conn: psycopg.Connection, lake: str, wait: float, stop: threading.Event
) -> bool:
    """Take the lake's sync lock, waiting up to `wait` seconds for its holder (or `stop`).

    The caller releases it with `release_sync_lock`; False: not taken.
    """
    deadline = time.monotonic() + wait
    while not try_sync_lock(conn, lake):
        if time.monotonic() >= deadline or stop.wait(0.2):
            return False
    return True


def _days(days: list[dt.date]) -> str:
    return ", ".join(str(d) for d in days[:5]) + (
        f" and {len(days) - 5} more" if len(days) > 5 else ""
    )


def run_sync_until(settings: Settings, stop: threading.Event) -> None:
    """The sync loop of `superstore run`, until `stop` is set."""
    try:
        Syncer(settings, stop).run()
    except TransientError as exc:  # the supervisor restarts the thread, with backoff
        raise TransientError(f"the sync loop stopped: {exc}") from exc
