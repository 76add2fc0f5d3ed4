"""The canonical model of the wire contract: one order line per Kafka message, JSON.

Key = order id, so an order's lines stay in one partition. The natural key of
a line is (order_id, line_number), never (order_id, product_id): eight pairs
of lines in the data set share that pair and are distinct sales. Money is an
exact Decimal, serialised as a JSON string so no float ever touches it.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from superstore.contract.fields import (
    DATE_PATTERN,
    DISCOUNT_PATTERN,
    LINE_FIELDS,
    MAX_INT,
    MAX_POSTAL,
    MAX_TEXT,
    MONEY_PATTERN,
    NONNEG_MONEY_PATTERN,
    SCHEMA_VERSION,
    Kind,
    check_form,
    check_text,
)

__all__ = ["Count", "OrderLine", "Text", "decode_line", "encode_line"]


def _text_form(pattern: str, what: str) -> BeforeValidator:
    """Accept Python objects as they are; on the wire, only the exact text form (or an int)."""
    compiled = re.compile(pattern)

    def check(value: object) -> object:
        if isinstance(value, float):
            raise ValueError(f"{what} must be a string, not a JSON float (floats lose cents)")
        if isinstance(value, str) and not compiled.fullmatch(value):  # `$` alone allows a final \n
            raise ValueError(f"{what} must match {pattern}")
        return value

    return BeforeValidator(check)


def _date_text(value: object) -> object:
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not re.fullmatch(DATE_PATTERN, value):
        raise ValueError("date must be a YYYY-MM-DD string")
    return value


Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(check_text)]
Postal = Annotated[str, Field(max_length=MAX_POSTAL), AfterValidator(check_text)]
Count = Annotated[int, Field(ge=1, le=MAX_INT)]
Date = Annotated[dt.date, BeforeValidator(_date_text)]
Money = Annotated[
    Decimal,
    _text_form(MONEY_PATTERN, "money"),
    Field(max_digits=18, decimal_places=4, allow_inf_nan=False),
]
NonNegMoney = Annotated[
    Decimal,
    _text_form(NONNEG_MONEY_PATTERN, "money"),
    Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False),
]
Discount = Annotated[
    Decimal,
    _text_form(DISCOUNT_PATTERN, "discount"),
    Field(ge=0, le=1, max_digits=5, decimal_places=4),
]


class OrderLine(BaseModel):
    """One sold line of an order, as published to ``sales.lines``."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    schema_version: Literal[1] = SCHEMA_VERSION
    order_id: Text
    line_number: Count
    row_id: Count | None = None
    order_date: Date
    ship_date: Date
    ship_mode: Text
    customer_id: Text
    customer_name: Text
    segment: Text
    country: Text
    city: Text
    state: Text
    postal_code: Postal | None = None
    region: Text
    product_id: Text
    category: Text
    sub_category: Text
    product_name: Text
    sales: NonNegMoney
    quantity: Count | None = None
    discount: Discount | None = None
    profit: Money | None = None

    @model_validator(mode="after")
    def _ships_after_order(self) -> OrderLine:
        if self.ship_date < self.order_date:
            raise ValueError(f"ship_date {self.ship_date} is before order_date {self.order_date}")
        return self

    @property
    def key(self) -> str:
        """Natural key of the line, unique across the whole stream."""
        return f"{self.order_id}#{self.line_number}"


_ALIAS = {
    Kind.VERSION: "Literal[1]",
    Kind.TEXT: "Text",
    Kind.POSTAL: "Postal",
    Kind.COUNT: "Count",
    Kind.DATE: "Date",
    Kind.MONEY: "Money",
    Kind.NONNEG_MONEY: "NonNegMoney",
    Kind.DISCOUNT: "Discount",
}
check_form(OrderLine, LINE_FIELDS, _ALIAS, OrderLine.__annotations__)


def encode_line(line: OrderLine) -> bytes:
    """Serialise a line to the JSON bytes published to Kafka."""
    return line.model_dump_json(exclude_none=False).encode()


def decode_line(raw: bytes | None) -> OrderLine:
    """Parse and validate a message value; raises pydantic.ValidationError or ValueError."""
    if raw is None:
        raise ValueError("empty message value")
    return OrderLine.model_validate_json(raw)
