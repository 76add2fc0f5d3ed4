"""Per-day totals of each layer: Kafka, PostgreSQL, lake manifests, warehouse.

Each layer answers the same question, "per order date: how many lines, how
many orders, what exact sales sum?", so reconciliation is one comparison.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import ValidationError

from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import WireError, decode_wire, line_key
from superstore.export import VerifyError, list_partitions, verify_day
from superstore.oltp import drifted_days, orphan_counts, rejected_count, totals_by_day, tracked_days
from superstore.produce import deleted_by_retention, scan_topic
from superstore.storage import LakeConfig
from superstore.warehouse import Warehouse

__all__ = [
    "DayTotals",
    "LayerTotals",
    "kafka_layer",
    "lake_layer",
    "postgres_layer",
    "warehouse_layer",
]


@dataclass(frozen=True)
class DayTotals:
    """Lines, orders and the exact sales sum of one day in one layer."""

    lines: int
    orders: int
    sales: Decimal

    def as_json(self) -> dict[str, object]:
        """JSON form: sales as an exact decimal string."""
        return {"lines": self.lines, "orders": self.orders, "sales": str(self.sales)}


@dataclass
class LayerTotals:
    """One layer's per-day totals, plus notes (e.g. invalid messages in Kafka)."""

    name: str
    days: dict[dt.date, DayTotals] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def total(self) -> DayTotals:
        """Sum over all days."""
        return DayTotals(
            sum(d.lines for d in self.days.values()),
            sum(d.orders for d in self.days.values()),
            sum((d.sales for d in self.days.values()), Decimal(0)),
        )

    def as_json(self) -> dict[str, object]:
        """One object per layer: lines, orders, sales (string) and per-day breakdown."""
        return {
            "layer": self.name,
            **self.total.as_json(),
            "days": {d.isoformat(): t.as_json() for d, t in sorted(self.days.items())},
            **({"notes": self.notes} if self.notes else {}),
        }


def _fold(rows: list[tuple[dt.date, str, Decimal]]) -> dict[dt.date, DayTotals]:
    """(day, order_id, sales) rows -> per-day totals."""
    lines: dict[dt.date, int] = {}
    orders: dict[dt.date, set[str]] = {}
    sales: dict[dt.date, Decimal] = {}
    for day, order_id, amount in rows:
        lines[day] = lines.get(day, 0) + 1
        orders.setdefault(day, set()).add(order_id)
        sales[day] = sales.get(day, Decimal(0)) + amount
    return {d: DayTotals(lines[d], len(orders[d]), sales[d]) for d in lines}


def kafka_layer(config: KafkaConfig, timeout: float = 120.0) -> LayerTotals:
    """Distinct valid lines in the topic (replays counted once), per order date.

    Also notes raw message counts and the DLQ size, so a reader sees what the
    topic holds beyond the distinct lines.
    """
    latest: dict[str, tuple[dt.date, str, Decimal]] = {}
    invalid = 0

    def visit(value: bytes | None) -> None:
        nonlocal invalid
        try:
            doc = decode_wire(value)
        except (ValidationError, WireError, ValueError):
            invalid += 1
            return
        day = dt.date.fromisoformat(doc.order_date)
        latest[line_key(doc)] = (day, doc.order_id, Decimal(str(doc.sales)))

    messages = scan_topic(config, config.topic, visit, timeout)
    dlq = scan_topic(config, config.dlq_topic, lambda _: None, timeout)
    layer = LayerTotals("kafka", _fold(list(latest.values())))
    layer.notes = {"messages": messages, "invalid": invalid, "dlq_messages": dlq}
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
    layer = LayerTotals("postgres", {d: DayTotals(n, o, s) for d, n, o, s in rows})
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
            layer.days[day] = DayTotals(manifest.lines, manifest.orders, manifest.sales)
        if on_progress:
            on_progress(i, len(days))
    layer.notes = {"partitions": len(days)}
    if bad:
        layer.notes["bad_partitions"] = bad
    return layer


# Facts joined through EVERY dimension: a missing or duplicated dimension row
# (fan-out) changes the totals, so this is also the no-fan-out proof.
_WAREHOUSE_SQL = """
SELECT t.full_date, count(*), count(DISTINCT f.order_id), sum(f.sales)
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
    layer = LayerTotals(
        "warehouse",
        {_as_date(d): DayTotals(int(n), int(o), Decimal(str(s))) for d, n, o, s in rows},
    )
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
