"""Fault injection (issue 4, item 4): exactly-once must survive every crash we can cause.

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

import datetime as dt
import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from superstore.clients import KafkaConfig, PgConfig
from superstore.errors import TransientError
from superstore.ingest.faults import CRASH_ENV
from superstore.messages import OrderLine, encode_line
from superstore.produce import BAD_KINDS, Record, bad_record, produce_records
from superstore.produce.readback import scan_topic
from superstore.settings import Settings
from superstore.stack.kafka import create_topics, start_kafka, stop_process
from superstore.stack.postgres import start_postgres, stop_postgres
from superstore.stack.state import ServiceState, process_alive

pytestmark = pytest.mark.faults

STREAM = 200_000
CRASH_POINTS = ("before_commit", "after_commit", "after_kafka_commit")
GROUP = "superstore-ingest"  # the CLI's default group


def _quiet(_: str) -> None:
    return None


# -- what was produced, and what PostgreSQL must hold ------------------------------------


@dataclass
class Expected:
    """What PostgreSQL must hold once a stream is ingested: per-day totals and line keys."""

    per_day: dict[dt.date, tuple[int, Decimal]] = field(default_factory=dict)
    keys: set[tuple[str, int]] = field(default_factory=set)

    def add(self, order_id: str, line: OrderLine) -> None:
        """Count one good line under its order date, with its exact sales."""
        count, sales = self.per_day.get(line.order_date, (0, Decimal(0)))
        self.per_day[line.order_date] = (count + 1, sales + line.sales)
        self.keys.add((order_id, line.line_number))

    @property
    def sales(self) -> Decimal:
        """Exact sales sum of every good line."""
        return sum((s for _, s in self.per_day.values()), Decimal(0))


def synthetic_stream(dataset: list[OrderLine], count: int) -> tuple[list[Record], Expected]:
    """`count` distinct valid records: the seed replayed with new order ids per round.

    The idea of bench/common.py's `synthetic_records`: the seed's encoded bytes
    with the order id swapped keep producing cheap; expected totals come from
    the seed's exact Decimals.
    """
    seed = [(line, encode_line(line)) for line in dataset]
    records: list[Record] = []
    expected = Expected()
    round_no = 0
    while len(records) < count:
        for line, raw in seed[: count - len(records)]:
            new_id = f"{line.order_id}-R{round_no}"
            old = f'"order_id":"{line.order_id}"'.encode()
            records.append((new_id, raw.replace(old, f'"order_id":"{new_id}"'.encode(), 1)))
            expected.add(new_id, line)
        round_no += 1
    return records, expected


def split(records: list[Record], parts: int) -> list[list[Record]]:
    """`records` cut into `parts` consecutive chunks of nearly equal size."""
    size, extra = divmod(len(records), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(records[start:end])
        start = end
    return out


def assert_ingested_exactly(pg: PgConfig, expected: Expected) -> tuple[int, Decimal]:
    """Lines and exact sales per order date equal `expected`; none lost, doubled or extra."""
    with pg.connect(autocommit=True) as conn:
        doubled = conn.execute(
            "SELECT order_id, line_number, count(*) FROM order_lines"
            " GROUP BY 1, 2 HAVING count(*) > 1 ORDER BY 1, 2 LIMIT 10"
        ).fetchall()
        rows = conn.execute(
            "SELECT o.order_date, count(*), sum(l.sales)"
            " FROM order_lines l LEFT JOIN orders o USING (order_id) GROUP BY 1"
        ).fetchall()
        keys = {(o, n) for o, n in conn.execute("SELECT order_id, line_number FROM order_lines")}
    assert not doubled, f"duplicate line keys (order_id, line_number, copies): {doubled}"
    got = {day: (int(n), Decimal(s)) for day, n, s in rows}
    wrong = [
        f"{day}: expected {expected.per_day.get(day, (0, 0))}, got {got.get(day, (0, 0))}"
        for day in sorted(set(got) | set(expected.per_day), key=str)
        if got.get(day) != expected.per_day.get(day)
    ]
    lost, extra = expected.keys - keys, keys - expected.keys
    lines = sum(n for n, _ in got.values())
    sales = sum((s for _, s in got.values()), Decimal(0))
    assert not (wrong or lost or extra), (
        f"PostgreSQL holds {lines:,} lines / sales {sales}, produced {len(expected.keys):,} / "
        f"{expected.sales}; {len(wrong)} day(s) differ as (lines, sales): {wrong[:8]}; "
        f"{len(lost)} line(s) lost, e.g. {sorted(lost)[:5]}; "
        f"{len(extra)} line(s) never produced, e.g. {sorted(extra)[:5]}"
    )
    return lines, sales


# -- producing mid-stream ---------------------------------------------------------------


class BackgroundProducer:
    """Publishes chunks of records, in order, from a thread, so faults strike mid-stream.

    Uses the project's producer (`produce_records`: idempotent, acks=all), so
    every record is a real message and a broker restart is retried, not lost.
    """

    def __init__(self, kafka: KafkaConfig) -> None:
        self.kafka = kafka
        self.sent = self.failed = 0
        self.first_error: str | None = None
        self._error: BaseException | None = None
        self._queue: queue.Queue[tuple[list[Record], float] | threading.Event | None]
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="faults-producer", daemon=True)
        self._thread.start()

    def send(self, records: list[Record], chunks: int = 1, every: float = 0.0) -> None:
        """Queue `records` as `chunks` chunks, each produced `every` seconds after the last."""
        for chunk in split(records, chunks):
            self._queue.put((chunk, every))

    def drain(self, timeout: float = 300.0) -> int:
        """Wait until everything queued is acknowledged; returns the records sent so far."""
        done = threading.Event()
        self._queue.put(done)
        if not done.wait(timeout):
            raise AssertionError(f"the producer did not finish its queue within {timeout:.0f}s")
        if self._error is not None:
            raise AssertionError(f"producing failed: {self._error!r}") from self._error
        assert self.failed == 0, f"{self.failed} records not delivered: {self.first_error}"
        return self.sent

    def close(self) -> None:
        """Stop the thread once its queue is done."""
        self._queue.put(None)
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, threading.Event):
                item.set()
                continue
            chunk, pause = item
            if self._error is not None:
                continue
            time.sleep(pause)  # the pace of the stream, not a wait for an outcome
            try:
                result = produce_records(self.kafka, chunk, flush_timeout=240)
            except Exception as exc:  # reported by drain()
                self._error = exc
                continue
            self.sent += result.sent
            self.failed += result.failed
            self.first_error = self.first_error or result.first_error


# -- ingest processes -------------------------------------------------------------------


@dataclass
class IngestProcess:
    """A running `superstore ingest` subprocess whose output goes to a log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self, tail: int | None = None) -> str:
        """What the process wrote so far (its last `tail` lines)."""
        lines = self.log.read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail:] if tail else lines)

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None

    def kill9(self) -> int:
        """SIGKILL the process, which must still be running; returns its exit code."""
        assert self.alive(), f"{self.name} exited by itself before the kill:\n{self.output(30)}"
        self.proc.kill()
        return self.proc.wait(timeout=30)

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (clean shutdown) a process that must still be running; it must exit 0."""
        assert self.alive(), f"{self.name} exited by itself:\n{self.output(30)}"
        self.proc.send_signal(signal.SIGTERM)
        code = self.wait(timeout)
        assert code == 0, f"{self.name} exited with {code} on SIGTERM:\n{self.output(30)}"

    def wait(self, timeout: float) -> int:
        """Exit code, waiting up to `timeout` seconds (fails naming the process)."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.name} still running after {timeout:.0f}s:\n{self.output(30)}"
            ) from None

    def assigned(self) -> list[int] | None:
        """Partitions of its latest assignment, read from its log (None before the first)."""
        found = re.findall(r"assigned \[([\d, ]*)\]", self.output())
        return [int(p) for p in found[-1].split(",") if p.strip()] if found else None


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


