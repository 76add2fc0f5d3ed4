"""Shared bench helpers: a stack to run against, synthetic lines, JSON results."""

from __future__ import annotations

import json
import platform
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import encode_line
from superstore.data import load_lines
from superstore.settings import Settings, load_settings
from superstore.stack import kafka_config, pg_admin_config, pg_config, stack_down, stack_up
from superstore.stack.kafka import create_topics
from superstore.stack.state import OWNER_ROLE

__all__ = [
    "bench_stack",
    "fresh_database",
    "fresh_topic",
    "median_run",
    "produce_paced",
    "save_results",
    "synthetic_records",
]

RESULTS = Path(__file__).parent / "results"
Key = tuple[str, int]  # a line's natural key: (order_id, line_number)


@contextmanager
def bench_stack(data_dir: Path, brokers: int = 1) -> Iterator[Settings]:
    """A local stack (`brokers` Kafka nodes) in its own data dir, stopped and purged at the end."""
    settings = load_settings(data_dir=data_dir)
    stack_up(settings, report=lambda m: print(f"  {m}"), brokers=brokers)
    try:
        yield settings
    finally:
        stack_down(settings, purge=True)


def fresh_topic(settings: Settings, partitions: int = 3) -> KafkaConfig:
    """A new, empty lines topic (and DLQ) on the bench broker."""
    base = kafka_config(settings)
    suffix = uuid.uuid4().hex[:6]
    config = KafkaConfig(
        base.bootstrap, f"bench{suffix}.lines", f"bench{suffix}.dlq", partitions, base.security
    )
    create_topics(config, report=lambda _: None)
    return config


def fresh_database(settings: Settings, name: str) -> PgConfig:
    """A new empty database on the bench server, owned by the pipeline's owner role.

    Only the superuser may create databases (the pipeline's roles have no
    CREATEDB); the benchmark then talks to it as the owner, as `superstore` does.
    """
    pg = pg_config(settings)
    owner = conninfo_to_dict(pg.dsn).get("user") or OWNER_ROLE
    admin = PgConfig(make_conninfo(pg_admin_config(settings).dsn, dbname="postgres"))
    with admin.connect(autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    return PgConfig(make_conninfo(**(conninfo_to_dict(pg.dsn) | {"dbname": name})))


def synthetic_records(count: int) -> list[tuple[str, bytes]]:
    """`count` distinct, valid lines: the seed replayed with new order ids per round."""
    seed = [(x.order_id, encode_line(x)) for x in load_lines()]
    out: list[tuple[str, bytes]] = []
    round_no = 0
    while len(out) < count:
        for order_id, raw in seed:
            new_id = f"{order_id}-R{round_no}"
            out.append(
                (
                    new_id,
                    raw.replace(
                        f'"order_id":"{order_id}"'.encode(), f'"order_id":"{new_id}"'.encode(), 1
                    ),
                )
            )
            if len(out) == count:
                break
        round_no += 1
    return out


def save_results(name: str, results: dict) -> Path:
    """Print and save results as JSON under bench/results/."""
    RESULTS.mkdir(exist_ok=True)
    results = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        **results,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results, indent=2, default=str))
    print(f"saved {path}")
    return path


def median_run(runs: Sequence[dict], key: str = "lines_per_s") -> dict:
    """The run with the median `key` (the lower middle one for an even count).

    Benchmarks run their contenders in rounds, taking turns, so a slower stretch
    of a shared machine (its speed drifts by a third within minutes) falls on
    every contender rather than on one.
    """
    return sorted(runs, key=lambda r: r[key])[(len(runs) - 1) // 2]


def produce_paced(
    kafka: KafkaConfig, producer: Any, records: Sequence[tuple[str, Key, bytes]], rate: float
) -> tuple[dict[Key, float], float]:
    """Produce (Kafka key, natural key, value) at `rate` lines/s.

    Returns each line's produce() wall time under its natural key, and the
    achieved rate; raises if a message was not acknowledged.

    One producer serves the warm-up and the measured run, as a live source keeps
    its connection: a new producer's first lines would wait for its metadata.
    """
    failed: list[str] = []

    def on_delivery(err: object, _msg: object) -> None:
        if err is not None:
            failed.append(str(err))

    sent: dict[Key, float] = {}
    start = time.monotonic()
    for i, (key, natural, value) in enumerate(records):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent[natural] = time.time()
        producer.produce(kafka.topic, key=key, value=value, on_delivery=on_delivery)
        producer.poll(0)
    elapsed = time.monotonic() - start
    remaining = producer.flush(60)
    if remaining or failed:
        raise RuntimeError(f"{remaining} unacknowledged, {len(failed)} failed: {failed[:1]}")
    achieved = (len(records) - 1) / elapsed if elapsed > 0 and len(records) > 1 else rate
    return sent, achieved
