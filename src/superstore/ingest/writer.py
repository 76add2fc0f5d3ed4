"""Writing a batch of lines, its rejects and its offsets in ONE PostgreSQL transaction.

Fast path: COPY the batch into a temporary staging table, then set-based
INSERT ... ON CONFLICT into customers, products, orders and order_lines. The
line key is (order_id, line_number), so a replayed line replaces itself and
never adds its sales twice. Offsets are fenced: a batch only commits if the
stored offset of each partition is still the one this consumer started from,
so a consumer that lost its partitions in a rebalance cannot overwrite the
new owner's progress.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NamedTuple

import psycopg

from superstore.errors import SuperstoreError
from superstore.ingest.faults import crash_point
from superstore.messages import OrderLine
from superstore.wire import line_key

__all__ = [
    "STAGE_COLUMNS",
    "Batch",
    "FencedError",
    "Reject",
    "StagedLine",
    "find_refused",
    "read_offsets",
    "write_batch",
]

NOTIFY_CHANNEL = "sales_lines"
# Every write transaction holds it shared; starting to track a day holds it exclusively.
TRACKING_LOCK = 0x5E5E_0002

STAGE_COLUMNS = (
    "order_id", "line_number", "row_id", "order_date", "ship_date", "ship_mode",
    "customer_id", "customer_name", "segment", "country", "city", "state", "postal_code",
    "region", "product_id", "category", "sub_category", "product_name", "sales",
    "quantity", "discount", "profit", "src_topic", "src_partition", "src_offset",
)  # fmt: skip

_STAGE_DDL = """
CREATE TEMP TABLE IF NOT EXISTS stage_lines (
    order_id text, line_number integer, row_id integer, order_date date, ship_date date,
    ship_mode text, customer_id text, customer_name text, segment text, country text,
    city text, state text, postal_code text, region text, product_id text, category text,
    sub_category text, product_name text, sales numeric(18,4), quantity integer,
    discount numeric(6,4), profit numeric(18,4), src_topic text, src_partition integer,
    src_offset bigint
) ON COMMIT DELETE ROWS
"""

# Parents before children: the lines statement reads the orders' dates.
_PARENTS = (
    """INSERT INTO customers (customer_id, customer_name, segment)
       SELECT DISTINCT ON (customer_id) customer_id, customer_name, segment
       FROM stage_lines ORDER BY customer_id, src_partition DESC, src_offset DESC
       ON CONFLICT (customer_id) DO UPDATE
       SET customer_name = EXCLUDED.customer_name, segment = EXCLUDED.segment, updated_at = now()
       WHERE (customers.customer_name, customers.segment)
             IS DISTINCT FROM (EXCLUDED.customer_name, EXCLUDED.segment)""",
    """INSERT INTO products (product_id, product_name, category, sub_category, first_order_date)
       SELECT product_id, product_name, min(category), min(sub_category), min(order_date)
       FROM stage_lines GROUP BY product_id, product_name
       ON CONFLICT (product_id, product_name) DO UPDATE
       SET first_order_date = LEAST(products.first_order_date, EXCLUDED.first_order_date)
       WHERE EXCLUDED.first_order_date < products.first_order_date""",
)

_ORDERS = """
INSERT INTO orders (order_id, order_date, ship_date, ship_mode, customer_id, country,
                    city, state, postal_code, region)
    SELECT DISTINCT ON (order_id) order_id, order_date, ship_date, ship_mode, customer_id,
           country, city, state, postal_code, region
    FROM stage_lines ORDER BY order_id, src_offset DESC
    ON CONFLICT (order_id) DO UPDATE
    SET order_date = EXCLUDED.order_date, ship_date = EXCLUDED.ship_date,
        ship_mode = EXCLUDED.ship_mode, customer_id = EXCLUDED.customer_id,
        country = EXCLUDED.country, city = EXCLUDED.city, state = EXCLUDED.state,
        postal_code = EXCLUDED.postal_code, region = EXCLUDED.region, updated_at = now()
    WHERE (orders.order_date, orders.ship_date, orders.ship_mode, orders.customer_id,
           orders.country, orders.city, orders.state, orders.postal_code, orders.region)
          IS DISTINCT FROM
          (EXCLUDED.order_date, EXCLUDED.ship_date, EXCLUDED.ship_mode, EXCLUDED.customer_id,
           EXCLUDED.country, EXCLUDED.city, EXCLUDED.state, EXCLUDED.postal_code,
           EXCLUDED.region)
