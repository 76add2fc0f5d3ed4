"""`superstore run`: the whole pipeline, supervised, in one process.

Threads: continuous ingestion, the dashboard server, and (in the main thread)
the scheduler that exports + loads each finished day, catching up missed
days after downtime. A failed step is retried with backoff and alerted; it
never stops ingestion. Ctrl-C / SIGTERM stop everything cleanly.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import psycopg

from superstore.check import Report, run_check
from superstore.contract import Expectations
from superstore.errors import BusyError, SuperstoreError
from superstore.etl import behind_in_warehouse
from superstore.export import list_partitions
from superstore.ingest import BatchReport, IngestOptions, Ingestor
from superstore.oltp import (
    day_marks,
    known_categories,
    last_mark,
    migrate,
    order_dates,
    rejected_count,
    stale_days,
)
from superstore.ops import metrics, pipeline
from superstore.ops.alerts import Alert, Alerter
from superstore.ops.scheduler import Clock, RunState, due_days, latest_finished_day, system_clock
from superstore.ops.status import consumer_lag
from superstore.ops.sync import Syncer, run_sync_until
from superstore.retry import Backoff
from superstore.settings import Settings
from superstore.stack import INGEST_ROLE, READER_ROLE, kafka_config, pg_config
from superstore.storage import LakeConfig
from superstore.warehouse import warehouse_config
from superstore.web import serve_until

__all__ = ["Supervisor", "SupervisorOptions"]

log = logging.getLogger(__name__)
BUSY_RETRY = 5.0  # seconds: another process holds the lake (the sync): try again then


@dataclass(frozen=True)
class SupervisorOptions:
    """What `run` starts; `every` (seconds) also refreshes today's data for demos."""

    ingest: bool = True
    serve: bool = True
    sync: bool = True  # continuous sync of changed days (export + load)
    every: float | None = None
    tick: float = 30.0
    max_backoff: float = 600.0


