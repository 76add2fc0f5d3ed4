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
    "observe_step",
    "serve_metrics",
    "set_lag",
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


def observe_batch(consumed: int, written: int, rejected: int, seconds: float) -> None:
    """Record one committed ingest batch."""
    LINES.labels("consumed").inc(consumed)
    LINES.labels("written").inc(written)
    LINES.labels("rejected").inc(rejected)
    BATCH_SECONDS.observe(seconds)


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