"""

_LINES = """
INSERT INTO order_lines (order_id, line_number, row_id, product_id, product_name, sales,
                         quantity, discount, profit, src_topic, src_partition, src_offset)
    SELECT order_id, line_number, row_id, product_id, product_name, sales, quantity,
           discount, profit, src_topic, src_partition, src_offset
    FROM stage_lines
    ON CONFLICT (order_id, line_number) DO UPDATE
    SET row_id = EXCLUDED.row_id, product_id = EXCLUDED.product_id,
        product_name = EXCLUDED.product_name, sales = EXCLUDED.sales,
        quantity = EXCLUDED.quantity, discount = EXCLUDED.discount, profit = EXCLUDED.profit,
        src_topic = EXCLUDED.src_topic, src_partition = EXCLUDED.src_partition,
        src_offset = EXCLUDED.src_offset, ingested_at = now()
    WHERE (order_lines.row_id, order_lines.product_id, order_lines.product_name,
           order_lines.sales, order_lines.quantity, order_lines.discount, order_lines.profit)
          IS DISTINCT FROM
          (EXCLUDED.row_id, EXCLUDED.product_id, EXCLUDED.product_name, EXCLUDED.sales,
           EXCLUDED.quantity, EXCLUDED.discount, EXCLUDED.profit)
"""

# Tracked days (migration 003) are the days with a day_totals row; the writer
# starts tracking a day it writes lines of while the day is yesterday, today or
# tomorrow in UTC (today in any time zone).
_BATCH_DAYS = """
SELECT s.order_date, t.order_date IS NOT NULL AS tracked
FROM (SELECT DISTINCT order_date FROM stage_lines) s
LEFT JOIN day_totals t ON t.order_date = s.order_date
WHERE t.order_date IS NOT NULL
   OR s.order_date BETWEEN (now() AT TIME ZONE 'UTC')::date - 1
                       AND (now() AT TIME ZONE 'UTC')::date + 1
ORDER BY s.order_date
"""

# Start tracking days: their totals from what is stored (run under TRACKING_LOCK
# exclusively, so no other writer has uncommitted lines of them).
_TRACK_DAYS = """
WITH per_order AS (
    SELECT o.order_date, o.order_id, max(l.ingested_at) AS at
    FROM orders o JOIN order_lines l ON l.order_id = o.order_id
    WHERE o.order_date = ANY(%(days)s::date[])
    GROUP BY o.order_date, o.order_id
), days AS (
    INSERT INTO day_totals (order_date, orders, latest_ids, latest_at, last_at)
    SELECT d.day, count(p.order_id),
           coalesce((array_agg(p.order_id ORDER BY p.at DESC, p.order_id DESC)
                     FILTER (WHERE p.order_id IS NOT NULL))[:10], '{}'),
           coalesce((array_agg(p.at ORDER BY p.at DESC, p.order_id DESC)
                     FILTER (WHERE p.order_id IS NOT NULL))[:10], '{}'),
           coalesce(max(p.at), now())
    FROM unnest(%(days)s::date[]) AS d(day)
    LEFT JOIN per_order p ON p.order_date = d.day
    GROUP BY d.day
    ORDER BY d.day
)
INSERT INTO day_product_sales (order_date, product_id, product_name, lines, sales)
SELECT o.order_date, l.product_id, l.product_name, count(*), sum(l.sales)
FROM orders o JOIN order_lines l ON l.order_id = o.order_id
WHERE o.order_date = ANY(%(days)s::date[])
GROUP BY o.order_date, l.product_id, l.product_name
"""

# Orders, and how many of them are new, per order date (for the day totals).
# xmax = 0 marks a row this statement inserted rather than updated.
_ORDERS_COUNTED = f"""
WITH up AS ({_ORDERS}    RETURNING order_date, xmax = 0 AS inserted
)
SELECT order_date, count(*) FROM up WHERE inserted GROUP BY order_date
"""

# Lines, then the running totals of the tracked days among them: inserted lines
# add to their (order date, product) sales; every tracked day with a line
# written gets its new orders counted, its latest orders merged and its last
# change time. Updates of existing rows are accounted by migration 003's
# triggers. Parallel writers lock shared rows in one order (day_totals by date,
# then day_product_sales by key: an unreferenced data-modifying CTE runs after
# the main statement), so they queue instead of deadlocking; the rare trigger
# path may deadlock, and is then retried like any transient failure.
_LINES_TOTALLED = f"""
WITH up AS ({_LINES}    RETURNING order_id, product_id, product_name, sales, xmax = 0 AS inserted
), order_day AS (  -- the date the orders upsert kept: the latest staged line's
    SELECT DISTINCT ON (order_id) order_id, order_date
    FROM stage_lines ORDER BY order_id, src_offset DESC
), written AS (
    SELECT d.order_date, u.order_id, u.product_id, u.product_name, u.sales, u.inserted
    FROM up u JOIN order_day d ON d.order_id = u.order_id
    WHERE d.order_date = ANY(%(tracked)s::date[])
), sold AS (
    INSERT INTO day_product_sales AS t (order_date, product_id, product_name, lines, sales)
    SELECT order_date, product_id, product_name, count(*), sum(sales)
    FROM written WHERE inserted
    GROUP BY order_date, product_id, product_name
    ORDER BY order_date, product_id, product_name
    ON CONFLICT (order_date, product_id, product_name) DO UPDATE
    SET lines = t.lines + EXCLUDED.lines, sales = t.sales + EXCLUDED.sales
), latest AS (
    SELECT order_date, array_agg(order_id ORDER BY order_id DESC) AS ids
    FROM (
        SELECT order_date, order_id,
               row_number() OVER (PARTITION BY order_date ORDER BY order_id DESC) AS rank
        FROM (SELECT DISTINCT order_date, order_id FROM written) w
    ) ranked
    WHERE rank <= 10
    GROUP BY order_date
), new_orders AS (
    SELECT * FROM unnest(%(days)s::date[], %(new_orders)s::bigint[]) AS n(order_date, orders)
)
INSERT INTO day_totals AS t (order_date, orders, latest_ids, latest_at, last_at)
SELECT order_date, coalesce(n.orders, 0), coalesce(l.ids, '{{}}'),
       CASE WHEN l.ids IS NULL THEN '{{}}' ELSE array_fill(now(), ARRAY[cardinality(l.ids)]) END,
       now()
