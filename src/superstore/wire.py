"""The fast validator of the wire contract, used on the ingest hot path.

`OrderLine` (messages.py) is the canonical model. Building a model instance
with Decimal and date objects costs ~12 us per message; this validator checks
the same contract with a pydantic TypedDict whose money and dates stay
strings (checked by pattern, then by cheap Python checks), ~5 us, and hands
PostgreSQL text it parses itself. tests/test_wire.py proves the two accept
and reject the same messages.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, Strict, TypeAdapter
from typing_extensions import TypedDict

__all__ = [
    "DATE_PATTERN",
    "DISCOUNT_PATTERN",
    "MONEY_PATTERN",
    "NONNEG_MONEY_PATTERN",
    "WIRE_FIELDS",
    "WireError",
    "decode_wire",
    "line_key",
]

# Text forms shared with OrderLine (messages.py), so both validators agree.
# NUMERIC(18,4): at most 14 integer digits and 4 decimals; JSON integers are exact too.
MONEY_PATTERN = r"^-?\d{1,14}(\.\d{1,4})?$"
NONNEG_MONEY_PATTERN = r"^\d{1,14}(\.\d{1,4})?$"
DISCOUNT_PATTERN = r"^[01](\.\d{1,4})?$"
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
MAX_INT = 2_147_483_647
MAX_MONEY_INT = 10**14 - 1

_Text = Annotated[str, Field(min_length=1, max_length=200)]
_Count = Annotated[int, Field(ge=1, le=MAX_INT)]
# Strict ints: a string like "-0" or "+5" must meet the pattern, never be coerced to an int.
_Money = (
    Annotated[str, Field(pattern=MONEY_PATTERN)]
    | Annotated[int, Strict(), Field(ge=-MAX_MONEY_INT, le=MAX_MONEY_INT)]
)
_NonNegMoney = (
    Annotated[str, Field(pattern=NONNEG_MONEY_PATTERN)]
    | Annotated[int, Strict(), Field(ge=0, le=MAX_MONEY_INT)]
)
_Discount = (
    Annotated[str, Field(pattern=DISCOUNT_PATTERN)] | Annotated[int, Strict(), Field(ge=0, le=1)]
)
_Date = Annotated[str, Field(pattern=DATE_PATTERN)]


class _Wire(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    schema_version: NotRequired[Literal[1]]  # absent means 1, as in OrderLine
    order_id: _Text
    line_number: _Count
    row_id: NotRequired[_Count | None]
    order_date: _Date
    ship_date: _Date
    ship_mode: _Text
    customer_id: _Text
    customer_name: _Text
    segment: _Text
    country: _Text
    city: _Text
    state: _Text
    postal_code: NotRequired[Annotated[str, Field(max_length=20)] | None]
    region: _Text
    product_id: _Text
    category: _Text
    sub_category: _Text
    product_name: _Text
    sales: _NonNegMoney
    quantity: NotRequired[_Count | None]
    discount: NotRequired[_Discount | None]
    profit: NotRequired[_Money | None]


_NOT_REQUIRED = ("row_id", "postal_code", "quantity", "discount", "profit")
_ADAPTER = TypeAdapter(_Wire)
WIRE_FIELDS = tuple(_Wire.__annotations__)
_ALL_FIELDS = len(WIRE_FIELDS)


class WireError(ValueError):
    """A message that parses but breaks a rule beyond field types (dates, ranges)."""


def decode_wire(raw: bytes | None) -> dict[str, Any]:
    """Validate one message; returns its fields (money and dates as text).

    Raises pydantic.ValidationError for type/shape errors, WireError for the
    rest, ValueError for an empty value.
    """
    if raw is None:
        raise ValueError("empty message value")
    doc: dict[str, Any] = _ADAPTER.validate_json(raw)  # type: ignore[assignment]
    if len(doc) != _ALL_FIELDS:  # our producers send every field; others may omit some
        for name in _NOT_REQUIRED:
            doc.setdefault(name, None)
        doc.setdefault("schema_version", 1)
    try:
        order_date = dt.date.fromisoformat(doc["order_date"])
        ship_date = dt.date.fromisoformat(doc["ship_date"])
    except ValueError as exc:
        raise WireError(f"invalid: date: {exc}") from None
    if ship_date < order_date:
        raise WireError(f"invalid: ship_date {ship_date} is before order_date {order_date}")
    discount = doc["discount"]
    # The pattern allows 0.dddd and 1.dddd (at most 4 decimals, all exact enough in
    # a float to tell "1.0001" from 1), the int branch 0 and 1.
    if discount is not None and float(discount) > 1:
        raise WireError(f"invalid: discount: must be between 0 and 1 (got {discount!r})")
    return doc


def line_key(doc: dict[str, Any]) -> str:
    """Natural key of a decoded line, as `OrderLine.key`."""
    return f"{doc['order_id']}#{doc['line_number']}"
