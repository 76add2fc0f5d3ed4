"""Order events in the ingest transaction: the log, and the status it gives orders and lines.

Events are kept as they came (`order_events`, never deleted). The status they
give is settled by the same transaction, for every order the batch touches
(its lines' orders and its events' orders), from ALL of the order's events, so
the order in which lines and events arrive does not matter:

- a cancellation cancels the whole order, lines stored later included; a
  cancelled order's returns change nothing (cancelled wins);
- a return without lines returns the whole order, lines stored later included;
- a line-level return returns that line: wholly without a quantity, else the
  sum of the quantities returned, at most the line's quantity;
- an event for an order not stored yet is kept and applies when its lines
  arrive (a message's verdict never depends on what is stored).

What a status means for money is written once, in `OUTCOME_COLUMNS`, and
every reader (export, reconciliation, /today) uses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from superstore.contract import OrderEvent

__all__ = [
    "EVENT_COLUMNS",
    "INSERT_EVENTS",
    "OUTCOME_COLUMNS",
    "SETTLE",
    "StagedEvent",
    "event_rows",
]


class StagedEvent(NamedTuple):
    """A valid event and its Kafka coordinates."""

    event: OrderEvent
    payload: bytes
    topic: str
    partition: int
    offset: int


EVENT_COLUMNS = (
    "order_id", "event", "event_time", "line_number", "quantity", "reason",
    "src_topic", "src_partition", "src_offset",
)  # fmt: skip


def event_rows(events: Iterable[StagedEvent]) -> list[tuple[Any, ...]]:
    """One row per event, or per returned line of a line-level return."""
    rows: list[tuple[Any, ...]] = []
    for event, _, topic, partition, offset in events:
        head = (event.order_id, event.event, event.event_time)
        tail = (event.reason, topic, partition, offset)
        if event.lines:
            rows += [(*head, x.line_number, x.quantity, *tail) for x in event.lines]
        else:
            rows.append((*head, None, None, *tail))
    return rows


INSERT_EVENTS = f"""
INSERT INTO order_events ({", ".join(EVENT_COLUMNS)})
SELECT {", ".join(EVENT_COLUMNS)} FROM stage_events
ON CONFLICT (src_topic, src_partition, src_offset, (coalesce(line_number, 0))) DO NOTHING
"""

_TOUCHED = """touched AS (
    SELECT order_id FROM stage_orders UNION SELECT order_id FROM stage_events
)"""

# Settling: orders, then lines, each recording the days whose status changed. The
# returned quantity of a line with no quantity is NULL with returned_at set: all of it.
_SETTLE_ORDERS = f"""
WITH {_TOUCHED}, ev AS (
    SELECT e.order_id,
           min(e.event_time) FILTER (WHERE e.event = 'order_cancelled') AS cancelled_at,
           min(e.event_time) FILTER (WHERE e.event = 'order_returned'
                                       AND e.line_number IS NULL) AS returned_at,
           min(e.event_time) AS events_at
    FROM order_events e JOIN touched t ON t.order_id = e.order_id
    GROUP BY e.order_id
), settled AS (
    UPDATE orders o
    SET cancelled_at = ev.cancelled_at, returned_at = ev.returned_at, events_at = ev.events_at
    FROM ev
    WHERE o.order_id = ev.order_id
      AND (o.cancelled_at, o.returned_at, o.events_at)
          IS DISTINCT FROM (ev.cancelled_at, ev.returned_at, ev.events_at)
    RETURNING o.order_date
)
INSERT INTO stage_changed_days SELECT DISTINCT order_date FROM settled
"""

_SETTLE_LINES = f"""
WITH {_TOUCHED}, lev AS (
    SELECT e.order_id, e.line_number, min(e.event_time) AS returned_at,
           bool_or(e.quantity IS NULL) AS whole, sum(e.quantity) AS quantity
    FROM order_events e JOIN touched t ON t.order_id = e.order_id
    WHERE e.event = 'order_returned' AND e.line_number IS NOT NULL
    GROUP BY e.order_id, e.line_number
), target AS (
    SELECT l.order_id, l.line_number, lev.returned_at,
           CASE WHEN lev.whole OR l.quantity IS NULL THEN l.quantity
                ELSE least(lev.quantity, l.quantity) END AS returned_quantity
    FROM lev JOIN order_lines l
      ON l.order_id = lev.order_id AND l.line_number = lev.line_number
), settled AS (
    UPDATE order_lines l
    SET returned_at = t.returned_at, returned_quantity = t.returned_quantity
    FROM target t
    WHERE l.order_id = t.order_id AND l.line_number = t.line_number
      AND (l.returned_at, l.returned_quantity)
          IS DISTINCT FROM (t.returned_at, t.returned_quantity)
    RETURNING l.order_id
)
INSERT INTO stage_changed_days
SELECT DISTINCT o.order_date FROM settled s JOIN orders o ON o.order_id = s.order_id
"""

SETTLE: Sequence[str] = (_SETTLE_ORDERS, _SETTLE_LINES)

# What a line's status means, over orders o JOIN order_lines l: its status, how many came
# back, and the exact returned sales (a part of a line: sales x share, rounded to the
# cent's hundredth once, here, so every layer carries the same figure).
OUTCOME_COLUMNS: dict[str, str] = {
    "status": """CASE WHEN o.cancelled_at IS NOT NULL THEN 'cancelled'
        WHEN o.returned_at IS NOT NULL THEN 'returned'
        WHEN l.returned_at IS NULL THEN 'sold'
        WHEN l.quantity IS NULL OR l.returned_quantity >= l.quantity THEN 'returned'
        ELSE 'partly returned' END""",
    "returned_quantity": """CASE WHEN o.cancelled_at IS NOT NULL THEN NULL
        WHEN o.returned_at IS NOT NULL THEN l.quantity
        WHEN l.returned_at IS NOT NULL THEN l.returned_quantity END""",
    "returned_sales": """CASE WHEN o.cancelled_at IS NOT NULL THEN 0
        WHEN o.returned_at IS NOT NULL THEN l.sales
        WHEN l.returned_at IS NULL THEN 0
        WHEN l.quantity IS NULL OR l.returned_quantity >= l.quantity THEN l.sales
        ELSE round(l.sales * l.returned_quantity / l.quantity, 4) END""",
}