@pytest.fixture(scope="module")
def stream(dataset: list[OrderLine]) -> tuple[list[Record], Expected]:
    """The 200,000 distinct lines every streaming scenario produces, and their totals."""
    return synthetic_stream(dataset, STREAM)


# -- waiting on the pipeline ------------------------------------------------------------


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `condition` until it is truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


def stored_offsets(pg: PgConfig, topic: str) -> dict[int, int]:
    """Next offsets PostgreSQL committed with the lines, per partition; {} when unreachable."""
    try:
        with pg.connect(autocommit=True) as conn:
            rows = conn.execute(
                "SELECT partition, next_offset FROM ingest_offsets"
                " WHERE group_id = %s AND topic = %s",
                [GROUP, topic],
            ).fetchall()
    except (TransientError, psycopg.Error):  # server down, or not migrated yet
        return {}
    return {int(p): int(o) for p, o in rows}


def high_watermarks(kafka: KafkaConfig) -> dict[int, int]:
    """End offset of every partition of the lines topic."""
    from confluent_kafka import TopicPartition

    consumer = kafka.consumer(f"faults-watermarks-{uuid.uuid4().hex[:6]}")
    try:
        meta = consumer.list_topics(kafka.topic, timeout=10).topics[kafka.topic]
        return {
            p: consumer.get_watermark_offsets(TopicPartition(kafka.topic, p), timeout=10)[1]
            for p in sorted(meta.partitions)
        }
    finally:
        consumer.close()


