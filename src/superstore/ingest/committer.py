"""The writer thread's job: commit one batch, retrying until it lands.

Runs in the ingest's writer thread and owns the PostgreSQL connection and the
dead-letter producer. The transaction itself (rows, rejects, offsets) is the
OLTP store's `write_batch`; this module decides what to do when it fails, in
one place, with three outcomes: committed, fenced (drop and re-seek), or
stopped.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import psycopg

from superstore.clients import KafkaConfig, PgConfig
from superstore.errors import TransientError
from superstore.faults import crash_point
from superstore.ingest.dlq import DeadLetters
from superstore.oltp import REFUSED_REASON, Batch, FencedError, Reject, find_refused, write_batch
from superstore.retry import Backoff, retry, short_reason

__all__ = ["PG_TRANSIENT", "BatchCommitter", "Commit", "IngestStats", "Outcome", "retry_pg"]

log = logging.getLogger(__name__)
T = TypeVar("T")
PG_TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError, TransientError)


class Outcome(enum.Enum):
    """What happened to a batch."""

    COMMITTED = "committed"
    FENCED = "fenced"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Commit:
    """The outcome of one batch and, when committed, what its transaction wrote."""

    outcome: Outcome
    written: int = 0
    rejected: int = 0
    events: int = 0
    days: int = 0  # order dates whose data the batch changed
    categories: tuple[tuple[str, str], ...] = ()  # of product versions new to the store


@dataclass
class IngestStats:
    """Counters of one run, reported at the end and periodically."""

    messages: int = 0
    lines: int = 0
    rejected: int = 0
    batches: int = 0
    retries: int = 0
    fenced: int = 0
    started: float = field(default_factory=time.monotonic)
    first_assigned: float | None = None  # monotonic time partitions first arrived

    @property
    def rate(self) -> float:
        """Messages per second since start."""
        elapsed = time.monotonic() - self.started
        return self.messages / elapsed if elapsed > 0 else 0.0


def retry_pg(
    action: Callable[[], T], stop: threading.Event, stats: IngestStats, max_backoff: float
) -> T:
    """Run `action`, retrying with backoff while PostgreSQL is unavailable."""

    def counted(_: BaseException) -> None:
        stats.retries += 1

    return retry(
        action,
        transient=PG_TRANSIENT,
        stop=stop,
        backoff=Backoff(maximum=max_backoff),
        what="PostgreSQL",
        on_retry=counted,
    )


class BatchCommitter:
    """Commits batches for one consumer group; used by one thread at a time."""

    def __init__(
        self,
        kafka: KafkaConfig,
        pg: PgConfig,
        group_id: str,
        stop: threading.Event,
        max_backoff: float = 30.0,
    ) -> None:
        self.pg = pg
        self.group_id = group_id
        self.stop = stop
        self.max_backoff = max_backoff
        self.stats = IngestStats()
        self._dlq = DeadLetters(kafka)
        self._conn: psycopg.Connection | None = None

    def write(self, batch: Batch) -> Commit:
        """Commit the batch, its rejects and offsets; retry transient failures until stopped."""
        backoff = Backoff(maximum=self.max_backoff)
        dead_lettered = 0  # rejects already acknowledged by the DLQ topic: never resent
        while True:
            try:
                if len(batch.rejects) > dead_lettered:
                    self._dlq.send(batch.rejects[dead_lettered:])
                    dead_lettered = len(batch.rejects)
                result = write_batch(self._connection(), self.group_id, batch)
                crash_point("after_commit")
            except FencedError as exc:
                log.warning("%s; dropping the batch and re-seeking", exc)
                self.stats.fenced += 1
                self._reset()
                return Commit(Outcome.FENCED)
            except (psycopg.IntegrityError, psycopg.DataError) as exc:
                log.warning(
                    "PostgreSQL refused the batch (%s); isolating bad lines", short_reason(exc)
                )
                self._reset()
                batch = self._without_refused(batch)
                continue
            except PG_TRANSIENT as exc:
                self.stats.retries += 1
                delay = backoff.next()
                log.warning(
                    "write failed (%s); nothing committed, retrying in %.1fs",
                    short_reason(exc),
                    delay,
                )
                self._reset()
                if self.stop.wait(delay):
                    return Commit(Outcome.STOPPED)
                continue
            self.stats.lines += result.lines
            self.stats.rejected += len(batch.rejects)
            self.stats.batches += 1
            return Commit(
                Outcome.COMMITTED,
                result.lines,
                len(batch.rejects),
                result.events,
                len(result.days),
                tuple(result.categories),
            )

    def _without_refused(self, batch: Batch) -> Batch:
        lines = batch.deduplicated()
        refused = retry_pg(
            lambda: find_refused(self._connection(), lines), self.stop, self.stats, self.max_backoff
        )
        rejects = list(batch.rejects)
        for staged in lines:
            if staged.key in refused:
                reason = f"{REFUSED_REASON}: {refused[staged.key]}"
                key = staged.doc.order_id.encode()
                rejects.append(
                    Reject(
                        staged.topic, staged.partition, staged.offset, key, staged.payload, reason
                    )
                )
        good = [x for x in batch.lines if x.key not in refused]
        return Batch(lines=good, rejects=rejects, offsets=batch.offsets)

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self.pg.connect(autocommit=True)  # transactions are explicit
        return self._conn

    def _reset(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        """Flush dead letters and close the connection."""
        self._dlq.close()
        self._reset()
