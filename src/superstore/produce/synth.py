"""Synthesising realistic new orders for `produce --live`.

Every draw comes from the data set itself: a real customer shipping to one of
the places they really ship to, a real order size, and lines copied from real
lines of real products (unit price, quantity, discount and margin kept), so
the live stream has the shape of the history.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from collections import defaultdict
from collections.abc import Iterator, Sequence
from decimal import ROUND_HALF_EVEN, Decimal

from superstore.contract import OrderLine

__all__ = ["LineSynthesizer"]

_FOUR = Decimal("0.0001")
_SHIP_DAYS = {"Same Day": 0, "First Class": 2, "Second Class": 3, "Standard Class": 5}


class LineSynthesizer:
    """Draws new multi-line orders, dated `today`, from the history in `lines`."""

    def __init__(self, lines: Sequence[OrderLine], seed: int | None = None) -> None:
        if not lines:
            raise ValueError("cannot synthesise orders from an empty data set")
        self._rng = random.Random(seed)
        self._run = secrets.token_hex(3) if seed is None else f"{seed:06x}"[-6:]
        self._seq = 0
        orders: dict[str, list[OrderLine]] = defaultdict(list)
        for line in lines:
            orders[line.order_id].append(line)
        self._sizes = [len(v) for v in orders.values()]
        self._customer_orders = [v[0] for v in orders.values()]  # customer + ship-to of an order
        self._lines = list(lines)

    def order(self, today: dt.date) -> list[OrderLine]:
        """One new order of one or more lines, dated `today`."""
        self._seq += 1
        head = self._rng.choice(self._customer_orders)
        size = self._rng.choice(self._sizes)
        order_id = f"LV-{today:%Y%m%d}-{self._run}-{self._seq:07d}"
        ship = today + dt.timedelta(days=_SHIP_DAYS.get(head.ship_mode, 4))
        out = []
        for number in range(1, size + 1):
            src = self._rng.choice(self._lines)
            quantity = self._rng.randint(1, 9) if src.quantity is None else src.quantity
            sales = src.sales
            if src.quantity:
                sales = (src.sales / src.quantity * quantity).quantize(_FOUR, ROUND_HALF_EVEN)
            profit = None
            if src.profit is not None and src.sales:
                profit = (src.profit / src.sales * sales).quantize(_FOUR, ROUND_HALF_EVEN)
            out.append(
                head.model_copy(
                    update={
                        "order_id": order_id,
                        "line_number": number,
                        "row_id": None,
                        "order_date": today,
                        "ship_date": ship,
                        "product_id": src.product_id,
                        "category": src.category,
                        "sub_category": src.sub_category,
                        "product_name": src.product_name,
                        "sales": sales,
                        "quantity": quantity,
                        "discount": src.discount,
                        "profit": profit,
                    }
                )
            )
        return out

    def stream(self, today: dt.date) -> Iterator[OrderLine]:
        """An endless stream of lines, whole orders at a time."""
        while True:
            yield from self.order(today)
