"""Reconciliation: consecutive layers must agree per day, exactly.

Kafka -> PostgreSQL is compared on every day (the stream and the database
hold the same lines once ingestion caught up). PostgreSQL -> lake -> warehouse
are compared on finished days only (up to `until`, default yesterday), since
today's partition is exported after midnight.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from superstore.check.layers import ZERO, DayTotals, LayerTotals

__all__ = ["Difference", "Report", "reconcile"]


@dataclass(frozen=True)
class Difference:
    """Two layers disagree on one day."""

    upstream: str
    downstream: str
    day: dt.date
    expected: DayTotals
    found: DayTotals

    def describe(self) -> str:
        """One line naming the day, the layers and the figures."""
        e, f = self.expected, self.found
        text = (
            f"{self.day}: {self.upstream} has {e.lines} lines / {e.orders} orders / sales "
            f"{e.sales}, {self.downstream} has {f.lines} / {f.orders} / {f.sales}"
        )
        for what in ("cancelled", "returned"):
            lines, sales = (f"{what}_lines", f"{what}_sales")
            ours = (getattr(e, lines), getattr(e, sales))
            theirs = (getattr(f, lines), getattr(f, sales))
            if ours != theirs:
                text += f"; {what} {ours[0]} lines / {ours[1]} vs {theirs[0]} / {theirs[1]}"
        return text

    def as_json(self) -> dict[str, object]:
        """JSON form of the difference."""
        return {
            "day": self.day.isoformat(),
            "upstream": self.upstream,
            "downstream": self.downstream,
            "expected": self.expected.as_json(),
            "found": self.found.as_json(),
        }


@dataclass
class Report:
    """All layers and every difference between them."""

    layers: list[LayerTotals]
    differences: list[Difference]
    until: dt.date | None
    problems: list[str] = field(default_factory=list)  # not tied to one day

    @property
    def ok(self) -> bool:
        """True when every compared pair agrees on every day and nothing else is wrong."""
        return not self.differences and not self.problems

    def as_json(self) -> dict[str, object]:
        """`check --json`: one object per layer, then the differences."""
        return {
            "ok": self.ok,
            "until": self.until.isoformat() if self.until else None,
            "layers": [layer.as_json() for layer in self.layers],
            "differences": [d.as_json() for d in self.differences],
            "problems": self.problems,
        }


def _compare(a: LayerTotals, b: LayerTotals, until: dt.date | None) -> list[Difference]:
    days = set(a.days) | set(b.days)
    if until is not None:
        days = {d for d in days if d <= until}
    out = []
    for day in sorted(days):
        left, right = a.days.get(day, ZERO), b.days.get(day, ZERO)
        if left != right:
            out.append(Difference(a.name, b.name, day, left, right))
    return out


def reconcile(layers: Sequence[LayerTotals], until: dt.date | None) -> Report:
    """Compare each layer with the next; the first pair on all days, the rest up to `until`."""
    differences: list[Difference] = []
    for i, (a, b) in enumerate(itertools.pairwise(layers)):
        first_pair = i == 0 and a.name == "kafka"
        differences += _compare(a, b, None if first_pair else until)
    problems = (
        [
            f"{layer.name}: {layer.notes['orphan_lines']} lines without their order"
            for layer in layers
            if layer.notes.get("orphan_lines")
        ]
        + [
            f"{layer.name}: {layer.notes['orphan_orders']} orders without their customer"
            for layer in layers
            if layer.notes.get("orphan_orders")
        ]
        + [
            f"{layer.name}: {layer.notes['deleted_by_retention']:,} messages were already"
            " deleted by the topic's retention, so this layer misses lines: keep the lines"
            " topic forever (retention.ms=-1, as `stack up` creates it; docs/aws.md)"
            for layer in layers
            if layer.notes.get("deleted_by_retention")
        ]
        + [
            f"{layer.name}: running /today totals differ from the lines on"
            f" {layer.notes['drifted_days']}"
            for layer in layers
            if layer.notes.get("drifted_days")
        ]
        + [
            f"{layer.name}: {layer.notes['facts_lost_in_joins']} facts missing a dimension row"
            for layer in layers
            if layer.notes.get("facts_lost_in_joins")
        ]
    )
    for layer in layers:
        bad = layer.notes.get("bad_partitions")
        if isinstance(bad, dict):
            problems += [
                f"{layer.name}: partition {day} fails verification: {why}"
                for day, why in bad.items()
            ]
    return Report(list(layers), differences, until, problems)
