"""Which days changed, and which partitions of a lake are behind them (migration 004).

A day's mark is set, in the transaction that changes the day, to a new value
of the `change_mark` sequence taken while holding the day's row lock: marks
only grow, in commit order, per day. An export reads the marks in its
snapshot and records them (`record_exports`) once a partition is published;
a day whose mark is newer than its recorded export is stale. The records are
an index over the lake's manifests, which stay the truth: a lost record only
makes a day look stale, and exporting it again is idempotent.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import psycopg

__all__ = [
    "MARK_DAYS",
    "SYNC_LOCK",
    "StaleDay",
    "day_marks",
    "exported_marks",
    "last_mark",
    "mark_changed_days",
    "record_exports",
    "release_sync_lock",
    "stale_days",
    "try_sync_lock",
]

SYNC_LOCK = 0x5E5E_0006  # first key of the session advisory lock one syncer of a lake holds

# The days the batch's statements wrote to stage_changed_days, marked once each, in day
# order (writers lock shared rows in one order). SET is evaluated after the row lock is
# taken, so the mark is newer than whatever the previous holder committed.
MARK_DAYS = """
INSERT INTO day_changes AS c (order_date, mark)
SELECT order_date, nextval('change_mark')
FROM (SELECT DISTINCT order_date FROM stage_changed_days) d
ORDER BY order_date
ON CONFLICT (order_date) DO UPDATE SET mark = nextval('change_mark'), changed_at = now()
RETURNING order_date
"""

_STALE = """
SELECT c.order_date, c.mark, e.mark, c.changed_at
FROM day_changes c
LEFT JOIN lake_exports e ON e.lake = %(lake)s AND e.order_date = c.order_date
WHERE e.mark IS NULL OR e.mark < c.mark
ORDER BY c.order_date
"""


@dataclass(frozen=True)
class StaleDay:
    """A day whose data changed since its partition was exported (or never exported)."""

    day: dt.date
    mark: int
    exported_mark: int | None
    changed_at: dt.datetime


def mark_changed_days(conn: psycopg.Connection) -> list[dt.date]:
    """Mark every day the current transaction's statements recorded as changed."""
    return [row[0] for row in conn.execute(MARK_DAYS).fetchall()]


def day_marks(conn: psycopg.Connection, days: Iterable[dt.date]) -> dict[dt.date, int]:
    """The marks of ``days`` as the connection's snapshot sees them (0: never changed)."""
    wanted = sorted(set(days))
    rows = conn.execute(
        "SELECT order_date, mark FROM day_changes WHERE order_date = ANY(%s)", [wanted]
    ).fetchall()
    found = {day: int(mark) for day, mark in rows}
    return {day: found.get(day, 0) for day in wanted}


def last_mark(conn: psycopg.Connection) -> int:
    """The newest change mark handed out so far (0: none): any later change is above it."""
    row = conn.execute("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM change_mark")
    found = row.fetchone()
    return int(found[0]) if found else 0


def record_exports(conn: psycopg.Connection, lake: str, marks: Mapping[dt.date, int]) -> None:
    """Remember that ``lake`` now holds these days at these marks (after publishing them)."""
    if not marks:
        return
    days = sorted(marks)
    conn.execute(
        """INSERT INTO lake_exports AS e (lake, order_date, mark)
           SELECT %(lake)s, d, m FROM unnest(%(days)s::date[], %(marks)s::bigint[]) AS x(d, m)
           ORDER BY d
           ON CONFLICT (lake, order_date) DO UPDATE
           SET mark = EXCLUDED.mark, exported_at = now()""",
        {"lake": lake, "days": days, "marks": [marks[d] for d in days]},
    )


def stale_days(conn: psycopg.Connection, lake: str) -> list[StaleDay]:
    """Days whose latest change is newer than ``lake``'s partition of them, oldest first."""
    return [
        StaleDay(day, int(mark), None if done is None else int(done), changed)
        for day, mark, done, changed in conn.execute(_STALE, {"lake": lake}).fetchall()
    ]


def _lake_key(lake: str) -> int:
    return zlib.crc32(lake.encode()) - (1 << 31)  # a signed int4


def try_sync_lock(conn: psycopg.Connection, lake: str) -> bool:
    """Become the one process syncing ``lake`` (held by the session until released)."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", [SYNC_LOCK, _lake_key(lake)])
    found = row.fetchone()
    return bool(found and found[0])


def release_sync_lock(conn: psycopg.Connection, lake: str) -> None:
    """Let another process sync ``lake`` (a killed process releases it by disconnecting)."""
    conn.execute("SELECT pg_advisory_unlock(%s, %s)", [SYNC_LOCK, _lake_key(lake)])


def exported_marks(conn: psycopg.Connection, lake: str) -> dict[dt.date, int]:
    """The mark of every day ``lake`` holds, as its exports recorded them."""
    rows = conn.execute(
        "SELECT order_date, mark FROM lake_exports WHERE lake = %s", [lake]
    ).fetchall()
    return {day: int(mark) for day, mark in rows}
