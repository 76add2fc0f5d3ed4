"""What the topic itself says each day holds: its lines replayed with its order events.

The reconciliation's first layer is computed from Kafka alone, by rules
written here a second time, in Python, on purpose: the OLTP store's SQL
(superstore.oltp.events) and this replay must agree to the last decimal, so
neither can silently drift. The rules (README, "Order events"):

- the latest valid message of a line key wins (corrections replace lines);
- a cancellation cancels every line of the order; a cancelled order's returns
  change nothing;
- a return without lines returns every line of the order, wholly;
- a line-level return returns that line: wholly without a quantity (or when
  the line has none), else the sum of the quantities returned, at most the
  line's quantity, and its returned sales are sales x returned / quantity,
  rounded half away from zero to 4 decimals (PostgreSQL's ``round``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from superstore.contract import OrderEvent

__all__ = ["DayFigures", "Line", "OrderFate", "fold_days", "returned_sales"]

_FOUR = Decimal("0.0001")


@dataclass(frozen=True)
class Line:
    """The latest valid version of one line, as the topic holds it."""

    day: dt.date
    order_id: str
    line_number: int
    sales: Decimal
    quantity: int | None


@dataclass
class OrderFate:
    """Everything the events of one order say."""

    cancelled: bool = False
    returned: bool = False  # the whole order
    lines: dict[int, tuple[bool, int]] = field(default_factory=dict)  # number -> (whole, qty)

    def add(self, event: OrderEvent) -> None:
        """Fold one more event of the order in."""
        if event.event == "order_cancelled":
            self.cancelled = True
        elif not event.lines:
            self.returned = True
        else:
            for line in event.lines:
                whole, quantity = self.lines.get(line.line_number, (False, 0))
                if line.quantity is None:
                    whole = True
                else:
                    quantity += line.quantity
                self.lines[line.line_number] = (whole, quantity)


@dataclass
class DayFigures:
    """One day's lines, orders, sales, and what cancellations and returns took from them."""

    lines: int = 0
    orders: set[str] = field(default_factory=set)
    sales: Decimal = Decimal(0)
    cancelled_lines: int = 0
    cancelled_sales: Decimal = Decimal(0)
    returned_lines: int = 0
    returned_sales: Decimal = Decimal(0)

    def row(self) -> tuple[object, ...]:
        """(lines, orders, sales, cancelled lines, cancelled sales, returned lines, sales)."""
        return (
            self.lines, len(self.orders), self.sales, self.cancelled_lines,
            self.cancelled_sales, self.returned_lines, self.returned_sales,
        )  # fmt: skip


def returned_sales(line: Line, fate: OrderFate | None) -> tuple[bool, Decimal]:
    """(is the line returned at all, its exact returned sales) under the order's events."""
    if fate is None or fate.cancelled:
        return False, Decimal(0)
    if fate.returned:
        return True, line.sales
    if line.line_number not in fate.lines:
        return False, Decimal(0)
    whole, quantity = fate.lines[line.line_number]
    if whole or line.quantity is None or quantity >= line.quantity:
        return True, line.sales
    share = line.sales * quantity / line.quantity
    return True, share.quantize(_FOUR, rounding=ROUND_HALF_UP)


def fold_days(lines: Iterable[Line], fates: Mapping[str, OrderFate]) -> dict[dt.date, DayFigures]:
    """Per order date, the figures every layer must also hold."""
    days: dict[dt.date, DayFigures] = {}
    for line in lines:
        figures = days.setdefault(line.day, DayFigures())
        figures.lines += 1
        figures.orders.add(line.order_id)
        figures.sales += line.sales
        fate = fates.get(line.order_id)
        if fate is not None and fate.cancelled:
            figures.cancelled_lines += 1
            figures.cancelled_sales += line.sales
        returned, amount = returned_sales(line, fate)
        if returned:
            figures.returned_lines += 1
            figures.returned_sales += amount
    return days
