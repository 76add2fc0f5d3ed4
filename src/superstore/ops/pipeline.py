"""The daily steps as plain functions: what `superstore run` and the Airflow DAG call.

Each step is idempotent (export replaces a partition atomically, ETL merges),
times itself into the metrics, and raises a SuperstoreError on failure so the
caller retries or alerts.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from superstore.check import run_check
from superstore.errors import FatalError
from superstore.etl import engine_config, run_etl
from superstore.export import Manifest, export_days
from superstore.ops import metrics
from superstore.ops.sync import Syncer
from superstore.settings import Settings, load_settings
from superstore.stack import READER_ROLE, pg_config
from superstore.storage import LakeConfig
from superstore.warehouse import warehouse_config

__all__ = [
    "check_step",
    "etl_days_step",
    "etl_step",
    "export_days_step",
    "export_step",
    "sync_stale_step",
    "timed",
]

log = logging.getLogger(__name__)
T = TypeVar("T")


def timed(step: str, action: Callable[[], T], rows: Callable[[T], int]) -> T:
    """Run a step, recording its duration, rows and success in the metrics."""
    started = time.monotonic()
    try:
        result = action()
    except Exception:
        metrics.observe_step(step, time.monotonic() - started, 0, ok=False)
        raise
    metrics.observe_step(step, time.monotonic() - started, rows(result), ok=True)
    return result


def export_step(day: dt.date, settings: Settings | None = None) -> int:
    """Export one finished day to the lake; returns its line count."""
    return _lines(export_days_step([day], settings))


def export_days_step(days: Sequence[dt.date], settings: Settings | None = None) -> list[Manifest]:
    """Export several days from one snapshot; returns their manifests."""
    settings = settings or load_settings()
    pg, lake = pg_config(settings, READER_ROLE), LakeConfig.from_settings(settings)
    manifests = timed("export", lambda: export_days(pg, lake, list(days)), _lines)
    log.info("exported %d day(s), %d lines", len(manifests), _lines(manifests))
    return manifests


def _lines(manifests: list[Manifest]) -> int:
    """Total lines of some manifests."""
    return sum(m.lines for m in manifests)


def etl_step(day: dt.date, settings: Settings | None = None) -> int:
    """Load one exported day into the warehouse; returns its fact count."""
    return etl_days_step([day], settings)


def etl_days_step(days: Sequence[dt.date], settings: Settings | None = None) -> int:
    """Load exported days into the warehouse (MERGE, checks inside); returns lines loaded."""
    settings = settings or load_settings()
    lake = LakeConfig.from_settings(settings)

    def load() -> int:
        with (
            engine_config(settings, lake=lake).open() as engine,
            warehouse_config(settings).open() as warehouse,
        ):
            return run_etl(lake, engine, warehouse, sorted(set(days))).lines

    lines = timed("etl", load, lambda n: n)
    log.info("loaded %d day(s), %d lines into the warehouse", len(days), lines)
    return lines


def sync_stale_step(until: dt.date | None = None, settings: Settings | None = None) -> int:
    """Re-export and reload every day changed since its partition; returns how many.

    What `superstore run`'s sync loop does continuously, as one pass for a
    scheduler: the day being written included, unless `until` bounds the days
    (the daily run for a finished day); a no-op when nothing changed.
    """
    settings = settings or load_settings()
    syncer = Syncer(settings)
    result = timed("sync", lambda: syncer.sync_once(include_hot=True, until=until), lambda r: 0)
    if result.busy:
        log.info("sync: another process is syncing this lake; nothing to do here")
    days = sorted(set(result.exported) | set(result.loaded))
    log.info("synced %d changed day(s)", len(days))
    return len(days)


def check_step(day: dt.date | None = None, settings: Settings | None = None) -> None:
    """Reconcile all layers up to `day`; raises FatalError naming what disagrees."""
    settings = settings or load_settings()
    report = timed("check", lambda: run_check(settings, until=day), lambda r: 0)
    if not report.ok:
        lines = [d.describe() for d in report.differences[:10]] + report.problems
        raise FatalError("reconciliation failed: " + "; ".join(lines))
