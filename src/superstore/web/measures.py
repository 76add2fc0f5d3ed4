"""The measures every analytics visual can show: one registry, one entry per measure.

The pre-aggregates hold exact sums of a few base columns (`BASE_COLUMNS`);
every measure is computed from those sums, in Python, with exact decimals:
either one sum (additive: it adds up across members, so a donut or a treemap
can show its parts) or a ratio of two sums (profit margin = sum(profit) /
sum(sales): never an average of per-row ratios, and never drawn as parts of a
whole). Adding a measure is one `Measure(...)` line, plus its base column
here if the warehouse gains one (for instance returns for a return rate):
every visual, the KPI cards, the breakdown table and the CSVs pick it up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

__all__ = [
    "BASE_COLUMNS",
    "INTEGER_COLUMNS",
    "MEASURES",
    "Measure",
    "change",
    "measure",
    "sums_sql",
]

# Base column of the pre-aggregates -> its SQL over the star schema's fact table `f`.
# Cancelled lines never reach them (the pre-aggregates leave them out); returned
# lines stay in sales (gross) and their returned part is summed beside it.
BASE_COLUMNS: dict[str, str] = {
    "sales": "sum(f.sales)",
    "profit": "sum(f.profit)",
    "quantity": "sum(f.quantity)",
    "lines": "count(*)",
    "returns": "sum(coalesce(f.returned_sales, 0))",
    "net_sales": "sum(f.sales - coalesce(f.returned_sales, 0))",
}
INTEGER_COLUMNS = frozenset({"quantity", "lines"})  # the others are exact decimals

Unit = Literal["money", "count", "ratio"]
_RATIO_PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class Measure:
    """A number a visual can show: one base sum, or the ratio of two."""

    name: str
    label: str
    unit: Unit
    numerator: str
    denominator: str | None = None

    @property
    def additive(self) -> bool:
        """Sums add up across members (parts of a whole); ratios do not."""
        return self.denominator is None

    def value(self, sums: Mapping[str, Any]) -> Decimal | int | None:
        """The measure from a row of exact sums; a ratio over a zero denominator is None."""
        top = sums.get(self.numerator)
        if self.denominator is None:
            return 0 if top is None else top
        bottom = sums.get(self.denominator)
        if not bottom:
            return None
        return (Decimal(top or 0) / Decimal(bottom)).quantize(_RATIO_PLACES)

    def public(self) -> dict[str, Any]:
        """What the page needs to format and chart it."""
        return {
            "name": self.name,
            "label": self.label,
            "unit": self.unit,
            "additive": self.additive,
        }


MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure("sales", "Gross sales", "money", "sales"),
        Measure("profit", "Profit", "money", "profit"),
        Measure("quantity", "Quantity", "count", "quantity"),
        Measure("margin", "Profit margin", "ratio", "profit", "sales"),
        Measure("returns", "Returns", "money", "returns"),
        Measure("net_sales", "Net sales", "money", "net_sales"),
        Measure("return_rate", "Return rate", "ratio", "returns", "sales"),
    )
}


def measure(name: str) -> Measure:
    """The registered measure (KeyError for an unknown name: validate first)."""
    return MEASURES[name]


def change(m: Measure, current: Any, previous: Any) -> float | None:
    """Change against a previous value: % for sums, percentage points for ratios."""
    if current is None or previous is None:
        return None
    if not m.additive:
        return round(float((Decimal(current) - Decimal(previous)) * 100), 2)
    if not previous or Decimal(previous) <= 0:
        return None
    return round(float((Decimal(current) - Decimal(previous)) * 100 / Decimal(previous)), 2)


def sums_sql() -> str:
    """`sum(sales) AS sales, ...` over a pre-aggregate holding the base columns."""
    return ", ".join(f"sum({c}) AS {c}" for c in BASE_COLUMNS)
