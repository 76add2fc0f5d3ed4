"""`produce --live`: paced synthetic orders dated today, until stopped."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

from superstore.clients import KafkaConfig
from superstore.produce.events import EventSynthesizer, event_record
from superstore.produce.producer import ProduceResult, Progress, Record, produce_records, to_records
from superstore.produce.synth import LineSynthesizer

__all__ = ["paced", "produce_live"]


def paced(
    synth: LineSynthesizer,
    rate: float,
    today: Callable[[], dt.date],
    stop: threading.Event,
    max_lines: int | None = None,
    duration: float | None = None,
    events: EventSynthesizer | None = None,
) -> Iterator[Record]:
    """Records at `rate` lines/s (whole orders at a time) until stopped or a limit is hit.

    With `events`, an order's cancellation or return follows some orders later
    (events do not count towards the rate or `max_lines`).
    """
    if rate <= 0:
        raise ValueError("rate must be positive")
    started = time.monotonic()
    sent = 0
    while not stop.is_set():
        order = synth.order(today())
        if events is not None:
            yield from (event_record(e) for e in events.after(order))
        for record in to_records(order):
            if max_lines is not None and sent >= max_lines:
                return
            due = started + sent / rate
            delay = due - time.monotonic()
            if delay > 0 and stop.wait(delay):
                return
            yield record
            sent += 1
        if duration is not None and time.monotonic() - started >= duration:
            return


def produce_live(
    config: KafkaConfig,
    synth: LineSynthesizer,
    rate: float,
    timezone: str,
    stop: threading.Event | None = None,
    max_lines: int | None = None,
    duration: float | None = None,
    on_progress: Progress | None = None,
    events: EventSynthesizer | None = None,
) -> ProduceResult:
    """Publish synthetic orders dated today in `timezone` at `rate` lines/s."""
    zone = ZoneInfo(timezone)

    def today() -> dt.date:
        return dt.datetime.now(zone).date()

    records = paced(synth, rate, today, stop or threading.Event(), max_lines, duration, events)
    return produce_records(config, records, on_progress=on_progress)