FROM latest l FULL JOIN new_orders n USING (order_date)
ORDER BY order_date
ON CONFLICT (order_date) DO UPDATE
SET orders = t.orders + EXCLUDED.orders,
    (latest_ids, latest_at) = (
        SELECT merged_ids, merged_ats
        FROM day_latest_merge(t.latest_ids, t.latest_at, EXCLUDED.latest_ids, EXCLUDED.latest_at)
    ),
    last_at = greatest(t.last_at, EXCLUDED.last_at)
"""


class FencedError(SuperstoreError):
    """Another consumer moved this partition's offset: our batch is stale, drop it."""


class StagedLine(NamedTuple):
    """A valid line (wire fields: money and dates as text) and its Kafka coordinates.

    A NamedTuple, not a frozen dataclass: one is built per message on the hot
    path, and a frozen dataclass's __init__ costs ~1.5 us more.
    """

    doc: dict[str, Any]
    payload: bytes  # the message value as received (dead letters keep it verbatim)
    topic: str
    partition: int
    offset: int

    @property
    def key(self) -> str:
        """Natural key (order_id, line_number), as `OrderLine.key`."""
        return line_key(self.doc)

    @classmethod
    def from_line(cls, line: OrderLine, topic: str, partition: int, offset: int) -> StagedLine:
        """Stage a validated model (loaders, tests) exactly as the wire decoder would."""
        payload = line.model_dump_json().encode()
        return cls(json.loads(payload), payload, topic, partition, offset)


