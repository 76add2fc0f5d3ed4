"""Order events for the producers: live cancellations and returns, and one-off events.

`EventSynthesizer` turns a live stream into a realistic one: some orders are
cancelled shortly after they are placed, some are returned later, whole or a
line with part of its quantity. Rates are fractions of orders; the draws are
seeded, so a test can replay the same stream.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import deque
from collections.abc import Sequence

from superstore.contract import OrderEvent, OrderLine, ReturnedLine, encode_event

__all__ = ["EventSynthesizer", "cancellation", "event_record", "return_of"]

Record = tuple[str, bytes]


def cancellation(order_id: str, reason: str | None = None) -> OrderEvent:
    """The order cancelled now."""
    return OrderEvent(
        event="order_cancelled",
        order_id=order_id,
        event_time=dt.datetime.now(dt.UTC),
        reason=reason,
    )


def return_of(
    order_id: str, lines: Sequence[tuple[int, int | None]] = (), reason: str | None = None
) -> OrderEvent:
    """The order (no `lines`), or those (line number, quantity or None: all) returned now."""
    returned = tuple(ReturnedLine(line_number=n, quantity=q) for n, q in lines) or None
    return OrderEvent(
        event="order_returned",
        order_id=order_id,
        event_time=dt.datetime.now(dt.UTC),
        lines=returned,
        reason=reason,
    )


def event_record(event: OrderEvent) -> Record:
    """The Kafka record of an event: keyed by its order, like the order's lines."""
    return event.order_id, encode_event(event)


class EventSynthesizer:
    """Decides, order by order, which earlier orders are cancelled or returned."""

    def __init__(
        self, cancel_rate: float, return_rate: float, seed: int | None = None, delay: int = 20
    ) -> None:
        if not (0 <= cancel_rate <= 1 and 0 <= return_rate <= 1):
            raise ValueError("event rates are fractions of orders, between 0 and 1")
        self.cancel_rate = cancel_rate
        self.return_rate = return_rate
        self._rng = random.Random(seed)
        self._recent: deque[list[OrderLine]] = deque(maxlen=delay)

    def after(self, order: list[OrderLine]) -> list[OrderEvent]:
        """Events to send after `order`: about the order placed `delay` orders before it."""
        self._recent.append(order)
        if len(self._recent) < self._recent.maxlen:  # type: ignore[operator]  # maxlen is set
            return []
        earlier = self._recent[0]
        draw = self._rng.random()
        if draw < self.cancel_rate:
            return [cancellation(earlier[0].order_id, "customer request")]
        if draw < self.cancel_rate + self.return_rate:
            if self._rng.random() < 0.5 or len(earlier) == 1:
                return [return_of(earlier[0].order_id, reason="not as described")]
            line = self._rng.choice(earlier)
            quantity = None
            if line.quantity and line.quantity > 1 and self._rng.random() < 0.5:
                quantity = self._rng.randint(1, line.quantity - 1)
            return [return_of(line.order_id, [(line.line_number, quantity)], "damaged")]
        return []
