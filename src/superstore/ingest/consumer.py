"""The ingest loop: consume a batch, validate, write batch + offsets in one transaction.

Exactly-once comes from PostgreSQL, not Kafka: the next offset of every
partition is stored with the lines it covers, and on assignment the consumer
seeks to those stored offsets. Kafka's committed offsets are updated too, but
only as a courtesy for lag monitoring; they are never read back.

Throughput: decoding batch N+1 (Python) overlaps with writing batch N
(PostgreSQL, in a writer thread). At most one batch is in flight; it is
finished before the next is submitted and before partitions are revoked.

Failure handling, decided in one place (`BatchCommitter.write`):
- PostgreSQL unreachable or failing transiently: nothing is committed; the
  writer retries the same batch with backoff until PostgreSQL answers.
  Nothing is skipped, nothing is read past it.
- A row PostgreSQL refuses (constraint, data error): bisection finds it; it
  goes to the dead-letter topic and table; the rest of the batch is written.
- Fenced (another consumer owns the partition now): the batch is dropped and
  the consumer re-seeks from the stored offsets.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from pydantic import ValidationError

from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import (
    DEFAULT_EXPECTATIONS,
    Expectations,
    OrderEvent,
    WireError,
    decode_message,
    describe_validation_error,
)
from superstore.errors import FatalError
from superstore.faults import crash_point
from superstore.ingest.committer import BatchCommitter, Commit, IngestStats, Outcome, retry_pg
from superstore.oltp import Batch, Reject, StagedEvent, StagedLine, migrate, read_offsets

__all__ = ["BatchReport", "IngestOptions", "IngestStats", "Ingestor"]

log = logging.getLogger(__name__)
ASSIGN_WAIT = 60.0
IDLE_GIVE_UP = 60.0  # --until-idle stops after this long without data even if behind


@dataclass(frozen=True)
class IngestOptions:
    """How the loop runs; the defaults suit a long-running service."""

    group_id: str = "superstore-ingest"
    batch_size: int = 20_000
    batch_timeout: float = 0.05  # consume() returns a full batch at once when data is queued
    until_idle: float | None = None
    max_lines: int | None = None
    progress_every: float = 5.0
    max_backoff: float = 30.0
    expect: Expectations = DEFAULT_EXPECTATIONS  # reference sets of region, segment, ...


@dataclass(frozen=True)
class BatchReport:
    """One committed batch, for whoever watches the loop (metrics, tests).

    The counts are the batch's own, from its transaction, so a watcher never
    races the writer thread for the running totals.
    """

    consumed: int
    written: int
    rejected: int
    seconds: float
    lag: dict[int, int]  # messages behind the end, per owned partition
    events: int = 0
    days: int = 0  # order dates whose data changed
    categories: tuple[tuple[str, str], ...] = ()  # (category, sub-category) of new products
    offsets: dict[int, int] = field(default_factory=dict)  # next offset it committed, per partition


@dataclass
class _InFlight:
    future: Future[Commit]
    batch: Batch
    consumed: int
    submitted: float


class Ingestor:
    """One consumer-group member; several processes with one group share partitions."""

    def __init__(
        self,
        kafka: KafkaConfig,
        pg: PgConfig,
        options: IngestOptions | None = None,
        on_batch: Callable[[BatchReport], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.kafka = kafka
        self.pg = pg
        self.options = options or IngestOptions()
        self.stop_event = stop or threading.Event()
        self.committer = BatchCommitter(
            kafka, pg, self.options.group_id, self.stop_event, self.options.max_backoff
        )
        self.stats = self.committer.stats
        self._on_batch = on_batch
        self._consumer: Consumer | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer")
        self._in_flight: _InFlight | None = None
        # Committed next offset per owned partition (None = nothing stored yet),
        # and the position after the last batch handed to the writer.
        self._stored: dict[int, int | None] = {}
        self._position: dict[int, int | None] = {}
        self._assigned_at = 0.0
        self._reported_messages = 0

    # -- lifecycle -------------------------------------------------------
    def install_signal_handlers(self) -> None:
        """SIGINT/SIGTERM finish the current batch, then stop cleanly."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop_event.set())

    def run(self) -> IngestStats:
        """Consume until stopped, idle for `until_idle`, or `max_lines` reached."""
        retry_pg(lambda: migrate(self.pg), self.stop_event, self.stats, self.options.max_backoff)
        self._consumer = self.kafka.consumer(
            self.options.group_id,
            **{
                "partition.assignment.strategy": "range",
                "max.poll.interval.ms": 600_000,
                # A crashed member's partitions move after 10 s instead of 45 s.
                "session.timeout.ms": 10_000,
                "heartbeat.interval.ms": 1_000,
            },
        )
        self._consumer.subscribe(
            [self.kafka.topic], on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        last_data = last_report = time.monotonic()
        try:
            while not self.stop_event.is_set():
                messages = self._keep_data(
                    self._consumer.consume(self.options.batch_size, self.options.batch_timeout)
                )
                now = time.monotonic()
                last_data = max(last_data, self._assigned_at)  # idle counts from assignment
                if messages:
                    last_data = now
                    self._submit(self._build(messages), len(messages))
                else:
                    self._finish()
                    if self._idle_enough(now, last_data):
                        log.info("topic idle for %.1fs, stopping", now - last_data)
                        break
                if now - last_report >= self.options.progress_every:
                    last_report = now
                    self._report()
                limit = self.options.max_lines
                if limit is not None and self.stats.messages >= limit:
                    break
            self._finish()
        finally:
            self._close()
        self._report(final=True)
        return self.stats

    def _idle_enough(self, now: float, last_data: float) -> bool:
        """--until-idle: quiet that long since the last data (or since assignment).

        Before the first assignment the group may still be forming (a new
        broker creates its offsets topic first), so wait up to ASSIGN_WAIT.
        """
        idle = self.options.until_idle
        if idle is None:
            return False
        if not self._assigned_at and now - self.stats.started < max(idle, ASSIGN_WAIT):
            return False
        if now - last_data < idle:
            return False
        # Quiet is not the end: a loaded machine or a slow fetch can leave a partition
        # behind for seconds. Stop only when every partition is caught up (or,
        # should the broker never deliver, after a much longer wait, saying so).
        behind = self._behind()
        if not behind:
            return True
        if now - last_data >= max(IDLE_GIVE_UP, 6 * idle):
            log.warning("stopping while partitions are behind (messages left: %s)", behind)
            return True
        return False

    def _behind(self) -> dict[int, int]:
        """Partitions of the topic whose stored position is short of the broker's end.

        Every partition, not only the owned ones: a member killed a moment ago still
        holds its partitions until its session times out, and stopping while they
        wait would leave their lines unread with no one to read them.
        """
        assert self._consumer is not None
        positions: dict[int, int | None] = dict(self._stored)
        try:
            meta = self._consumer.list_topics(self.kafka.topic, timeout=5)
            others = sorted(set(meta.topics[self.kafka.topic].partitions) - set(positions))
        except KafkaException as exc:
            log.debug("partitions of %s: %s", self.kafka.topic, exc)
            others = []
        if others:
            stored = self._read_stored(others)
            positions.update({p: stored.get(p) for p in others})
        behind = {}
        for partition, position in positions.items():
            tp = TopicPartition(self.kafka.topic, partition)
            try:
                _, high = self._consumer.get_watermark_offsets(tp, timeout=5, cached=False)
            except KafkaException as exc:
                log.debug("watermarks of partition %s: %s", partition, exc)
                behind[partition] = -1  # unknown: not known to be caught up
                continue
            if high > (position or 0):
                behind[partition] = high - (position or 0)
        return behind

    def _close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        self._pool.shutdown(wait=True)
        self.committer.close()

    def _report(self, final: bool = False) -> None:
        s = self.stats
        if not final and s.messages == self._reported_messages:
            return  # quiet while idle: one line per change, not one every few seconds
        self._reported_messages = s.messages
        log.info(
            "%s%d messages (%d lines, %d rejected) in %d batches, %.0f msg/s, %d retries",
            "done: " if final else "",
            s.messages, s.lines, s.rejected, s.batches, s.rate, s.retries,
        )  # fmt: skip

    # -- rebalancing -----------------------------------------------------
    def _read_stored(self, partitions: list[int]) -> dict[int, int]:
        def read() -> dict[int, int]:
            with self.pg.connect(autocommit=True) as conn:
                return read_offsets(conn, self.options.group_id, self.kafka.topic, partitions)

        return retry_pg(read, self.stop_event, self.stats, self.options.max_backoff)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        ids = [tp.partition for tp in partitions]
        stored = self._read_stored(ids)
        for tp in partitions:
            tp.offset = stored.get(tp.partition, OFFSET_BEGINNING)
            self._stored[tp.partition] = self._position[tp.partition] = stored.get(tp.partition)
        consumer.assign(partitions)
        self._assigned_at = time.monotonic()
        if self.stats.first_assigned is None:
            self.stats.first_assigned = self._assigned_at
        log.info("assigned %s from stored offsets %s", ids, stored or "(none: from the beginning)")

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._finish()  # commit (or drop) the batch in flight before giving partitions away
        for tp in partitions:
            self._stored.pop(tp.partition, None)
            self._position.pop(tp.partition, None)
        consumer.unassign()
        log.info("revoked %s", [tp.partition for tp in partitions])

    # -- batches ---------------------------------------------------------
    def _keep_data(self, messages: list[Message]) -> list[Message]:
        kept = []
        for msg in messages:
            err = msg.error()
            if err is None:
                kept.append(msg)
            elif err.code() == KafkaError._PARTITION_EOF:
                continue
            elif err.fatal():
                raise FatalError(f"Kafka consumer failed: {err.str()}")
            else:
                log.warning("Kafka: %s (retrying)", err.str())
        return kept

    def _build(self, messages: list[Message]) -> Batch:
        """Decode and validate; offsets expect the position after the previous batch."""
        batch = Batch()
        topic = self.kafka.topic
        lines, rejects, expect = batch.lines, batch.rejects, self.options.expect
        last: dict[int, int] = {}  # partition -> last offset in this batch
        for msg in messages:
            partition, offset, raw = msg.partition(), msg.offset(), msg.value()
            assert partition is not None and offset is not None  # a data message has both
            last[partition] = offset
            if raw is None:
                reason = "undecodable: empty message value"
                rejects.append(Reject(topic, partition, offset, msg.key(), raw, reason))
                continue
            try:
                doc = decode_message(raw, expect)
            except ValidationError as exc:
                reason = describe_validation_error(exc)
                rejects.append(Reject(topic, partition, offset, msg.key(), raw, reason))
            except WireError as exc:
                rejects.append(Reject(topic, partition, offset, msg.key(), raw, str(exc)))
            except ValueError as exc:
                reason = f"undecodable: {exc}"
                rejects.append(Reject(topic, partition, offset, msg.key(), raw, reason))
            else:
                if isinstance(doc, OrderEvent):
                    batch.events.append(StagedEvent(doc, raw, topic, partition, offset))
                else:
                    lines.append(StagedLine(doc, raw, topic, partition, offset))
        for partition, offset in last.items():
            batch.offsets[topic, partition] = (self._position.get(partition), offset + 1)
        return batch

    def _submit(self, batch: Batch, consumed: int) -> None:
        if not self._finish():
            return  # the previous batch was dropped and we rewound: this one is stale too
        for (_, partition), (_, new) in batch.offsets.items():
            self._position[partition] = new
        future = self._pool.submit(self.committer.write, batch)
        self._in_flight = _InFlight(future, batch, consumed, time.monotonic())

    def _finish(self) -> bool:
        """Wait for the batch in flight; True if it committed (or there was none)."""
        flight, self._in_flight = self._in_flight, None
        if flight is None:
            return True
        commit = flight.future.result()
        if commit.outcome is Outcome.COMMITTED:
            seconds = time.monotonic() - flight.submitted
            for (_, partition), (_, new) in flight.batch.offsets.items():
                if partition in self._stored:
                    self._stored[partition] = new
            self.stats.messages += flight.consumed
            self._commit_to_kafka(flight.batch)
            crash_point("after_kafka_commit")
            if self._on_batch:
                report = BatchReport(
                    flight.consumed,
                    commit.written,
                    commit.rejected,
                    seconds,
                    self._lag(),
                    commit.events,
                    commit.days,
                    commit.categories,
                    {p: new for (_, p), (_, new) in flight.batch.offsets.items()},
                )
                self._on_batch(report)
            return True
        self._rewind()
        return False

    def _rewind(self) -> None:
        """Seek every owned partition back to its stored offset, dropping in-flight data."""
        assert self._consumer is not None
        owned = sorted(self._stored)
        stored = self._read_stored(owned) if owned else {}
        for partition in owned:
            target = stored.get(partition, OFFSET_BEGINNING)
            self._stored[partition] = self._position[partition] = stored.get(partition)
            try:
                self._consumer.seek(TopicPartition(self.kafka.topic, partition, target))
            except Exception as exc:  # not yet fetching: assign() position is used instead
                log.debug("seek %s -> %s failed: %s", partition, target, exc)
        log.info("rewound partitions %s to stored offsets %s", owned, stored)

    def _lag(self) -> dict[int, int]:
        """Messages between the committed position and the end, per owned partition."""
        assert self._consumer is not None
        lag = {}
        for partition, position in self._stored.items():
            tp = TopicPartition(self.kafka.topic, partition)
            try:
                _, high = self._consumer.get_watermark_offsets(tp, cached=True)
            except Exception:  # watermarks not known yet
                continue
            if high >= 0:
                lag[partition] = max(high - (position or 0), 0)
        return lag

    def _commit_to_kafka(self, batch: Batch) -> None:
        assert self._consumer is not None
        offsets = [TopicPartition(t, p, new) for (t, p), (_, new) in batch.offsets.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=True)
        except Exception as exc:  # courtesy commit for lag metrics only
            log.debug("courtesy offset commit to Kafka failed: %s", exc)