def wait_caught_up(kafka: KafkaConfig, pg: PgConfig, timeout: float) -> dict[int, int]:
    """Wait until the offsets stored in PostgreSQL reach the end of every partition."""
    ends = high_watermarks(kafka)
    wait_until(
        lambda: stored_offsets(pg, kafka.topic) == ends,
        timeout,
        f"ingest to store offsets {ends} (stored now: {stored_offsets(pg, kafka.topic)})",
    )
    return ends


def committed(pg: PgConfig, topic: str) -> int:
    """Messages covered by the offsets stored so far, over all partitions."""
    return sum(stored_offsets(pg, topic).values())


def new_topic(bootstrap: str, partitions: int) -> KafkaConfig:
    """A new lines topic (and DLQ) with `partitions` partitions on the broker at `bootstrap`."""
    suffix = uuid.uuid4().hex[:8]
    kafka = KafkaConfig(bootstrap, f"f{suffix}.lines", f"f{suffix}.lines.dlq", partitions)
    create_topics(kafka, _quiet)
    return kafka


# -- (a) kill -9 at twenty moments ------------------------------------------------------


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
    assert stored_offsets(fresh_pg, fresh_kafka.topic) == ends, "every message consumed once"
    assert sum(ends.values()) == STREAM
    lines, sales = assert_ingested_exactly(fresh_pg, expected)
    print(f"{len(kills)} kills [{', '.join(kills)}]; {lines:,} lines, sales {sales}")
    assert len(kills) == 20


# -- (b) broker restart, (c) PostgreSQL immediate stop ----------------------------------


@dataclass
class OwnBroker:
    """A broker of the test's own in a tmp data dir: restarting it spares the session's."""

    home: Path
    settings: Settings
    state: ServiceState

    def restart(self) -> None:
        """Stop the broker process as `stack down` does, start it on the same ports and data."""
        assert stop_process(self.state.pid, self.state.marker), "the broker was not running"
        self.state = start_kafka(
            self.home, self.settings.cache_dir, self.settings.java_home, 0, _quiet
        )


@pytest.fixture
def own_broker(tmp_path: Path, stack_settings: Settings) -> Iterator[OwnBroker]:
    """A single-node KRaft broker started for this test and stopped after it."""
    home = tmp_path / "kafka"
    settings = stack_settings  # its jar cache and Java, already resolved by the session
    state = start_kafka(home, settings.cache_dir, settings.java_home, 0, _quiet)
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


_PG_DOWN = r"PostgreSQL unavailable|write failed"  # what ingest logs while it waits


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
    server = start_postgres(tmp_path / "pg", 0, _quiet)  # a server of this test's own
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
            lambda: re.search(_PG_DOWN, proc.output()[logged:]),
            120,
            f"{proc.name} to notice PostgreSQL is gone",
        )
        assert proc.alive(), f"ingest must wait for PostgreSQL, not exit:\n{proc.output(30)}"
        server = start_postgres(tmp_path / "pg", server.port, _quiet)
        producer.send(records[150_000:], chunks=5, every=0.2)
        assert producer.drain() == STREAM
        ends = wait_caught_up(fresh_kafka, pg, timeout=240)
        proc.stop()
        assert sum(ends.values()) == STREAM
        lines, sales = assert_ingested_exactly(pg, expected)
        retries = len(re.findall(_PG_DOWN, proc.output()))
        print(f"PostgreSQL stopped after {before:,} messages, {retries} retries logged; "
              f"{lines:,} lines, {sales}")  # fmt: skip
    finally:
        stop_postgres(server)


# -- (d) two members of one group, one killed -------------------------------------------


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


# -- (e) 10,000 malformed messages among 100,000 good ones ------------------------------


def _broken(template: OrderLine, key: str, **changes: object) -> bytes:
    """A good line under order id `key`, with `changes` (None deletes the field)."""
    doc = json.loads(encode_line(template)) | {"order_id": key}
    for name, value in changes.items():
        if value is None:
            del doc[name]
        else:
            doc[name] = value
    return json.dumps(doc).encode()


