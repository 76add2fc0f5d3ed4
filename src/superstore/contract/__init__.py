"""The message contract: JSON order lines and order events per Kafka message, declared once.

`fields` is the table of line fields and text forms; `model.OrderLine` is the
canonical pydantic model of a line (producers, tests); `events.OrderEvent` is
a cancellation or a return; `wire.decode_message` is the fast validator of the
ingest hot path, which never accepts what the models refuse, then checks the
data expectations (`expectations`). Nothing here knows about a pipeline stage.
"""

from superstore.contract.events import (
    EVENT_KINDS,
    OrderEvent,
    ReturnedLine,
    decode_event,
    encode_event,
)
from superstore.contract.expectations import DEFAULT_EXPECTATIONS, US_STATES, Expectations
from superstore.contract.fields import (
    LINE_FIELD_NAMES,
    LINE_FIELDS,
    MAX_TEXT,
    SCHEMA_VERSION,
    FieldSpec,
    Kind,
    check_text,
)
from superstore.contract.model import OrderLine, decode_line, encode_line
from superstore.contract.reasons import describe_validation_error
from superstore.contract.wire import (
    ExpectationError,
    WireError,
    WireLine,
    decode_message,
    decode_wire,
    judge_wire,
    line_key,
)

__all__ = [
    "DEFAULT_EXPECTATIONS",
    "EVENT_KINDS",
    "LINE_FIELDS",
    "LINE_FIELD_NAMES",
    "MAX_TEXT",
    "SCHEMA_VERSION",
    "US_STATES",
    "ExpectationError",
    "Expectations",
    "FieldSpec",
    "Kind",
    "OrderEvent",
    "OrderLine",
    "ReturnedLine",
    "WireError",
    "WireLine",
    "check_text",
    "decode_event",
    "decode_line",
    "decode_message",
    "decode_wire",
    "describe_validation_error",
    "encode_event",
    "encode_line",
    "judge_wire",
    "line_key",
]
