"""The wire contract: JSON round trip, exact money, validation of bad input."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from superstore.contract import SCHEMA_VERSION, OrderLine, decode_line, encode_line
from superstore.data import load_lines


@pytest.fixture(scope="module")
def line() -> OrderLine:
    return load_lines()[0]


def test_round_trip_keeps_exact_decimals(line: OrderLine) -> None:
    raw = encode_line(line)
    doc = json.loads(raw)
    assert doc["schema_version"] == SCHEMA_VERSION
    assert isinstance(doc["sales"], str), "money travels as a string, never a float"
    assert set(doc) >= {"order_id", "line_number", "order_date", "customer_id", "product_name"}
    assert decode_line(raw) == line


def test_four_decimal_places_survive() -> None:
    raw = encode_line(load_lines()[0]).replace(b'"profit":"41.9136"', b'"profit":"41.9137"')
    assert decode_line(raw).profit == Decimal("41.9137")


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"schema_version": 2}, "schema_version"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": "three"}, "quantity"),
        ({"sales": "1e400"}, "sales"),
        ({"discount": "1.5"}, "discount"),
        ({"ship_date": "2000-01-01"}, "ship_date"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_invalid_messages_are_rejected(line: OrderLine, change: dict, needle: str) -> None:
    doc = json.loads(encode_line(line)) | change
    with pytest.raises(ValidationError, match=needle):
        decode_line(json.dumps(doc).encode())


def test_missing_field_and_garbage(line: OrderLine) -> None:
    doc = json.loads(encode_line(line))
    del doc["order_id"]
    with pytest.raises(ValidationError, match="order_id"):
        decode_line(json.dumps(doc).encode())
    with pytest.raises(ValidationError):
        decode_line(b"{not json")
    with pytest.raises(ValueError):
        decode_line(None)


def test_natural_key_is_order_and_line_number(line: OrderLine) -> None:
    assert line.key == f"{line.order_id}#{line.line_number}"
