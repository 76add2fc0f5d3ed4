"""Analytics freshness probes: produce() -> `/api/analytics/kpis` showing the change.

The probes live in a category of their own ("Probe": a business may add a
category, the pipeline accepts it), so live traffic never moves the figures
they watch, and every expected figure is exact: after each change the KPI
card filtered to that category must show precisely the new total. Four kinds:

- ``new_line_today``: a new line dated today (the hot day, synced at most
  every SUPERSTORE_SYNC_INTERVAL seconds);
- ``correction_2y``: a correction of a line dated two years back;
- ``cancellation``: a cancelled order (its sales leave "sales");
- ``return``: one unit of a 4-unit line returned (returns grow by a quarter of
  its sales, rounded as PostgreSQL rounds).

One probe is in flight at a time; the time is from its produce() call to the
first answer showing the expected figure (polled every 100 ms).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx

from superstore.clients import KafkaConfig
from superstore.contract import OrderEvent, OrderLine, encode_event, encode_line

__all__ = ["PROBE_KINDS", "AnalyticsProbes"]

PROBE_KINDS = ("new_line_today", "correction_2y", "cancellation", "return")
CATEGORY = "Probe"
TIMEOUT = 60.0  # a probe not visible by then counts as this long, and as missed
_FOUR = Decimal("0.0001")


class AnalyticsProbes:
    """Fixtures in the Probe category, then timed changes to them while traffic runs."""

    def __init__(
        self, base: str, kafka: KafkaConfig, history: list[OrderLine], today: dt.date
    ) -> None:
        self.base = base
        self.kafka = kafka
        self.today = today
        self.template = history[0]
        self.producer = kafka.producer()
        self.client = httpx.Client(timeout=10.0)
        self.sales = Decimal(0)
        self.returns = Decimal(0)
        self.samples: dict[str, list[float]] = {k: [] for k in PROBE_KINDS}
        self.missed: dict[str, int] = dict.fromkeys(PROBE_KINDS, 0)
        self._fixtures: dict[str, list[OrderLine]] = {}
        self._made = 0

    # -- lines of the Probe category --------------------------------------------------
    def _line(self, day: dt.date, sales: str, quantity: int = 1) -> OrderLine:
        self._made += 1
        n = self._made
        return self.template.model_copy(
            update={
                "order_id": f"PROBE-{n:06d}", "line_number": 1, "row_id": None,
                "order_date": day, "ship_date": day, "category": CATEGORY,
                "sub_category": CATEGORY, "product_id": f"PRB-PR-{n:08d}",
                "product_name": f"Probe item {n}", "sales": Decimal(sales),
                "quantity": quantity, "discount": Decimal(0), "profit": Decimal(0),
            }
        )  # fmt: skip

    def _send(self, value: bytes, key: str) -> float:
        sent = time.time()
        self.producer.produce(self.kafka.topic, key=key, value=value)
        self.producer.flush(10)
        return sent

    def figures(self) -> tuple[Decimal, Decimal] | None:
        """(sales, returns) the KPI cards show for the Probe category; None if not yet there."""
        try:
            answer = self.client.get(f"{self.base}/api/analytics/kpis", params={
                "category": CATEGORY})  # fmt: skip
        except httpx.HTTPError:
            return None
        if answer.status_code != 200:
            return None
        kpis: dict[str, Any] = answer.json()["kpis"]
        return Decimal(str(kpis["sales"])), Decimal(str(kpis.get("returns") or 0))

    def _wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.figures() == (self.sales, self.returns):
                return True
            time.sleep(0.1)
        return False

    # -- fixtures -----------------------------------------------------------------------
    def prepare(self, procs: list[Any], count: int = 64) -> None:
        """The lines the probes will change, produced and waited for in the API."""
        two_years = self.today - dt.timedelta(days=730)
        self._fixtures = {
            "correction_2y": [self._line(two_years, f"{100 + i}.25") for i in range(count)],
            "cancellation": [
                self._line(self.today - dt.timedelta(days=30), f"{50 + i}.50") for i in range(count)
            ],
            "return": [
                self._line(self.today - dt.timedelta(days=60), f"{80 + i}.01", quantity=4)
                for i in range(count)
            ],
        }
        for lines in self._fixtures.values():
            for line in lines:
                self.producer.produce(self.kafka.topic, key=line.order_id, value=encode_line(line))
                self.sales += line.sales
        self.producer.flush(30)
        if not self._wait(300):
            shown = self.figures()
            raise RuntimeError(f"the probe fixtures never showed in /api/analytics: {shown}")

    # -- the probes ---------------------------------------------------------------------
    def probe(self, kind: str, i: int) -> None:
        """One change of `kind`, timed until the API shows it."""
        if kind == "new_line_today":
            line = self._line(self.today, f"{7 + i}.07")
            self.sales += line.sales
            sent = self._send(encode_line(line), line.order_id)
        elif kind == "correction_2y":
            old = self._fixtures[kind][i]
            new = old.model_copy(update={"sales": old.sales + Decimal("1.0001")})
            self._fixtures[kind][i] = new
            self.sales += new.sales - old.sales
            sent = self._send(encode_line(new), new.order_id)
        elif kind == "cancellation":
            line = self._fixtures[kind][i]
            event = OrderEvent(
                event="order_cancelled", order_id=line.order_id,
                event_time=dt.datetime.now(dt.UTC), reason="bench",
            )  # fmt: skip
            self.sales -= line.sales
            sent = self._send(encode_event(event), line.order_id)
        else:
            line = self._fixtures[kind][i]
            event = OrderEvent.model_validate({
                "event": "order_returned", "order_id": line.order_id,
                "event_time": dt.datetime.now(dt.UTC).isoformat(),
                "lines": [{"line_number": 1, "quantity": 1}],
            })  # fmt: skip
            self.returns += (line.sales / 4).quantize(_FOUR, rounding=ROUND_HALF_UP)
            sent = self._send(encode_event(event), line.order_id)
        seen = self._wait(TIMEOUT)
        self.samples[kind].append(time.time() - sent if seen else TIMEOUT)
        if not seen:
            self.missed[kind] += 1
            self._resync()

    def _resync(self) -> None:
        """After a missed probe, take what the API shows as the new baseline."""
        shown = self.figures()
        if shown is not None:
            self.sales, self.returns = shown

    @contextlib.contextmanager
    def running(self, per_kind: int) -> Iterator[None]:
        """Probe in a thread while the caller produces the traffic (`per_kind` each at most)."""
        stop = threading.Event()

        def loop() -> None:
            for i in range(per_kind):
                for kind in PROBE_KINDS:
                    if stop.is_set():
                        return
                    self.probe(kind, i)
                    stop.wait(0.5)

        thread = threading.Thread(target=loop, daemon=True, name="analytics-probes")
        thread.start()
        try:
            yield
        finally:
            stop.set()  # probes only while the traffic runs; the one in flight finishes
            thread.join()

    def results(self) -> dict[str, Any]:
        """Every sample (seconds) and the misses, per kind."""
        return {
            "samples": {k: [round(s, 3) for s in v] for k, v in self.samples.items()},
            "missed": self.missed,
        }
