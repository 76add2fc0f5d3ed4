"""Per-day totals of each layer: Kafka, PostgreSQL, lake manifests, warehouse.

Each layer answers the same question, "per order date: how many lines, how
many orders, what exact sales sum?", so reconciliation is one comparison.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from confluent_kafka import Message
from pydantic import ValidationError

from superstore.check.replay import Line, OrderFate, fold_days
from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import (
    DEFAULT_EXPECTATIONS,
    Expectations,
    OrderEvent,
    WireError,
    decode_message,
)
from superstore.export import VerifyError, list_partitions, verify_day
from superstore.oltp import drifted_days, orphan_counts, rejected_count, totals_by_day, tracked_days
from superstore.produce import deleted_by_retention, scan_topic
from superstore.storage import LakeConfig
from superstore.warehouse import Warehouse

__all__ = [
    "ZERO",
    "DayTotals",
    "LayerTotals",
    "kafka_layer",
    "lake_layer",
    "postgres_layer",
    "warehouse_layer",
]


@dataclass(frozen=True)
class DayTotals:
    """One day in one layer: lines, orders, exact sales, and the cancelled and returned part."""

    lines: int
    orders: int
    sales: Decimal
    cancelled_lines: int = 0
    cancelled_sales: Decimal = Decimal(0)
    returned_lines: int = 0
    returned_sales: Decimal = Decimal(0)

    def as_json(self) -> dict[str, object]:
        """JSON form: money as exact decimal strings."""
        return {
            "lines": self.lines,
            "orders": self.orders,
            "sales": str(self.sales),
            "cancelled_lines": self.cancelled_lines,
            "cancelled_sales": str(self.cancelled_sales),
            "returned_lines": self.returned_lines,
            "returned_sales": str(self.returned_sales),
        }

    def __add__(self, other: DayTotals) -> DayTotals:
        return DayTotals(
            self.lines + other.lines,
            self.orders + other.orders,
            self.sales + other.sales,
            self.cancelled_lines + other.cancelled_lines,
            self.cancelled_sales + other.cancelled_sales,
            self.returned_lines + other.returned_lines,
            self.returned_sales + other.returned_sales,
        )


ZERO = DayTotals(0, 0, Decimal(0))


def _totals(row: Sequence[object]) -> DayTotals:
    """(lines, orders, sales, cancelled lines, cancelled sales, returned lines, returned sales)."""
    n, o, s, cl, cs, rl, rs = row
    return DayTotals(
        int(str(n)), int(str(o)), Decimal(str(s)), int(str(cl)), Decimal(str(cs)),
        int(str(rl)), Decimal(str(rs)),
    )  # fmt: skip


@dataclass
class LayerTotals:
    """One layer's per-day totals, plus notes (e.g. invalid messages in Kafka)."""

    name: str
    days: dict[dt.date, DayTotals] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def total(self) -> DayTotals:
        """Sum over all days."""
        return sum(self.days.values(), ZERO)

    def as_json(self) -> dict[str, object]:
        """One object per layer: its totals and the per-day breakdown."""
        return {
            "layer": self.name,
            **self.total.as_json(),
            "days": {d.isoformat(): t.as_json() for d, t in sorted(self.days.items())},
            **({"notes": self.notes} if self.notes else {}),
        }


def kafka_layer(
    config: KafkaConfig,
    timeout: float = 120.0,
    expect: Expectations = DEFAULT_EXPECTATIONS,
    refused: Collection[tuple[int, int]] = (),
) -> LayerTotals:
    """The topic replayed: the latest valid version of each line, with the order events.

    Messages the ingest dead-lettered for a reason of PostgreSQL's (``refused``,
    as (partition, offset) from `rejected_lines`) count as rejected here too, so
    the two layers agree on what is valid. Notes raw message counts and the DLQ
    size, so a reader sees what the topic holds beyond the distinct lines.
    """
    latest: dict[tuple[str, int], Line] = {}
    fates: dict[str, OrderFate] = {}
    counts = {"invalid": 0, "events": 0}
    skip = set(refused)

    def visit(msg: Message) -> None:
        if (msg.partition(), msg.offset()) in skip:
            counts["invalid"] += 1
            return
        try:
            doc = decode_message(msg.value(), expect)
        except (ValidationError, WireError, ValueError):
            counts["invalid"] += 1
            return
        if isinstance(doc, OrderEvent):
            counts["events"] += 1
            fates.setdefault(doc.order_id, OrderFate()).add(doc)
            return
        day = dt.date.fromisoformat(doc.order_date)
        quantity = doc.quantity
        latest[doc.order_id, doc.line_number] = Line(
            day, doc.order_id, doc.line_number, Decimal(str(doc.sales)), quantity
        )

    messages = scan_topic(config, config.topic, lambda _: None, timeout, on_message=visit)
    dlq = scan_topic(config, config.dlq_topic, lambda _: None, timeout)
    days = {day: _totals(f.row()) for day, f in fold_days(latest.values(), fates).items()}
    layer = LayerTotals("kafka", days)
    layer.notes = {"messages": messages, **counts, "dlq_messages": dlq}
    deleted = deleted_by_retention(config, config.topic)
    if deleted:
        layer.notes["deleted_by_retention"] = deleted
    return layer


