"""Fault injection: exactly-once must survive every crash we can cause.

Real `superstore ingest` processes consume a real broker into a real
PostgreSQL while a 200,000-line stream is produced, and we break things:
SIGKILL at random moments and at the crash points of `ingest.faults`
(between the database commit and what follows it), a broker restart, an
immediate PostgreSQL stop, one of two group members killed, and 10,000
malformed messages. After each, PostgreSQL must hold exactly what was
produced: lines and exact sales per order date, every line key once.

Scenarios that restart a service start their own broker or server, so the
session's stay untouched. Run with `make test-faults`; FAULTS_SEED=N replays
the random moments of a run (each test prints its seed).
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from superstore.check import run_check
from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import OrderLine
from superstore.faults import CRASH_ENV
from superstore.oltp import migrate, refused_offsets
from superstore.ops.pipeline import etl_days_step, export_days_step
from superstore.produce import Record, produce_records
from superstore.produce.readback import read_topic
from superstore.settings import Settings, load_settings
from superstore.stack.kafka import start_kafka, stop_process
from superstore.stack.postgres import start_postgres, stop_postgres
from superstore.stack.state import process_alive
from tests.support.faults import (
    CRASH_POINTS,
    PG_DOWN,
    STREAM,
    BackgroundProducer,
    Expected,
    IngestProcess,
    OwnBroker,
    assert_ingested_exactly,
    committed,
    high_watermarks,
    new_topic,
    quiet,
    split,
    stored_offsets,
    synthetic_stream,
    wait_caught_up,
    wait_until,
)
from tests.support.malformed import (
    BAD_KIND_NAMES,
    STORE_RULE,
    malformed,
    read_messages,
)

pytestmark = pytest.mark.faults


@pytest.fixture
def ingest_process(tmp_path: Path) -> Iterator[Callable[..., IngestProcess]]:
    """Spawn `superstore ingest` on any topic and database, each logging to its own file.

    `crash_at="after_commit:2"` sets SUPERSTORE_CRASH_AT (see ingest/faults.py).
    Processes still running at the end of the test are killed.
    """
    spawned: list[IngestProcess] = []
    logs = tmp_path / "ingest-logs"
    logs.mkdir()

    def spawn(
        kafka: KafkaConfig, pg: PgConfig, *args: str, crash_at: str | None = None
    ) -> IngestProcess:
        number = len(spawned) + 1
        env = {
            **os.environ,
            "SUPERSTORE_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "SUPERSTORE_TOPIC": kafka.topic,
            "SUPERSTORE_DLQ_TOPIC": kafka.dlq_topic,
            "SUPERSTORE_PG_DSN": pg.dsn,
            **({CRASH_ENV: crash_at} if crash_at else {}),
        }
        log = logs / f"{number:02d}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "superstore", "ingest", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        name = f"ingest #{number}" + (f" (SUPERSTORE_CRASH_AT={crash_at})" if crash_at else "")
        spawned.append(IngestProcess(name, proc, log))
        return spawned[-1]

    yield spawn
    for item in spawned:
        if item.alive():
            item.proc.kill()
            item.proc.wait()


@pytest.fixture
def producer_for() -> Iterator[Callable[[KafkaConfig], BackgroundProducer]]:
    """Start background producers on a topic; all are stopped at the end of the test."""
    started: list[BackgroundProducer] = []

    def start(kafka: KafkaConfig) -> BackgroundProducer:
        started.append(BackgroundProducer(kafka))
        return started[-1]

    yield start
    for producer in started:
        producer.close()


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """The random moments of this test; FAULTS_SEED=N replays them (the seed is printed)."""
    seed = int(os.environ.get("FAULTS_SEED") or random.randrange(2**32))
    print(f"{request.node.name}: FAULTS_SEED={seed}")
    return random.Random(seed)


def renamed(record: Record) -> Record:
    """The same line with its customer under another name (a rename, not an error)."""
    key, value = record
    assert value is not None
    return key, re.sub(rb'"customer_name":"([^"]*)"', rb'"customer_name":"\1 Jr."', value, count=1)


def _refused_offsets(pg: PgConfig, topic: str) -> set[tuple[int, int]]:
    with pg.connect(autocommit=True) as conn:
        return refused_offsets(conn, topic)


@pytest.fixture(scope="module")
def stream(dataset: list[OrderLine]) -> tuple[list[Record], Expected]:
    """The 200,000 distinct lines every streaming scenario produces, and their totals."""
    return synthetic_stream(dataset, STREAM)


@pytest.mark.timeout(900)
def test_twenty_kill_9s_lose_and_double_nothing(
    fresh_kafka: KafkaConfig,
    fresh_pg: PgConfig,
    stream: tuple[list[Record], Expected],
    producer_for: Callable[[KafkaConfig], BackgroundProducer],
    ingest_process: Callable[..., IngestProcess],
    rng: random.Random,
) -> None:
    """20 SIGKILLs while the stream flows: 8 sent by the test at random moments (2 of
    them during start-up), 12 by the crash points, 4 each before the commit, between
    the PostgreSQL commit and anything after it, and after the Kafka offset commit."""
    records, expected = stream
    plan = ["sigkill"] * 6 + ["sigkill-early"] * 2 + [p for p in CRASH_POINTS for _ in range(4)]
    rng.shuffle(plan)
    chunks = split(records, len(plan) + 1)
    producer = producer_for(fresh_kafka)
    kills: list[str] = []
    topic = fresh_kafka.topic
    for chunk, how in zip(chunks, plan, strict=False):
        producer.send(chunk, chunks=4, every=0.25)  # the stream goes on during every life
        before = committed(fresh_pg, fresh_kafka.topic)
        if how.startswith("sigkill"):
            proc = ingest_process(fresh_kafka, fresh_pg, "--batch-size", "2000")
            if how == "sigkill":  # a random moment once it is writing
                wait_until(
                    lambda p=proc, b=before: not p.alive() or committed(fresh_pg, topic) > b,
                    120,
                    f"{proc.name} to commit a batch",
                )
                moment = rng.uniform(0.0, 2.0)
            else:  # a random moment of start-up: migrations, group join, first fetch
                moment = rng.uniform(0.3, 3.0)
            time.sleep(moment)
            code = proc.kill9()
            what = f"{how} {moment:.2f}s"
        else:
            nth = rng.randint(1, 3)
            proc = ingest_process(
                fresh_kafka, fresh_pg, "--batch-size", "2000", crash_at=f"{how}:{nth}"
            )
            code = proc.wait(timeout=120)
            what = f"{how}:{nth}"
        assert code == -signal.SIGKILL, f"{proc.name} exited {code}, not killed:\n{proc.output(30)}"
        after = committed(fresh_pg, fresh_kafka.topic)
        if how in ("after_commit", "after_kafka_commit"):
            assert after > before, f"{proc.name} died before its commit:\n{proc.output(30)}"
        kills.append(f"{what} (+{after - before})")
    producer.send(chunks[-1], chunks=4, every=0.25)
    assert producer.drain() == STREAM
    final = ingest_process(fresh_kafka, fresh_pg, "--batch-size", "2000", "--until-idle", "5")
    assert final.wait(timeout=300) == 0, final.output(30)
    ends = high_watermarks(fresh_kafka)
    assert stored_offsets(fresh_pg, fresh_kafka.topic) == ends, final.output(60)
    assert sum(ends.values()) == STREAM
    lines, sales = assert_ingested_exactly(fresh_pg, expected)
    print(f"{len(kills)} kills [{', '.join(kills)}]; {lines:,} lines, sales {sales}")
    assert len(kills) == 20


@pytest.fixture
def own_broker(tmp_path: Path, stack_settings: Settings) -> Iterator[OwnBroker]:
    """A single-node KRaft broker started for this test and stopped after it."""
    home = tmp_path / "kafka"
    settings = stack_settings  # its jar cache and Java, already resolved by the session
    state = start_kafka(home, settings.cache_dir, settings.java_home, 0, quiet)
    broker = OwnBroker(home, settings, state)
    yield broker
    stop_process(broker.state.pid, broker.state.marker)


@pytest.mark.timeout(600)
def test_broker_restart_mid_stream(
    own_broker: OwnBroker,
    fresh_pg: PgConfig,
    stream: tuple[list[Record], Expected],
    producer_for: Callable[[KafkaConfig], BackgroundProducer],
    ingest_process: Callable[..., IngestProcess],
) -> None:
    """The broker stops and starts (same ports, same data) while ingest and producer run."""
    records, expected = stream
    kafka = new_topic(own_broker.state.address, 3)
    producer = producer_for(kafka)
    producer.send(records[:50_000])
    proc = ingest_process(kafka, fresh_pg, "--batch-size", "5000")
    wait_until(lambda: committed(fresh_pg, kafka.topic) > 0, 120, f"{proc.name} to commit")
    producer.send(records[50_000:150_000], chunks=10, every=0.2)  # produced across the restart
    old = own_broker.state
    own_broker.restart()
    assert own_broker.state.pid != old.pid, "a new broker process"
    assert own_broker.state.address == old.address, "on the same port: clients keep working"
    producer.send(records[150_000:], chunks=5, every=0.2)
    assert producer.drain() == STREAM
    ends = wait_caught_up(kafka, fresh_pg, timeout=240)
    proc.stop()  # it lived through the restart and shuts down cleanly
    assert sum(ends.values()) == STREAM
    lines, sales = assert_ingested_exactly(fresh_pg, expected)
    print(f"broker restarted (pid {old.pid} -> {own_broker.state.pid}); {lines:,} lines, {sales}")


@pytest.mark.timeout(600)
def test_postgres_immediate_stop_mid_stream(
    tmp_path: Path,
    fresh_kafka: KafkaConfig,
    stream: tuple[list[Record], Expected],
    producer_for: Callable[[KafkaConfig], BackgroundProducer],
    ingest_process: Callable[..., IngestProcess],
) -> None:
    """PostgreSQL dies without a checkpoint (SIGQUIT = `pg_ctl stop -m immediate`) and
    comes back with crash recovery on the same port; ingest waits, then finishes exactly."""
    records, expected = stream
    server = start_postgres(tmp_path / "pg", 0, quiet)  # a server of this test's own
    try:
        pg = PgConfig(server.address)
        producer = producer_for(fresh_kafka)
        producer.send(records[:50_000])
        proc = ingest_process(fresh_kafka, pg, "--batch-size", "5000")
        wait_until(lambda: committed(pg, fresh_kafka.topic) > 0, 120, f"{proc.name} to commit")
        producer.send(records[50_000:150_000], chunks=10, every=0.2)
        before, logged = committed(pg, fresh_kafka.topic), len(proc.output())
        os.kill(server.pid, signal.SIGQUIT)
        wait_until(lambda: not process_alive(server.pid, server.marker), 60, "PostgreSQL to die")
        wait_until(
            lambda: re.search(PG_DOWN, proc.output()[logged:]),
            120,
            f"{proc.name} to notice PostgreSQL is gone",
        )
        assert proc.alive(), f"ingest must wait for PostgreSQL, not exit:\n{proc.output(30)}"
        server = start_postgres(tmp_path / "pg", server.port, quiet)
        producer.send(records[150_000:], chunks=5, every=0.2)
        assert producer.drain() == STREAM
        ends = wait_caught_up(fresh_kafka, pg, timeout=240)
        proc.stop()
        assert sum(ends.values()) == STREAM
        lines, sales = assert_ingested_exactly(pg, expected)
        retries = len(re.findall(PG_DOWN, proc.output()))
        print(f"PostgreSQL stopped after {before:,} messages, {retries} retries logged; "
              f"{lines:,} lines, {sales}")  # fmt: skip
    finally:
        stop_postgres(server)


@pytest.mark.timeout(600)
def test_two_consumers_one_killed_mid_stream(
    kafka: KafkaConfig,
    fresh_pg: PgConfig,
    stream: tuple[list[Record], Expected],
    producer_for: Callable[[KafkaConfig], BackgroundProducer],
    ingest_process: Callable[..., IngestProcess],
    rng: random.Random,
) -> None:
    """Two processes share 6 partitions; one is SIGKILLed while both write, the other
    takes its partitions over from the offsets in PostgreSQL."""
    records, expected = stream
    six = new_topic(kafka.bootstrap, 6)
    producer = producer_for(six)
    producer.send(records[:50_000])
    pair = [ingest_process(six, fresh_pg, "--batch-size", "2000") for _ in range(2)]

    def shared() -> bool:
        owned = [p.assigned() or [] for p in pair]
        split_ok = set(owned[0]).isdisjoint(owned[1]) and all(owned)
        return split_ok and set(owned[0]) | set(owned[1]) == set(range(6))

    wait_until(
        lambda: shared() and len(stored_offsets(fresh_pg, six.topic)) == 6,
        180,
        "both processes to own and commit 3 partitions each",
    )
    victim, survivor = rng.sample(pair, 2)
    victim_partitions = victim.assigned() or []
    producer.send(records[50_000:125_000], chunks=5, every=0.3)
    moment = rng.uniform(0.2, 1.5)
    time.sleep(moment)  # a random moment of the stream
    at_kill = stored_offsets(fresh_pg, six.topic)
    assert victim.kill9() == -signal.SIGKILL
    producer.send(records[125_000:], chunks=5, every=0.3)
    assert producer.drain() == STREAM
    ends = wait_caught_up(six, fresh_pg, timeout=240)
    assert survivor.assigned() == list(range(6)), survivor.output(30)
    survivor.stop()
    unfinished = [p for p in victim_partitions if at_kill.get(p, 0) < ends[p]]
    assert unfinished == victim_partitions, "the survivor finished the victim's partitions"
    assert sum(ends.values()) == STREAM
    lines, sales = assert_ingested_exactly(fresh_pg, expected)
    print(f"killed {victim.name} owning {victim_partitions} at {moment:.2f}s "
          f"(stored then {at_kill}); {lines:,} lines, {sales}")  # fmt: skip


@pytest.mark.timeout(600)
def test_malformed_messages_all_dead_lettered_all_good_lines_kept(
    fresh_kafka: KafkaConfig,
    fresh_pg: PgConfig,
    dataset: list[OrderLine],
    ingest_process: Callable[..., IngestProcess],
    rng: random.Random,
    tmp_path: Path,
) -> None:
    """10,000 malformed messages of every kind (broken JSON and fields, NUL and other
    control characters, non-ASCII digits, values outside the reference sets, broken
    events, a row only the store's own rule refuses) among 100,000 good lines (some
    renaming a customer, so one batch holds a customer under two names), ingested by a
    process killed before its 2nd commit, one killed after its 2nd commit, then one to the
    end: each bad message once in `rejected_lines` and in the DLQ topic, with its reason
    and source; every good line once; `topic stats` and `check` count the same rejects,
    and `check` is green once the days are exported and loaded."""
    good, expected = synthetic_stream(dataset, 100_000)
    good = [renamed(record) if i % 50 == 7 else record for i, record in enumerate(good)]
    bad = malformed(dataset, 10_000)
    migrate(fresh_pg)
    with fresh_pg.connect(autocommit=True) as conn:
        conn.execute(STORE_RULE)  # a rule of the store the contract does not know
    at_bad = set(rng.sample(range(110_000), 10_000))  # random places among the good lines
    pending_good, pending_bad = iter(good), iter(bad)
    records: list[Record] = []
    for i in range(110_000):
        if i in at_bad:
            item = next(pending_bad)
            records.append((item.key, item.value))  # type: ignore[arg-type]  # None: null value
        else:
            records.append(next(pending_good))
    assert produce_records(fresh_kafka, records).sent == 110_000
    for crash in ("before_commit:2", "after_commit:2"):
        proc = ingest_process(fresh_kafka, fresh_pg, "--batch-size", "5000", crash_at=crash)
        assert proc.wait(timeout=180) == -signal.SIGKILL, proc.output(30)
    final = ingest_process(fresh_kafka, fresh_pg, "--batch-size", "5000", "--until-idle", "5")
    assert final.wait(timeout=300) == 0, final.output(30)
    assert sum(stored_offsets(fresh_pg, fresh_kafka.topic).values()) == 110_000

    lines, sales = assert_ingested_exactly(fresh_pg, expected)
    by_key = {item.key.encode(): item for item in bad}
    source = {  # where each bad message really is in the lines topic
        k: f"{fresh_kafka.topic}/{where}"
        for k, where, _, _ in read_messages(fresh_kafka, fresh_kafka.topic)
        if k in by_key
    }
    assert len(source) == 10_000
    with fresh_pg.connect() as conn:
        table = conn.execute(
            'SELECT msg_key, topic, partition, "offset", raw, reason FROM rejected_lines'
        ).fetchall()
    assert len(table) == 10_000, f"rejected_lines holds {len(table):,} rows, not 10,000"
    wrong_rows = [
        (key, by_key[key].kind if key in by_key else "?", reason)
        for key, topic, partition, offset, raw, reason in table
        if key not in by_key
        or source[key] != f"{topic}/{partition}/{offset}"
        or raw != by_key[key].value
        or by_key[key].reason not in reason
    ]
    assert not wrong_rows, f"{len(wrong_rows)} rejected_lines rows wrong: {wrong_rows[:5]}"

    reason_at = {f"{t}/{p}/{o}": r for _, t, p, o, _, r in table}
    dlq = read_messages(fresh_kafka, fresh_kafka.dlq_topic)
    wrong_dead = [
        (key, headers)
        for key, _, value, headers in dlq
        if key not in by_key
        or headers.get("source", b"").decode() != source[key]
        or headers.get("reason", b"").decode() != reason_at.get(source[key])
        or value != by_key[key].value
    ]
    assert not wrong_dead, f"{len(wrong_dead)} DLQ messages wrong: {wrong_dead[:5]}"
    distinct = {headers["source"].decode() for _, _, _, headers in dlq}
    assert distinct == set(source.values()), (
        f"DLQ sources: {len(set(source.values()) - distinct)} bad messages missing, "
        f"{len(distinct - set(source.values()))} unknown"
    )
    repeats = len(dlq) - len(distinct)
    assert repeats > 0, "the crash before the 2nd commit left dead letters to send again"
    kinds = {kind: sum(1 for b in bad if b.kind == kind) for kind in BAD_KIND_NAMES}
    print(
        f"{lines:,} good lines, {sales}; rejected_lines 10,000; DLQ {len(dlq):,} messages, "
        f"{len(distinct):,} distinct sources ({repeats:,} re-sent); bad kinds {kinds}"
    )

    settings = load_settings(
        kafka_bootstrap=fresh_kafka.bootstrap, topic=fresh_kafka.topic,
        dlq_topic=fresh_kafka.dlq_topic, pg_dsn=fresh_pg.dsn, data_dir=tmp_path / "pipeline",
    )  # fmt: skip
    summary = read_topic(fresh_kafka, refused=_refused_offsets(fresh_pg, fresh_kafka.topic))
    assert (summary.valid, summary.invalid) == (100_000, 10_000), summary
    assert summary.sales_sum == expected.sales
    days = sorted(expected.per_day)
    export_days_step(days, settings)
    etl_days_step(days, settings)
    report = run_check(settings, until=days[-1])
    assert report.ok, [d.describe() for d in report.differences[:5]] + report.problems