class Supervisor:
    """Runs ingest + serve in threads and the daily scheduler in the calling thread."""

    def __init__(
        self,
        settings: Settings,
        options: SupervisorOptions | None = None,
        clock: Clock = system_clock,
        alerter: Alerter | None = None,
        export_days: Callable[[list[dt.date]], object] | None = None,
        etl_days: Callable[[list[dt.date]], object] | None = None,
        reconcile: Callable[[dt.date], Report] | None = None,
        lag: Callable[[], dict[int, int]] | None = None,
    ) -> None:
        self.settings = settings
        self.options = options or SupervisorOptions()
        self.clock = clock
        self.alerter = alerter or Alerter.from_settings(settings)
        self.stop = threading.Event()
        self._export = export_days or (lambda days: pipeline.export_days_step(days, settings))
        self._etl = etl_days or (lambda days: pipeline.etl_days_step(days, settings))
        # With the continuous sync on, the daily close is a sync pass bounded by the day:
        # under the same lock (never alongside the sync thread), and only what changed.
        self._through_sync = self.options.sync and export_days is None and etl_days is None
        self._reconcile = reconcile or self._run_check
        self._lag = lag or self._read_lag
        self._last_rejected: int | None = None
        self._lag_alerted = False
        self._known: set[tuple[str, str]] = set()
        self._new_values: list[tuple[str, str]] = []
        self._state_path = settings.data_dir / "run_state.json"
        self._step_backoff = Backoff(first=5.0, maximum=self.options.max_backoff)
        self._next_try = 0.0
        self._threads: list[threading.Thread] = []
        self.cycles = 0

    # -- lifecycle -------------------------------------------------------
    def install_signal_handlers(self) -> None:
        """Ctrl-C / SIGTERM: finish the current step, stop every thread."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop.set())

    def start_background(self) -> None:
        """Start ingestion and the dashboard server threads (as configured)."""
        if self.options.ingest:
            self._spawn("ingest", self._run_ingest)
        if self.options.serve:
            self._spawn("serve", self._run_serve)
        if self.options.sync:
            self._spawn("sync", lambda: run_sync_until(self.settings, self.stop))

    def run(self, max_cycles: int | None = None) -> None:
        """Schedule until stopped (or `max_cycles` scheduler cycles, for tests)."""
        self.prepare_schema()
        self.start_background()
        try:
            while not self.stop.is_set():
                self.watch()
                self.cycle()
                if max_cycles is not None and self.cycles >= max_cycles:
                    break
                self.stop.wait(self.options.every or self.options.tick)
        finally:
            self.stop.set()
            for thread in self._threads:
                thread.join(timeout=60)

    def prepare_schema(self) -> None:
        """Bring the OLTP schema up before any thread reads it, so none queries missing tables.

        Waits (stop-aware, with backoff) while PostgreSQL is unreachable; a database
        that refuses the migration (no DDL right) is left to the ingest to report.
        """
        backoff = Backoff(first=1.0, maximum=self.options.max_backoff)
        while not self.stop.is_set():
            try:
                migrate(pg_config(self.settings))
                return
            except psycopg.OperationalError as exc:
                delay = backoff.next()
                log.warning("PostgreSQL not reachable (%s); retrying in %.0fs", exc, delay)
                self.stop.wait(delay)
            except psycopg.Error as exc:
                log.warning("could not bring the schema up (%s); the ingest will retry", exc)
                return

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        def guarded() -> None:
            backoff = Backoff(first=1.0, maximum=self.options.max_backoff)
            while not self.stop.is_set():
                try:
                    target()
                    return
                except Exception as exc:  # a crashed component is restarted, and alerted
                    delay = backoff.next()
                    log.exception("%s crashed; restarting in %.0fs", name, delay)
                    self.alerter.send(Alert("step_failed", f"{name} crashed: {exc}"))
                    if self.stop.wait(delay):
                        return

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _run_ingest(self) -> None:
        self._known = self._known_categories()
        options = IngestOptions(expect=Expectations.from_settings(self.settings))
        ingestor = Ingestor(
            kafka_config(self.settings),
            pg_config(self.settings, INGEST_ROLE),  # DML only: prepare_schema migrated as owner
            options,
            on_batch=self._record_batch,
            stop=self.stop,
        )
        ingestor.run()

    def _record_batch(self, report: BatchReport) -> None:
        """Every committed ingest batch into the metrics; new categories queued for an alert.

        Runs in the ingest's thread, so it only counts and queues; `watch` sends.
        """
        metrics.observe_batch(report.consumed, report.written, report.rejected, report.seconds)
        metrics.set_lag(report.lag)
        if not report.categories:
            return
        new = [
            (field, value)
            for pair in report.categories
            for field, value in zip(("category", "sub-category"), pair, strict=True)
            if (field, value) not in self._known
        ]
        alert = bool(self._known)  # a store's very first products are its baseline
        self._known.update(new)
        metrics.observe_categories(report.categories)
        if alert and new:
            self._new_values.extend(new)

    def _known_categories(self) -> set[tuple[str, str]]:
        try:
            with pg_config(self.settings).connect(autocommit=True) as conn:
                pairs = known_categories(conn)
        except Exception:  # schema not there yet: the first products become the baseline
            return set()
        return {("category", c) for c, _ in pairs} | {("sub-category", s) for _, s in pairs}

    def _run_serve(self) -> None:
        serve_until(self.settings, self.stop, metrics.REGISTRY)

    # -- scheduling ------------------------------------------------------
    def cycle(self) -> list[dt.date]:
        """One scheduler pass: export + load every due day (and today with --every)."""
        self.cycles += 1
        now = self.clock()
        today = now.astimezone(ZoneInfo(self.settings.timezone)).date()
        state = RunState.load(self._state_path, today)
        if not self._state_path.exists():
            # First run over an existing lake (e.g. after `export --all` + `etl --all`):
            # what is already partitioned counts as done; later days are caught up.
            state.done_through = self._last_partition(
                latest_finished_day(now, self.settings.timezone, self.settings.schedule_time)
            )
            state.save(self._state_path)
        latest = latest_finished_day(now, self.settings.timezone, self.settings.schedule_time)
        days = due_days(state.done_through, latest, state.first_run_day, self._days_with_orders())
        if self.options.every:
            days = sorted(set(days) | {today})  # demo: today's data so far, refreshed
        if not days or time.monotonic() < self._next_try:
            return []
        try:
            if self._through_sync:
                self._sync_through(days, today)
            else:
                log.info("running export + etl for %d day(s): %s..%s", len(days), days[0], days[-1])
                self._export(days)
                self._etl(days)
        except BusyError as exc:  # the continuous sync is exporting this lake: our turn soon
            log.info("export/etl of %s..%s waits: %s", days[0], days[-1], exc)
            self._next_try = time.monotonic() + BUSY_RETRY
            return []
        except (SuperstoreError, OSError) as exc:
            self._failed(days, exc)
            return []
        finished = [d for d in days if d <= latest]
        if finished:
            state.done_through = max(finished)
            state.save(self._state_path)
            self._check(max(finished))
        self._step_backoff = Backoff(first=5.0, maximum=self.options.max_backoff)
        self._next_try = 0.0
        return days

    # -- watching: DLQ growth, lag, reconciliation -------------------------
    def watch(self) -> None:
        """Alert on new categories, dead-letter growth and consumer lag above the thresholds."""
        if self._new_values:
            values, self._new_values = self._new_values, []
            shown = ", ".join(f"{field} {value!r}" for field, value in values[:10])
            self.alerter.send(
                Alert("new_category", f"first lines with {shown}", {"values": len(values)})
            )
        rejected = self._rejected_count()
        if rejected is not None:
            grown = rejected - (
                self._last_rejected if self._last_rejected is not None else rejected
            )
            if self.settings.alert_dlq_growth and grown >= self.settings.alert_dlq_growth:
                self.alerter.send(
                    Alert("dlq_growth", f"{grown} messages dead-lettered since the last check",
                          {"rejected_lines": rejected})
                )  # fmt: skip
            self._last_rejected = rejected
        try:
            lag = sum(self._lag().values())
        except Exception as exc:  # broker unreachable: the ingest thread logs and retries
            log.debug("lag unavailable: %s", exc)
            return
        high = lag > self.settings.alert_lag_threshold
        if high and not self._lag_alerted:
            self.alerter.send(Alert("lag_high", f"consumer lag is {lag:,} messages"))
        self._lag_alerted = high

    def _sync_through(self, days: list[dt.date], today: dt.date) -> None:
        """Export and load what changed up to the last due day, as one sync pass."""
        syncer = Syncer(self.settings, self.stop)
        result = syncer.sync_once(include_hot=today in days, until=days[-1], wait=60.0)
        if result.busy:
            raise BusyError("the continuous sync is in a pass over this lake")
        log.info(
            "daily close through %s: %d day(s) exported, %d loaded (the others were in sync)",
            days[-1], len(result.exported), len(result.loaded),
        )  # fmt: skip

    def _check(self, until: dt.date) -> None:
        """Reconcile every layer up to `until`; alert on what disagrees.

        Without the lake's sync lock: the check replays the topic, which takes
        seconds to minutes as history grows, and holding the lock that long (13 s
        at the data set's size, measured) stalled every change's way to
        /analytics. A day the continuous sync may touch meanwhile can look
        different without being wrong, so a differing day counts as pending, not
        as a mismatch, when it was stale or behind in the warehouse before or
        after the check, or changed while it ran (its mark is newer than the
        newest one at the start). Any other day kept one mark, one partition and
        one load throughout, so its difference is real.
        """
        try:
            before, first_mark = self._unsettled()
            report = self._reconcile(until)
            pending: set[dt.date] = set()
            if report.differences and self._through_sync:
                after, _ = self._unsettled()
                with pg_config(self.settings, READER_ROLE).connect(autocommit=True) as conn:
                    marks = day_marks(conn, [d.day for d in report.differences])
                changed = {day for day, mark in marks.items() if mark > first_mark}
                pending = before | after | changed
            differences = [d for d in report.differences if d.day not in pending]
        except (SuperstoreError, OSError, psycopg.Error) as exc:
            log.warning("reconciliation could not run: %s", exc)
            return
        if differences or report.problems:
            diffs = [d.describe() for d in differences[:5]] + list(report.problems)
            log.warning("reconciliation up to %s: %s", until, "; ".join(diffs)[:500])
            self.alerter.send(
                Alert("reconciliation_mismatch", f"layers disagree up to {until}",
                      {"first": "; ".join(diffs)[:500]})
            )  # fmt: skip

    def _unsettled(self) -> tuple[set[dt.date], int]:
        """Days a sync pass may touch now (stale in the lake, behind in the warehouse),
        and the newest change mark so far. Nothing without the sync thread."""
        if not self._through_sync:
            return set(), 0
        lake = LakeConfig.from_settings(self.settings)
        with pg_config(self.settings, READER_ROLE).connect(autocommit=True) as conn:
            mark = last_mark(conn)
            days = {s.day for s in stale_days(conn, lake.url)}
            with warehouse_config(self.settings).open() as warehouse:
                days |= set(behind_in_warehouse(conn, lake, warehouse))
        return days, mark

    def _run_check(self, until: dt.date) -> Report:
        """`run_check` in a child process.

        It replays the whole topic, seconds to minutes of Python: in this process it
        held the GIL from the dashboards' event loop and the sync for that long
        (/today's p99 rose past a second while it ran, measured). A spawned child
        shares nothing but the settings; it only reads.
        """
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            report: Report = pool.apply(run_check, (self.settings,), {"until": until})
        return report

    def _read_lag(self) -> dict[int, int]:
        return consumer_lag(self.settings, "superstore-ingest")

    def _rejected_count(self) -> int | None:
        try:
            with pg_config(self.settings).connect(autocommit=True) as conn:
                return rejected_count(conn)
        except Exception:  # schema not there yet, or server down (ingest waits for it)
            return None

    def _failed(self, days: list[dt.date], exc: Exception) -> None:
        backoff = self._step_backoff.next()
        self._next_try = time.monotonic() + backoff
        attempt = self._step_backoff.failures
        log.error(
            "export/etl of %s..%s failed (%s); retry in %.0fs", days[0], days[-1], exc, backoff
        )
        self.alerter.send(
            Alert(
                "step_failed",
                f"export/etl of {days[0]}..{days[-1]} failed (attempt {attempt})",
                {"error": str(exc)[:300], "retry_in_s": round(backoff)},
            )
        )

    def _last_partition(self, latest: dt.date) -> dt.date | None:
        try:
            days = [
                d for d in list_partitions(LakeConfig.from_settings(self.settings)) if d <= latest
            ]
        except SuperstoreError:
            return None
        return max(days) if days else None

    def _days_with_orders(self) -> list[dt.date]:
        try:
            with pg_config(self.settings).connect(autocommit=True) as conn:
                return order_dates(conn)
        except SuperstoreError as exc:
            log.warning("cannot list order dates yet: %s", exc)
            return []
        except Exception as exc:  # tables not created yet (ingest has not started)
            log.info("no orders table yet: %s", type(exc).__name__)
            return []
