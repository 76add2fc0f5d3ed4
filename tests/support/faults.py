"""Helpers of the fault-injection suite (test_faults.py): streams, processes, checks."""

from __future__ import annotations

import datetime as dt
import queue
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import psycopg

from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import OrderLine, encode_line
from superstore.errors import TransientError
from superstore.produce import Record, produce_records
from superstore.settings import Settings
from superstore.stack.kafka import create_topics, start_kafka, stop_process
from superstore.stack.state import ServiceState

STREAM = 200_000


CRASH_POINTS = ("before_commit", "after_commit", "after_kafka_commit")


GROUP = "superstore-ingest"  # the CLI's default group


def quiet(_: str) -> None:
    return None


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
    create_topics(kafka, quiet)
    return kafka


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
            self.home, self.settings.cache_dir, self.settings.java_home, 0, quiet
        )


PG_DOWN = r"PostgreSQL unavailable|write failed"  # what ingest logs while it waits
