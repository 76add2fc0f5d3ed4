"""Writing a batch of lines, events, rejects and offsets in ONE PostgreSQL transaction.

The lines and events go in through superstore.oltp.lines (staging, upserts,
day totals, events settled, changed days marked). Offsets are fenced: a batch
only commits if the stored offset of each partition is still the one this
consumer started from, so a consumer that lost its partitions in a rebalance
cannot overwrite the new owner's progress. The commit notifies
``NOTIFY_CHANNEL`` (the live dashboard and the continuous sync listen).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import psycopg

from superstore.errors import SuperstoreError
from superstore.faults import crash_point
from superstore.oltp import staging as sql
from superstore.oltp.lines import TrackingNeeded, Written, stage, upsert_staged
from superstore.oltp.records import Batch, Reject, StagedEvent, StagedLine

__all__ = [
    "NOTIFY_CHANNEL",
    "TRACKING_LOCK",
    "Batch",
    "BatchResult",
    "FencedError",
    "Reject",
    "StagedEvent",
    "StagedLine",
    "find_refused",
    "read_offsets",
    "write_batch",
    "write_wide",
]

NOTIFY_CHANNEL = "sales_lines"
# Every write transaction holds it shared; starting to track a day holds it exclusively.
TRACKING_LOCK = 0x5E5E_0002


class BatchResult(NamedTuple):
    """What one committed batch wrote."""

    lines: int  # lines staged (one per key)
    events: int
    days: list[dt.date]  # order dates whose data changed
    categories: list[tuple[str, str]]  # (category, sub-category) of new product versions


class FencedError(SuperstoreError):
    """Another consumer moved this partition's offset: our batch is stale, drop it."""


def _move_offsets(conn: psycopg.Connection, group_id: str, batch: Batch) -> None:
    """Advance each partition's stored offset from the one this consumer read there.

    A consumer that expects a stored offset the database does not hold at all has
    seen commits this database lost (an asynchronous standby promoted before it
    received them): writing after that gap would skip those lines forever, so it
    is fenced and re-reads from what the database holds.
    """
    for (topic, partition), (expected, new) in sorted(batch.offsets.items()):
        key = {"g": group_id, "t": topic, "p": partition, "n": new, "e": expected}
        if expected is None:  # first batch of this group on the partition: no row yet
            row = conn.execute(
                """INSERT INTO ingest_offsets (group_id, topic, partition, next_offset)
                   VALUES (%(g)s, %(t)s, %(p)s, %(n)s)
                   ON CONFLICT (group_id, topic, partition) DO NOTHING
                   RETURNING next_offset""",
                key,
            ).fetchone()
        else:
            row = conn.execute(
                """UPDATE ingest_offsets SET next_offset = %(n)s, updated_at = now()
                   WHERE group_id = %(g)s AND topic = %(t)s AND partition = %(p)s
                     AND next_offset = %(e)s
                   RETURNING next_offset""",
                key,
            ).fetchone()
        if row is not None:
            continue
        held = conn.execute(
            """SELECT next_offset FROM ingest_offsets
               WHERE group_id = %(g)s AND topic = %(t)s AND partition = %(p)s""",
            key,
        ).fetchone()
        if expected is not None and held is None:
            raise FencedError(
                f"{topic}[{partition}]: this consumer committed up to offset {expected} but "
                "the database holds no offset for it (lost commits, e.g. after an "
                "asynchronous failover); re-reading from what it holds"
            )
        raise FencedError(
            f"offset of {topic}[{partition}] moved under us (expected {expected}, "
            f"database holds {held[0] if held else None}); another consumer owns it now"
        )


