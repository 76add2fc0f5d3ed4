"""Prometheus metrics of the pipeline (prometheus-client), one registry per process.

`serve_metrics(port)` exposes them on /metrics; ingest, export and ETL report
through the small functions here so call sites stay one line.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = [
    "REGISTRY",
    "observe_batch",
    "observe_categories",
    "observe_step",
    "observe_sync",
    "observe_sync_failure",
    "serve_metrics",
    "set_lag",
    "set_stale_days",
]

REGISTRY = CollectorRegistry()

LINES = Counter(
    "superstore_lines_total", "Order lines by outcome.", ["outcome"], registry=REGISTRY
)  # outcome: consumed | written | rejected
BATCH_SECONDS = Histogram(
    "superstore_ingest_batch_seconds",
    "Seconds to commit one ingest batch.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
    registry=REGISTRY,
)
LAG = Gauge(
    "superstore_consumer_lag", "Messages behind the end, per partition.", ["partition"],
    registry=REGISTRY,
)  # fmt: skip
STEP_SECONDS = Histogram(
    "superstore_step_seconds", "Duration of export/etl/check runs.", ["step"], registry=REGISTRY
)
STEP_ROWS = Counter(
    "superstore_step_rows_total", "Rows handled by step.", ["step"], registry=REGISTRY
)
STEP_LAST_SUCCESS = Gauge(
    "superstore_step_last_success_timestamp", "Unix time of the last successful run.", ["step"],
    registry=REGISTRY,
)  # fmt: skip
STEP_FAILURES = Counter(
    "superstore_step_failures_total", "Failed runs by step.", ["step"], registry=REGISTRY
)
SYNC_SECONDS = Histogram(
    "superstore_sync_seconds", "Wall seconds of one continuous-sync pass.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60), registry=REGISTRY,
)  # fmt: skip
SYNC_CPU = Counter(
    "superstore_sync_cpu_seconds_total", "CPU seconds the sync loop's thread used.",
    registry=REGISTRY,
)  # fmt: skip
SYNC_DAYS = Counter(
    "superstore_sync_days_total", "Days the sync exported or loaded.", ["step"], registry=REGISTRY
)
SYNC_FAILURES = Counter("superstore_sync_failures_total", "Failed sync passes.", registry=REGISTRY)
SYNC_LAST = Gauge(
    "superstore_sync_last_timestamp", "Unix time of the last finished sync pass.",
    registry=REGISTRY,
)  # fmt: skip
STALE_DAYS = Gauge(
    "superstore_stale_days", "Changed days waiting for their turn (the day being written).",
    registry=REGISTRY,
)  # fmt: skip
NEW_CATEGORIES = Counter(
    "superstore_new_category_values_total",
    "Category or sub-category values first seen in a line (accepted, alerted).", ["field"],
    registry=REGISTRY,
)  # fmt: skip
EVENTS = Counter(
    "superstore_order_events_total", "Order events written (cancellations, returns).",
    registry=REGISTRY,
)  # fmt: skip


def observe_batch(consumed: int, written: int, rejected: int, seconds: float) -> None:
    """Record one committed ingest batch."""
    LINES.labels("consumed").inc(consumed)
    LINES.labels("written").inc(written)
    LINES.labels("rejected").inc(rejected)
    BATCH_SECONDS.observe(seconds)


def observe_sync(seconds: float, cpu: float, exported: int, loaded: int) -> None:
    """Record one sync pass: its wall and CPU time, and the days it moved."""
    SYNC_SECONDS.observe(seconds)
    SYNC_CPU.inc(cpu)
    SYNC_DAYS.labels("export").inc(exported)
    SYNC_DAYS.labels("etl").inc(loaded)
    SYNC_LAST.set(time.time())


def observe_sync_failure() -> None:
    """Record a failed sync pass (retried with backoff)."""
    SYNC_FAILURES.inc()


def set_stale_days(count: int) -> None:
    """Changed days not synced yet (the day being written, between its turns)."""
    STALE_DAYS.set(count)


def observe_categories(new: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> None:
    """Count category / sub-category values seen for the first time."""
    for category, sub_category in new:
        if category:
            NEW_CATEGORIES.labels("category").inc()
        if sub_category:
            NEW_CATEGORIES.labels("sub_category").inc()


def set_lag(lag_by_partition: dict[int, int]) -> None:
    """Current consumer lag per partition."""
    for partition, lag in lag_by_partition.items():
        LAG.labels(str(partition)).set(lag)


def observe_step(step: str, seconds: float, rows: int, ok: bool) -> None:
    """Record one export/etl/check run."""
    STEP_SECONDS.labels(step).observe(seconds)
    if ok:
        STEP_ROWS.labels(step).inc(rows)
        STEP_LAST_SUCCESS.labels(step).set(time.time())
    else:
        STEP_FAILURES.labels(step).inc()


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Expose /metrics on host:port in a background thread."""
    start_http_server(port, addr=host, registry=REGISTRY)
