"""Helpers of the pipeline failover suite: a full-speed acknowledged stream, the real
consumer in a thread with every committed batch timed, and the stall a fault caused.

Exactness is judged on what the producer acknowledged: a line counts only once
its delivery callback reported success, and every such line must be in
PostgreSQL exactly once (`Expected` of tests.support.faults, built from the
acknowledged lines alone).
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
import uuid
from array import array
from dataclasses import dataclass, field
from functools import partial

import psutil
from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import OrderLine, encode_line
from superstore.ingest import BatchReport, IngestOptions, Ingestor, IngestStats
from superstore.settings import Settings
from superstore.stack.state import read_state
from tests.support.faults import Expected

__all__ = [
    "AckedStream",
    "Commit",
    "Fault",
    "IngestRun",
    "Watermarks",
    "measure",
    "walsender",
]

MIN_LINES = 200_000  # every scenario's stream holds at least this many lines


class AckedStream:
    """Order lines produced from a thread by the project's producer, every acknowledgement kept.

    `KafkaConfig.producer()` is the pipeline's own: idempotent, acks=all. The
    stream runs at a live `rate` all along (so there is always a line written
    just after any moment, which is how a stall is measured) and at full speed
    for each `burst(n)`: a scenario strikes its faults inside bursts, and
    `finish` produces at full speed up to the scenario's minimum. Line i is
    seed line i % len(seed) under the order id `<id>-R<i // len(seed)>`; its
    produce() time, partition and offset are kept.
    """

    def __init__(self, kafka: KafkaConfig, seed: list[OrderLine], rate: float = 300.0) -> None:
        self.kafka = kafka
        self.rate = rate
        self.sent = 0
        self.failed = 0
        self.first_error: str | None = None
        self.started = 0.0
        self.stopped = 0.0
        self.unflushed = 0
        self._seed = seed
        self._raw = [
            (line.order_id, f'"order_id":"{line.order_id}"'.encode(), encode_line(line))
            for line in seed
        ]
        self.produced_at = array("d")  # monotonic produce() time, by line number
        self.partition = array("b")  # -1 until acknowledged
        self.offset = array("q")  # -1 until acknowledged
        self._bursts = 0
        self._at_least = MIN_LINES
        self._finish = threading.Event()
        self._thread = threading.Thread(target=self._run, name="acked-stream", daemon=True)
        self._error: BaseException | None = None

    @property
    def acked(self) -> int:
        """Lines acknowledged so far."""
        return len(self.offset) - self.offset.count(-1)

    def start(self) -> AckedStream:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def burst(self, lines: int) -> None:
        """Produce `lines` more at full speed, now (on top of the live rate)."""
        self._bursts += lines

    def _delivered(self, number: int, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.partition[number] = msg.partition() or 0
            self.offset[number] = msg.offset() or 0
            return
        self.failed += 1
        self.first_error = self.first_error or str(err)

    def _record(self, number: int) -> tuple[str, bytes]:
        order_id, old, raw = self._raw[number % len(self._raw)]
        new_id = f"{order_id}-R{number // len(self._raw)}"
        return new_id, raw.replace(old, f'"order_id":"{new_id}"'.encode(), 1)

    def _allowed(self) -> int:
        live = int(self.rate * (time.monotonic() - self.started))
        floor = self._at_least if self._finish.is_set() else 0
        return max(live + self._bursts, floor)

    def _run(self) -> None:
        try:
            producer = self.kafka.producer()
            number = 0
            while not (self._finish.is_set() and number >= self._at_least):
                if number >= self._allowed():
                    producer.poll(0.002)  # ahead of the live rate: serve callbacks meanwhile
                    continue
                key, value = self._record(number)
                self.produced_at.append(time.monotonic())
                self.partition.append(-1)
                self.offset.append(-1)
                while True:
                    try:
                        producer.produce(
                            self.kafka.topic,
                            key=key,
                            value=value,
                            on_delivery=partial(self._delivered, number),
                        )
                        break
                    except BufferError:  # local queue full: let deliveries drain
                        producer.poll(0.05)
                producer.poll(0)
                number += 1
                self.sent = number
            self.unflushed = producer.flush(180)
        except BaseException as exc:  # reported by finish()
            self._error = exc
        finally:
            self.stopped = time.monotonic()

    def finish(self, at_least: int = MIN_LINES, timeout: float = 300.0) -> int:
        """Produce at full speed up to `at_least` lines, then wait for every acknowledgement."""
        self._at_least = at_least
        self._finish.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the producer did not finish in {timeout:.0f}s"
        if self._error is not None:
            raise AssertionError(f"producing failed: {self._error!r}") from self._error
        assert self.unflushed == 0, f"{self.unflushed} lines neither acknowledged nor failed"
        assert self.failed == 0, f"{self.failed} lines not acknowledged: {self.first_error}"
        assert self.acked == self.sent, f"{self.acked:,} acknowledged of {self.sent:,} sent"
        return self.sent

    def abort(self, timeout: float = 30.0) -> None:
        """Stop producing now (a failed test), without the checks of `finish`."""
        self._at_least = 0
        self._finish.set()
        self._thread.join(timeout)

    def first_after(self, moment: float, partitions: list[int]) -> dict[int, int]:
        """Per partition, the offset of the first line produced after `moment` (acknowledged)."""
        found: dict[int, int] = {}
        for number in range(bisect.bisect_right(self.produced_at, moment), len(self.offset)):
            partition = self.partition[number]
            if partition in partitions and partition not in found and self.offset[number] >= 0:
                found[partition] = self.offset[number]
                if len(found) == len(partitions):
                    break
        return found

    def expected(self) -> Expected:
        """What PostgreSQL must hold: every acknowledged line, under its order date."""
        expected = Expected()
        width = len(self._seed)
        for number, offset in enumerate(self.offset):
            if offset >= 0:
                line = self._seed[number % width]
                expected.add(f"{line.order_id}-R{number // width}", line)
        return expected


@dataclass(frozen=True)
class Commit:
    """One committed batch as the consumer reported it (monotonic times)."""

    at: float
    submitted: float
    written: int
    offsets: dict[int, int]


class IngestRun:
    """The real consumer (`superstore.ingest.Ingestor`) in a thread, every commit recorded."""

    def __init__(self, kafka: KafkaConfig, pg: PgConfig) -> None:
        self.commits: list[Commit] = []
        self.position: dict[int, int] = {}  # next offset committed last, per partition
        self._stop = threading.Event()
        self._error: BaseException | None = None
        options = IngestOptions(progress_every=10.0)
        self.ingestor = Ingestor(kafka, pg, options, on_batch=self._on_batch, stop=self._stop)
        self._thread = threading.Thread(target=self._run, name="ingest-run", daemon=True)
        self.stats: IngestStats = self.ingestor.stats

    def start(self) -> IngestRun:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.ingestor.run()
        except BaseException as exc:  # reported by stop() and alive()
            self._error = exc

    def _on_batch(self, report: BatchReport) -> None:
        now = time.monotonic()
        self.position.update(report.offsets)
        self.commits.append(Commit(now, now - report.seconds, report.written, report.offsets))

    def committed(self) -> int:
        """Messages covered by the offsets committed last (lower again after a rewind)."""
        return sum(self.position.values())

    def alive(self) -> bool:
        """True while the consumer runs; raises what it died of."""
        if self._error is not None:
            raise AssertionError(f"ingest died: {self._error!r}") from self._error
        return self._thread.is_alive()

    def wait_committed(self, lines: int, timeout: float, what: str) -> float:
        """Wait until `lines` more messages than now are committed; the seconds it took."""
        started = time.monotonic()
        target = self.committed() + lines
        while self.committed() < target:
            assert self.alive(), "ingest stopped by itself"
            if time.monotonic() - started > timeout:
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting for {what}: "
                    f"{self.committed():,} committed, {target:,} wanted"
                )
            time.sleep(0.05)
        return time.monotonic() - started

    def wait_caught_up(self, ends: dict[int, int], timeout: float) -> None:
        """Wait until the committed offsets reach `ends` (every partition's end)."""
        deadline = time.monotonic() + timeout
        while self.position != ends:
            assert self.alive(), "ingest stopped by itself"
            assert time.monotonic() < deadline, (
                f"ingest did not catch up in {timeout:.0f}s: committed {self.position}, "
                f"end of the topic {ends}"
            )
            time.sleep(0.1)

    def abort(self, timeout: float = 30.0) -> None:
        """Stop the consumer (a failed test), whatever it died of."""
        self._stop.set()
        self._thread.join(timeout)

    def stop(self, timeout: float = 60.0) -> IngestStats:
        """Finish the batch in flight and stop; the run's counters."""
        self._stop.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"ingest did not stop within {timeout:.0f}s"
        self.alive()
        return self.stats


class Watermarks:
    """End offsets of a topic's partitions, read by one long-lived client (fast, repeatable)."""

    def __init__(self, kafka: KafkaConfig) -> None:
        self.kafka = kafka
        self._consumer = kafka.consumer(f"failover-marks-{uuid.uuid4().hex[:6]}")

    def read(self, timeout: float = 30.0) -> dict[int, int]:
        """End offset per partition; retried while a leader is unknown (just after a fault)."""
        topic = self.kafka.topic
        deadline = time.monotonic() + timeout
        while True:
            try:
                return {
                    p: self._consumer.get_watermark_offsets(
                        TopicPartition(topic, p), timeout=5, cached=False
                    )[1]
                    for p in range(self.kafka.partitions)
                }
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                # Seen after a second leader kill: the client's metadata kept saying
                # "unknown partition" for 30 s. A new client starts from fresh metadata.
                self._consumer.close()
                self._consumer = self.kafka.consumer(f"failover-marks-{uuid.uuid4().hex[:6]}")
                time.sleep(0.2)

    def close(self) -> None:
        self._consumer.close()


@dataclass
class Fault:
    """One fault: when it struck and the partitions it took the leader (or database) of."""

    kind: str
    at: float  # monotonic, just before the fault
    partitions: list[int]
    detail: dict[str, object] = field(default_factory=dict)


def measure(
    fault: Fault, commits: list[Commit], fresh: dict[int, int], window: float = 30.0
) -> dict[str, object]:
    """The stall a fault caused, from the commits around it.

    `fresh` holds, per touched partition, the offset of the first line produced
    after the fault (`AckedStream.first_after`): that line could only be written
    by whatever took over.

    - `to_next_commit_s`: from the fault to the first committed batch holding
      such a line (what a reader of PostgreSQL waits for before anything new of
      a touched partition shows up);
    - `longest_gap_s`: the longest pause between two commits of a touched
      partition, from the last one before the fault until that batch (data
      fetched before the fault can keep commits going for a while);
    - `lines_per_s_before` / `lines_per_s_after`: lines committed in the 15 s
      before and the `window` seconds after the fault; `peak_lines_per_s_after`
      the best 5 s of that window (full speed again once the backlog drains).
    """
    touched = set(fault.partitions)
    mine = [c for c in commits if touched & set(c.offsets)]
    first = next(
        (
            c
            for c in mine
            if c.at > fault.at and any(c.offsets.get(p, -1) > o for p, o in fresh.items())
        ),
        None,
    )
    until = first.at if first else fault.at + window
    times = [c.at for c in mine if c.at <= fault.at][-1:] or [fault.at]
    times += [c.at for c in mine if fault.at < c.at <= until]
    if first is None:
        times.append(until)  # still stalled at the window's end: the gap runs that long at least
    gaps = [b - a for a, b in itertools.pairwise(times)]
    inside = [c for c in commits if fault.at < c.at <= fault.at + window]
    peak = max(
        (sum(d.written for d in inside if c.at - 5 < d.at <= c.at) / 5 for c in inside), default=0
    )
    earlier = sum(c.written for c in commits if fault.at - 15 < c.at <= fault.at)
    last = commits[-1].at if commits else fault.at
    return {
        "fault": fault.kind,
        "partitions": sorted(touched),
        **fault.detail,
        "to_next_commit_s": round(first.at - fault.at, 2) if first else None,
        "longest_gap_s": round(max(gaps), 2) if gaps else None,
        "lines_per_s_before": round(earlier / 15),
        "lines_per_s_after": round(sum(c.written for c in inside) / window),
        "peak_lines_per_s_after": round(peak),
        "window_complete": last >= fault.at + window,
    }


def walsender(settings: Settings) -> psutil.Process:
    """The primary's WAL sender to the standby (SIGSTOP it to hold replication back).

    Stopping the sender, not the standby's receiver: WAL the sender already wrote
    waits in the loopback socket's buffers (megabytes) and a resumed receiver
    would still read it after the primary died, so nothing would be lost.
    """
    state = read_state(settings.data_dir)
    assert state and state.postgres and state.pg_standby, "no PostgreSQL pair is running"
    for child in psutil.Process(state.postgres.pid).children():
        if "walsender" in " ".join(child.cmdline()):
            return child
    raise AssertionError(f"the primary (pid {state.postgres.pid}) has no walsender")
