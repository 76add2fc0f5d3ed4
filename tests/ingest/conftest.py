"""Helpers for ingest tests: produce to a fresh topic, run the consumer, read totals."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal

import pytest

from superstore.clients import KafkaConfig, PgConfig
from superstore.data import load_lines
from superstore.ingest.consumer import IngestOptions, Ingestor, IngestStats
from superstore.messages import OrderLine


@pytest.fixture(scope="session")
def dataset() -> list[OrderLine]:
    """The 9,994 seed lines."""
    return load_lines()


def totals(pg: PgConfig) -> tuple[int, Decimal, int]:
    """(lines, exact sales sum, rejected) in the OLTP database."""
    with pg.connect(autocommit=True) as conn:
        lines, sales = conn.execute(
            "SELECT count(*), coalesce(sum(sales), 0) FROM order_lines"
        ).fetchone()
        rejected = conn.execute("SELECT count(*) FROM rejected_lines").fetchone()[0]
    return int(lines), Decimal(sales), int(rejected)


def run_ingest(kafka: KafkaConfig, pg: PgConfig, **options: object) -> IngestStats:
    """Run the consumer in-process until the topic is idle."""
    opts = IngestOptions(**{"until_idle": 1.5, "progress_every": 60.0, **options})
    return Ingestor(kafka, pg, opts).run()


@pytest.fixture
def spawn_ingest(fresh_kafka: KafkaConfig) -> Callable[..., subprocess.Popen[str]]:
    """Start `superstore ingest` as a real process (for kill -9 and multi-process tests)."""
    procs: list[subprocess.Popen[str]] = []

    def spawn(pg: PgConfig, *args: str) -> subprocess.Popen[str]:
        env = {
            **os.environ,
            "SUPERSTORE_KAFKA_BOOTSTRAP": fresh_kafka.bootstrap,
            "SUPERSTORE_TOPIC": fresh_kafka.topic,
            "SUPERSTORE_DLQ_TOPIC": fresh_kafka.dlq_topic,
            "SUPERSTORE_PG_DSN": pg.dsn,
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "superstore", "ingest", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
