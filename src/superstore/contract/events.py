"""Order events: a cancellation or a return of an order (or of some of its lines).

An event is a message of the lines topic keyed, like the order's lines, by the
order id, so it shares their partition and comes after them in it. A message
is an event when it has an ``event`` field; every line message stays valid as
it is. The JSON::

    {"schema_version": 1, "event": "order_cancelled", "order_id": "CA-2016-152156",
     "event_time": "2016-11-09T10:30:00Z", "reason": "customer request"}
    {"schema_version": 1, "event": "order_returned", "order_id": "CA-2016-152156",
     "event_time": "2016-11-20T09:00:00Z",
     "lines": [{"line_number": 1, "quantity": 1}, {"line_number": 2}]}

``lines`` is only for returns: absent means the whole order came back; a line
without ``quantity`` came back whole. Times are RFC 3339 with a zone (a number
is refused: it is not a time). Whether the order is known does not decide the
verdict: an event is valid or not on its own, and applies to the order's lines
whenever they are stored (see superstore.oltp.events).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, model_validator

from superstore.contract.fields import SCHEMA_VERSION
from superstore.contract.model import Count, Text

__all__ = [
    "EVENT_KINDS",
    "OrderEvent",
    "ReturnedLine",
    "decode_event",
    "encode_event",
    "has_event_field",
]

EVENT_KINDS = ("order_cancelled", "order_returned")
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _time_text(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError(
            "event_time must be an RFC 3339 time with a zone, e.g. 2017-12-30T10:00:00Z"
        )
    return value


EventTime = Annotated[AwareDatetime, BeforeValidator(_time_text)]


class ReturnedLine(BaseModel):
    """One line of a return: which line, and how many came back (absent: all of it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line_number: Count
    quantity: Count | None = None


class OrderEvent(BaseModel):
    """A cancellation or a return, as published to ``sales.lines``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    event: Literal["order_cancelled", "order_returned"]
    order_id: Text
    event_time: EventTime
    reason: Text | None = None
    lines: tuple[ReturnedLine, ...] | None = None

    @model_validator(mode="after")
    def _lines_of_a_return(self) -> OrderEvent:
        if self.lines is not None:
            if self.event != "order_returned":
                raise ValueError("lines: only a return names lines (a cancellation is whole)")
            if not self.lines:
                raise ValueError("lines: empty; leave it out to return the whole order")
            numbers = [line.line_number for line in self.lines]
            if len(set(numbers)) != len(numbers):
                raise ValueError("lines: a line number appears twice")
        return self


def has_event_field(raw: bytes) -> bool:
    """Cheap pre-check: could this message be an event (it mentions an ``event`` key)?"""
    return b'"event"' in raw


def decode_event(raw: bytes) -> OrderEvent:
    """Parse and validate an event message; raises pydantic.ValidationError."""
    return OrderEvent.model_validate_json(raw)


def encode_event(event: OrderEvent) -> bytes:
    """The JSON bytes of an event (optional fields left out)."""
    return event.model_dump_json(exclude_none=True).encode()
