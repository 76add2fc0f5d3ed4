"""The message contract: one JSON order line per Kafka message, declared once.

`fields` is the table of fields and text forms; `model.OrderLine` is the
canonical pydantic model (producers, tests); `wire.decode_wire` is the fast
validator of the ingest hot path, which never accepts what `OrderLine` refuses.
Nothing here knows about a pipeline stage.
"""

from superstore.contract.fields import (
    LINE_FIELD_NAMES,
    LINE_FIELDS,
    SCHEMA_VERSION,
    FieldSpec,
    Kind,
)
from superstore.contract.model import OrderLine, decode_line, encode_line
from superstore.contract.reasons import describe_validation_error
from superstore.contract.wire import WireError, WireLine, decode_wire, judge_wire, line_key

__all__ = [
    "LINE_FIELDS",
    "LINE_FIELD_NAMES",
    "SCHEMA_VERSION",
    "FieldSpec",
    "Kind",
    "OrderLine",
    "WireError",
    "WireLine",
    "decode_line",
    "decode_wire",
    "describe_validation_error",
    "encode_line",
    "judge_wire",
    "line_key",
]