@dataclass(frozen=True)
class Reject:
    """A message that cannot be ingested, and why."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    raw: bytes | None
    reason: str


@dataclass
class Batch:
    """What one transaction writes: lines, rejects, and per-partition offset moves.

    `offsets` maps (topic, partition) to (expected stored next_offset or None when
    nothing is stored yet, new next_offset).
    """

    lines: list[StagedLine] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    offsets: dict[tuple[str, int], tuple[int | None, int]] = field(default_factory=dict)

    def deduplicated(self) -> list[StagedLine]:
        """One staged line per key, the latest offset winning (a batch may hold replays)."""
        latest: dict[tuple[str, int], StagedLine] = {}
        for staged in self.lines:
            doc = staged.doc
            latest[doc["order_id"], doc["line_number"]] = staged
        return self.lines if len(latest) == len(self.lines) else list(latest.values())


_LINE_FIELDS = itemgetter(*STAGE_COLUMNS[:-3])  # doc -> tuple of the line's columns, in C


def stage(conn: psycopg.Connection, lines: Iterable[StagedLine]) -> int:
    """COPY lines into the session's staging table (inside the current transaction).

    Values are the wire's text (money, dates) and ints; PostgreSQL types them.
    Measured: 3.7 us per line, against 6.5 us for COPY of a jsonb column plus
    jsonb_populate_record on the server.
    """
    conn.execute(_STAGE_DDL)
    count = 0
    with conn.cursor().copy(f"COPY stage_lines ({', '.join(STAGE_COLUMNS)}) FROM STDIN") as copy:
        write_row = copy.write_row
        for doc, _, topic, partition, offset in lines:
            write_row((*_LINE_FIELDS(doc), topic, partition, offset))
            count += 1
    return count


class _TrackingNeeded(Exception):
    """The batch has days to start tracking: redo it holding TRACKING_LOCK exclusively."""


def upsert_staged(conn: psycopg.Connection, *, exclusive: bool = False) -> None:
    """Move the staging table into the OLTP tables and the day totals, idempotently.

    Must run in a transaction holding TRACKING_LOCK (shared, or exclusive when
    `exclusive`). Raises _TrackingNeeded, before writing anything, when the
    batch holds a day to start tracking and the lock is only shared.
    """
    for sql in _PARENTS:
        conn.execute(sql)
    days = conn.execute(_BATCH_DAYS).fetchall()
    if not days:  # no tracked day (a backfill of old days): the plain upserts
        conn.execute(_ORDERS)
        conn.execute(_LINES)
        return
    untracked = [day for day, tracked in days if not tracked]
    if untracked:
        if not exclusive:
            raise _TrackingNeeded()
        conn.execute(_TRACK_DAYS, {"days": untracked})
    tracked = {day for day, _ in days}
    new_orders = [(day, n) for day, n in conn.execute(_ORDERS_COUNTED).fetchall() if day in tracked]
    conn.execute(
        _LINES_TOTALLED,
        {
            "tracked": sorted(tracked),
            "days": [day for day, _ in new_orders],
            "new_orders": [n for _, n in new_orders],
        },
    )


def _move_offsets(conn: psycopg.Connection, group_id: str, batch: Batch) -> None:
    for (topic, partition), (expected, new) in sorted(batch.offsets.items()):
        row = conn.execute(
            """INSERT INTO ingest_offsets (group_id, topic, partition, next_offset)
               VALUES (%(g)s, %(t)s, %(p)s, %(n)s)
               ON CONFLICT (group_id, topic, partition) DO UPDATE
               SET next_offset = EXCLUDED.next_offset, updated_at = now()
               WHERE ingest_offsets.next_offset = %(e)s
               RETURNING next_offset""",
            {
                "g": group_id,
                "t": topic,
                "p": partition,
                "n": new,
                "e": -1 if expected is None else expected,
            },
        ).fetchone()
        if row is None:
            raise FencedError(
                f"offset of {topic}[{partition}] moved under us (expected {expected}); "
                "another consumer owns it now"
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


def write_batch(conn: psycopg.Connection, group_id: str, batch: Batch) -> int:
    """Write lines, rejects and offsets atomically; returns the number of lines staged.

    Raises FencedError (nothing written) when another consumer owns a partition,
    and lets psycopg errors propagate for the caller to classify.
    """
    lines = batch.deduplicated()
    try:
        return _write(conn, group_id, batch, lines, exclusive=False)
    except _TrackingNeeded:
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
) -> int:
    with conn.transaction():
        lock = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        conn.execute(f"SELECT {lock}(%s)", [TRACKING_LOCK])
        staged = stage(conn, lines) if lines else 0
        if staged:
            upsert_staged(conn, exclusive=exclusive)
        _insert_rejects(conn, batch.rejects)
        _move_offsets(conn, group_id, batch)
        if staged or batch.rejects:
            payload = json.dumps({"lines": staged, "rejects": len(batch.rejects)})
            conn.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, payload])
        crash_point("before_commit")
    return staged


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
            for sql in (*_PARENTS, _ORDERS, _LINES):
                conn.execute(sql)
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