def _insert_rejects(conn: psycopg.Connection, rejects: Sequence[Reject]) -> None:
    if not rejects:
        return
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO rejected_lines (topic, partition, "offset", msg_key, raw, reason)
               VALUES (%s, %s, %s, %s, %s, %s)
               ON CONFLICT (topic, partition, "offset") DO NOTHING""",
            [(r.topic, r.partition, r.offset, r.key, r.raw, r.reason) for r in rejects],
        )


def write_batch(conn: psycopg.Connection, group_id: str, batch: Batch) -> BatchResult:
    """Write lines, events, rejects and offsets atomically; says what it wrote.

    Raises FencedError (nothing written) when another consumer owns a partition,
    and lets psycopg errors propagate for the caller to classify.
    """
    lines = batch.deduplicated()
    try:
        return _write(conn, group_id, batch, lines, exclusive=False)
    except TrackingNeeded:
        # Starting to track a day (once per day): wait out every other writer so the
        # scan that seeds its totals sees all of its lines, then write the batch.
        return _write(conn, group_id, batch, lines, exclusive=True)


def _write(
    conn: psycopg.Connection,
    group_id: str,
    batch: Batch,
    lines: Sequence[StagedLine],
    *,
    exclusive: bool,
) -> BatchResult:
    with conn.transaction():
        lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        conn.execute(f"SELECT {lock}(%s)", [TRACKING_LOCK])
        staged = len(lines)
        written = Written([], [])
        if lines or batch.events:
            rows = stage(conn, lines, with_lines=False, events=batch.events)
            written = upsert_staged(conn, exclusive=exclusive, rows=rows, events=bool(batch.events))
        _insert_rejects(conn, batch.rejects)
        _move_offsets(conn, group_id, batch)
        if staged or batch.events or batch.rejects:
            payload = json.dumps(
                {
                    "lines": staged,
                    "events": len(batch.events),
                    "rejects": len(batch.rejects),
                    "days": len(written.days),
                }
            )
            conn.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, payload])
        crash_point("before_commit")
    return BatchResult(staged, len(batch.events), written.days, written.categories)


def write_wide(conn: psycopg.Connection, table: str) -> None:
    """Upsert the lines held in a wide table of `WIDE_COLUMNS` rows, in the open transaction.

    For writers that cannot stage a batch themselves (a JDBC sink appends one
    wide row per line): the rows are spread into the staging tables and
    upserted as a batch is, under the same lock protocol (held exclusively, so
    any day may start being tracked). Offsets are the caller's business.
    """
    conn.execute("SELECT pg_advisory_xact_lock(%s)", [TRACKING_LOCK])
    stage(conn, [])  # the session's staging tables, empty
    for statement in sql.spread_wide(table):
        conn.execute(statement)
    upsert_staged(conn, exclusive=True)


def read_offsets(
    conn: psycopg.Connection, group_id: str, topic: str, partitions: Iterable[int]
) -> dict[int, int]:
    """Stored next offsets for the given partitions (absent = nothing stored yet)."""
    rows = conn.execute(
        "SELECT partition, next_offset FROM ingest_offsets"
        " WHERE group_id = %s AND topic = %s AND partition = ANY(%s)",
        [group_id, topic, list(partitions)],
    ).fetchall()
    return {int(p): int(o) for p, o in rows}


class _Probe(Exception):
    """Raised to roll back a probe transaction that succeeded."""


def _probe(conn: psycopg.Connection, lines: Sequence[StagedLine]) -> str | None:
    """Would PostgreSQL accept these lines? Always rolled back; returns its refusal or None."""
    try:
        with conn.transaction():
            stage(conn, lines)
            for statement in (*sql.PARENTS, sql.ORDERS_WRITTEN, sql.LINES_UPSERT):
                conn.execute(statement)
            raise _Probe()
    except _Probe:
        return None
    except (psycopg.IntegrityError, psycopg.DataError) as exc:
        return str(exc).strip().splitlines()[0][:200]


def find_refused(conn: psycopg.Connection, lines: Sequence[StagedLine]) -> dict[str, str]:
    """Keys of the lines PostgreSQL refuses, with its reason, by bisection.

    Costs O(bad x log n) rolled-back probes instead of one per line.
    """
    refused: dict[str, str] = {}
    pending = [list(lines)]
    while pending:
        part = pending.pop()
        error = _probe(conn, part)
        if error is None:
            continue
        if len(part) == 1:
            refused[part[0].key] = error
        else:
            pending += [part[: len(part) // 2], part[len(part) // 2 :]]
    return refused