# Kind -> (value of the message, text its rejection reason must contain). The five
# kinds of `produce --inject-bad` come from the project; these add the rest.
_MORE_BAD: dict[str, tuple[Callable[[OrderLine, str], bytes | None], str]] = {
    "not_json": (lambda t, k: b"not json at all: " + k.encode(), "Invalid JSON"),
    "not_utf8": (lambda t, k: b"\xff\xfe\x00" + k.encode(), "Invalid JSON"),
    "empty_value": (lambda t, k: b"", "Invalid JSON"),
    "null_value": (lambda t, k: None, "undecodable: empty message value"),
    "json_array": (lambda t, k: json.dumps([k]).encode(), "Input should be an object"),
    "line_number_zero": (
        lambda t, k: _broken(t, k, line_number=0),
        "line_number: Input should be greater than or equal to 1",
    ),
    "ship_before_order": (
        lambda t, k: _broken(t, k, ship_date="2009-12-31"),
        "ship_date 2009-12-31 is before order_date",
    ),
    "float_sales": (
        lambda t, k: _broken(t, k, sales=12.5),
        "sales.constrained-str: Input should be a valid string",
    ),
    "negative_sales": (
        lambda t, k: _broken(t, k, sales="-1.00"),
        "sales.constrained-str: String should match pattern",
    ),
    "discount_over_1": (
        lambda t, k: _broken(t, k, discount="1.5"),
        "discount: must be between 0 and 1",
    ),
    "impossible_date": (
        lambda t, k: _broken(t, k, order_date="2017-02-30", ship_date="2017-03-04"),
        "date: day is out of range for month",
    ),
    "unknown_field": (
        lambda t, k: _broken(t, k, coupon="SAVE10"),
        "coupon: Extra inputs are not permitted",
    ),
    "nul_in_text": (  # valid JSON and contract; only PostgreSQL refuses it (bisection)
        lambda t, k: _broken(t, k, product_name=t.product_name + "\u0000"),
        "refused by PostgreSQL",
    ),
}
_PROJECT_BAD = {
    "bad_json": "Invalid JSON",
    "missing_field": "sales: Field required",
    "wrong_type": "quantity: Input should be a valid integer",
    "negative_quantity": "quantity: Input should be greater than or equal to 1",
    "unknown_schema_version": "schema_version: Input should be 1",
}
assert set(_PROJECT_BAD) == set(BAD_KINDS), "a new kind of bad message needs its reason here"
BAD_KIND_NAMES = (*BAD_KINDS, *_MORE_BAD)
# Rows only PostgreSQL refuses cost a bisection of their batch: 1 in 500 keeps this fast.
_REFUSED_EVERY = 500


@dataclass(frozen=True)
class Malformed:
    """One malformed record, its kind, and what its rejection reason must say."""

    key: str
    value: bytes | None
    kind: str
    reason: str


def malformed(dataset: list[OrderLine], count: int) -> list[Malformed]:
    """`count` malformed records with distinct keys, cycling through the kinds."""
    out = []
    cycle = [k for k in BAD_KIND_NAMES if k != "nul_in_text"]
    for i in range(count):
        kind = "nul_in_text" if i % _REFUSED_EVERY == 1 else cycle[i % len(cycle)]
        template = dataset[i % len(dataset)]
        if kind in _PROJECT_BAD:
            key, value = bad_record(kind, template, i)
            out.append(Malformed(key, value, kind, _PROJECT_BAD[kind]))
        else:
            key = f"BAD-{i:06d}"  # bad_record's key form: never a good line's order id
            build, reason = _MORE_BAD[kind]
            out.append(Malformed(key, build(template, key), kind, reason))
    return out


def _read_messages(kafka: KafkaConfig, topic: str) -> list[tuple[bytes, str, bytes | None, dict]]:
    """(key, partition/offset, value, headers) of every message of `topic`."""
    got = []
    scan_topic(
        kafka,
        topic,
        lambda _: None,
        on_message=lambda m: got.append(
            (m.key(), f"{m.partition()}/{m.offset()}", m.value(), dict(m.headers() or []))
        ),
    )
    return got


@pytest.mark.timeout(600)
def test_malformed_messages_all_dead_lettered_all_good_lines_kept(
    fresh_kafka: KafkaConfig,
    fresh_pg: PgConfig,
    dataset: list[OrderLine],
    ingest_process: Callable[..., IngestProcess],
    rng: random.Random,
) -> None:
    """10,000 malformed messages of 18 kinds among 100,000 good lines, ingested by a
    process killed before its 2nd commit, one killed after its 2nd commit, then one to the
    end: each bad message once in `rejected_lines` and in the DLQ topic, with its reason
    and source; every good line once."""
    good, expected = synthetic_stream(dataset, 100_000)
    bad = malformed(dataset, 10_000)
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
        for k, where, _, _ in _read_messages(fresh_kafka, fresh_kafka.topic)
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
    dlq = _read_messages(fresh_kafka, fresh_kafka.dlq_topic)
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
