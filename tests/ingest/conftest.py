"""Fixtures of the ingest tests: the data set, and `superstore ingest` as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import OrderLine
from superstore.data import load_lines


@pytest.fixture(scope="session")
def dataset() -> list[OrderLine]:
    """The 9,994 seed lines."""
    return load_lines()


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