def postgres_layer(pg: PgConfig) -> LayerTotals:
    """Lines in the OLTP tables, per order date (orders join lines)."""
    with pg.connect(autocommit=True) as conn:
        rows = totals_by_day(conn)
        orphans, orphan_orders = orphan_counts(conn)
        rejected = rejected_count(conn)
        drifted = drifted_days(conn)
        tracked = len(tracked_days(conn))
    layer = LayerTotals("postgres", {day: _totals(rest) for day, *rest in rows})
    layer.notes = {
        "orphan_lines": orphans,
        "orphan_orders": orphan_orders,
        "rejected_lines": rejected,
        "tracked_days": tracked,
    }
    if drifted:
        layer.notes["drifted_days"] = ", ".join(d.isoformat() for d in drifted)
    return layer


def lake_layer(
    lake: LakeConfig, on_progress: Callable[[int, int], None] | None = None
) -> LayerTotals:
    """What each partition's manifest says it holds, after verifying its files against it.

    A partition whose files do not match (tampered, truncated, missing) is
    listed in notes["bad_partitions"] and reported as a problem.
    """
    days = list_partitions(lake)
    layer = LayerTotals("lake")
    bad: dict[str, str] = {}
    for i, day in enumerate(days, start=1):
        try:
            manifest = verify_day(lake, day)
        except VerifyError as exc:
            bad[day.isoformat()] = str(exc)
            continue
        if manifest.lines:
            layer.days[day] = DayTotals(
                manifest.lines, manifest.orders, manifest.sales, manifest.cancelled_lines,
                manifest.cancelled_sales, manifest.returned_lines, manifest.returned_sales,
            )  # fmt: skip
        if on_progress:
            on_progress(i, len(days))
    layer.notes = {"partitions": len(days)}
    if bad:
        layer.notes["bad_partitions"] = bad
    return layer


# Facts joined through EVERY dimension: a missing or duplicated dimension row
# (fan-out) changes the totals, so this is also the no-fan-out proof.
_WAREHOUSE_SQL = """
SELECT t.full_date, count(*), count(DISTINCT f.order_id), sum(f.sales),
       sum(CASE WHEN f.status = 'cancelled' THEN 1 ELSE 0 END),
       sum(CASE WHEN f.status = 'cancelled' THEN f.sales ELSE 0 END),
       sum(CASE WHEN f.status IN ('returned', 'partly returned') THEN 1 ELSE 0 END),
       sum(f.returned_sales)
FROM {s}.sales_fact f
JOIN {s}.time_dim t ON t.time_key = f.time_key
JOIN {s}.customer_dim c ON c.customer_key = f.customer_key
JOIN {s}.product_dim p ON p.product_key = f.product_key
JOIN {s}.location_dim l ON l.location_key = f.location_key
GROUP BY t.full_date
"""


def warehouse_layer(warehouse: Warehouse) -> LayerTotals:
    """Warehouse facts per day, joined through every dimension; also counts bare facts."""
    schema = warehouse.schema
    rows = warehouse.query(_WAREHOUSE_SQL.format(s=schema))
    bare = warehouse.query(f"SELECT count(*) FROM {schema}.sales_fact")[0][0]
    layer = LayerTotals("warehouse", {_as_date(day): _totals(rest) for day, *rest in rows})
    joined = layer.total.lines
    if int(bare) != joined:
        layer.notes["facts_lost_in_joins"] = int(bare) - joined
    return layer


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
