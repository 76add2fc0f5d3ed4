"""The fast validator of the wire contract, used on the ingest hot path.

`OrderLine` (contract.model) is the canonical model; both are built from the field
table in contract.fields. Building a model instance
with Decimal and date objects costs ~12 us per message, so the hot path checks
the same contract on text and ints and hands PostgreSQL text it parses itself.

Two validators, one verdict:
- the judge, a pydantic TypedDict whose money and dates stay strings, ~7 us a
  message. It decides every message the fast path does not accept, and its
  errors are the reasons dead letters carry. tests/test_wire.py proves it
  accepts and refuses exactly what `OrderLine` does.
- the fast path, a msgspec Struct (~1.2 us) plus ASCII-only checks of money
  and dates, memoised per distinct text (~0.5 us). It is stricter than the
  judge (no coercion of "5" to 5, no non-ASCII digits), never looser, so a
  message it refuses goes to the judge, which accepts it or says why not.
  tests/test_wire.py proves every message it accepts has the judge's values.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal, NotRequired

import msgspec
from msgspec import Meta, Struct
from pydantic import AfterValidator, ConfigDict, Field, Strict, TypeAdapter
from typing_extensions import TypedDict

from superstore.contract.events import OrderEvent, decode_event, has_event_field
from superstore.contract.expectations import DEFAULT_EXPECTATIONS, Expectations
from superstore.contract.fields import (
    DATE_PATTERN,
    DISCOUNT_PATTERN,
    LINE_FIELDS,
    MAX_INT,
    MAX_MONEY_INT,
    MAX_POSTAL,
    MAX_TEXT,
    MONEY_PATTERN,
    NONNEG_MONEY_PATTERN,
    FieldSpec,
    Kind,
    check_form,
    check_text,
)

__all__ = [
    "ExpectationError",
    "WireError",
    "WireLine",
    "decode_message",
    "decode_wire",
    "judge_wire",
    "line_key",
]

# -- the judge: a pydantic TypedDict built from the contract's field table ----------
# Strict ints: a string like "-0" or "+5" must meet the pattern, never be coerced to an int.
_JUDGE_TYPES: dict[Kind, Any] = {
    Kind.VERSION: Literal[1],
    Kind.TEXT: Annotated[str, Field(min_length=1, max_length=MAX_TEXT), AfterValidator(check_text)],
    Kind.POSTAL: Annotated[str, Field(max_length=MAX_POSTAL), AfterValidator(check_text)],
    Kind.COUNT: Annotated[int, Field(ge=1, le=MAX_INT)],
    Kind.DATE: Annotated[str, Field(pattern=DATE_PATTERN)],
    Kind.MONEY: Annotated[str, Field(pattern=MONEY_PATTERN)]
    | Annotated[int, Strict(), Field(ge=-MAX_MONEY_INT, le=MAX_MONEY_INT)],
    Kind.NONNEG_MONEY: Annotated[str, Field(pattern=NONNEG_MONEY_PATTERN)]
    | Annotated[int, Strict(), Field(ge=0, le=MAX_MONEY_INT)],
    Kind.DISCOUNT: Annotated[str, Field(pattern=DISCOUNT_PATTERN)]
    | Annotated[int, Strict(), Field(ge=0, le=1)],
}


def _judge_field(spec: FieldSpec) -> Any:
    kind = _JUDGE_TYPES[spec.kind]
    if spec.kind is Kind.VERSION:  # absent means 1, as in OrderLine
        return NotRequired[kind]
    return kind if spec.required else NotRequired[kind | None]


_Judge = TypedDict(  # type: ignore[misc]  # a functional TypedDict built from the table
    "_Judge", {spec.name: _judge_field(spec) for spec in LINE_FIELDS}
)
# pydantic reads a TypedDict's config from this attribute; the functional form cannot set it.
_Judge.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]  # see above
_ADAPTER = TypeAdapter(_Judge)
_NOT_REQUIRED = tuple(s.name for s in LINE_FIELDS if not s.required and s.kind is not Kind.VERSION)
_ALL_FIELDS = len(LINE_FIELDS)


class WireError(ValueError):
    """A message that parses but breaks a rule beyond field types (dates, ranges)."""


class ExpectationError(WireError):
    """A line whose region, segment, ship mode or state is not a reference value."""


# -- the fast path ---------------------------------------------------------------
_FastText = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT)]
_FastPostal = Annotated[str, Meta(max_length=MAX_POSTAL)]
_FastCount = Annotated[int, Meta(ge=1, le=MAX_INT)]
_FastMoney = str | Annotated[int, Meta(ge=-MAX_MONEY_INT, le=MAX_MONEY_INT)]
_FastNonNeg = str | Annotated[int, Meta(ge=0, le=MAX_MONEY_INT)]
_FastDiscount = str | Annotated[int, Meta(ge=0, le=1)]
_FastDate = str  # its form is checked by decode_wire, memoised


class WireLine(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, gc=False):
    """One valid line as the hot path holds it: money and dates as text, counts as ints.

    Money and dates are plain `str` here; `decode_wire` checks their form.
    Only str, int and None inside, so the garbage collector need not track it.
    """

    schema_version: Literal[1] = 1
    order_id: _FastText
    line_number: _FastCount
    row_id: _FastCount | None = None
    order_date: _FastDate
    ship_date: _FastDate
    ship_mode: _FastText
    customer_id: _FastText
    customer_name: _FastText
    segment: _FastText
    country: _FastText
    city: _FastText
    state: _FastText
    postal_code: _FastPostal | None = None
    region: _FastText
    product_id: _FastText
    category: _FastText
    sub_category: _FastText
    product_name: _FastText
    sales: _FastNonNeg
    quantity: _FastCount | None = None
    discount: _FastDiscount | None = None
    profit: _FastMoney | None = None


check_form(
    WireLine,
    LINE_FIELDS,
    {
        Kind.VERSION: "Literal[1]",
        Kind.TEXT: "_FastText",
        Kind.POSTAL: "_FastPostal",
        Kind.COUNT: "_FastCount",
        Kind.DATE: "_FastDate",
        Kind.MONEY: "_FastMoney",
        Kind.NONNEG_MONEY: "_FastNonNeg",
        Kind.DISCOUNT: "_FastDiscount",
    },
    WireLine.__annotations__,
)

_DECODER = msgspec.json.Decoder(WireLine)
# The judge's patterns, ASCII digits only (its \d also takes other scripts' digits: it
# decides those); fullmatch, as `$` alone also matches before a final newline.
_DATE_FORM = re.compile(DATE_PATTERN, re.ASCII).fullmatch
_MONEY_FORM = re.compile(MONEY_PATTERN, re.ASCII).fullmatch
_NONNEG_FORM = re.compile(NONNEG_MONEY_PATTERN, re.ASCII).fullmatch
_DISCOUNT_FORM = re.compile(DISCOUNT_PATTERN, re.ASCII).fullmatch
# Texts already checked, per kind. A stream repeats its dates and prices, so a set
# lookup replaces most checks; each set is emptied when it reaches _MEMO_LIMIT.
_MEMO_LIMIT = 1 << 16
_DATES: set[str] = set()
_MONEY: set[str] = set()
_NONNEG: set[str] = set()
_DISCOUNTS: set[str] = set()


class _NotFast(Exception):
    """The fast path cannot vouch for this message: the judge decides."""


def _remember(memo: set[str], text: str) -> None:
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo.add(text)


def _check_date(text: str) -> None:
    if not _DATE_FORM(text):
        raise _NotFast
    dt.date.fromisoformat(text)  # ValueError for 2017-02-30
    _remember(_DATES, text)


def _check_money(value: str | int | None, memo: set[str], form: Callable[[str], object]) -> None:
    if not isinstance(value, str):  # None, or an int whose range the Struct checked
        return
    if not form(value):
        raise _NotFast
    _remember(memo, value)


def _check_discount(value: str | int | None) -> None:
    if not isinstance(value, str):
        return
    if not _DISCOUNT_FORM(value) or float(value) > 1:
        raise _NotFast
    _remember(_DISCOUNTS, value)


# A control character can reach a JSON string only escaped (raw ones are invalid JSON), so
# a message without these escapes holds none; one with them (or an escaped backslash
# before such a letter) goes to the judge, which checks every text field.
_ESCAPED_CONTROL = re.compile(rb"\\(?:u00[01][0-9A-Fa-f]|u007[Ff]|[bfnrt])").search


def _fast(raw: bytes) -> WireLine:
    if b"\\" in raw and _ESCAPED_CONTROL(raw):
        raise _NotFast
    line = _DECODER.decode(raw)
    order_date, ship_date = line.order_date, line.ship_date
    if order_date not in _DATES:
        _check_date(order_date)
    if ship_date not in _DATES:
        _check_date(ship_date)
    if ship_date < order_date:  # both YYYY-MM-DD: text order is date order
        raise _NotFast
    if line.sales not in _NONNEG:
        _check_money(line.sales, _NONNEG, _NONNEG_FORM)
    if line.profit not in _MONEY:
        _check_money(line.profit, _MONEY, _MONEY_FORM)
    if line.discount not in _DISCOUNTS:
        _check_discount(line.discount)
    return line


def judge_wire(raw: bytes | None) -> dict[str, Any]:
    """Validate one message with the judge; returns its fields (money and dates as text).

    Raises pydantic.ValidationError for type/shape errors, WireError for the
    rest, ValueError for an empty value.
    """
    if raw is None:
        raise ValueError("empty message value")
    doc: dict[str, Any] = dict(_ADAPTER.validate_json(raw))
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


def decode_wire(raw: bytes | None, expect: Expectations = DEFAULT_EXPECTATIONS) -> WireLine:
    """Validate one line message: the fast path, else the judge (whose errors name the reason).

    Then the data expectations (`expect`): region, segment, ship mode and state
    must be reference values. Raises pydantic.ValidationError for type/shape
    errors, WireError for the rest (ExpectationError, a WireError, for a value
    outside a reference set), ValueError for an empty value.
    """
    if raw is None:
        raise ValueError("empty message value")
    try:
        line = _fast(raw)
    except (msgspec.MsgspecError, ValueError, _NotFast):
        line = WireLine(**judge_wire(raw))
    if not expect.accepts(line.region, line.segment, line.ship_mode, line.state):
        try:
            expect.check(line.region, line.segment, line.ship_mode, line.state)
        except ValueError as exc:
            raise ExpectationError(str(exc)) from None
    return line


def decode_message(
    raw: bytes | None, expect: Expectations = DEFAULT_EXPECTATIONS
) -> WireLine | OrderEvent:
    """A line or an order event, each validated by its own rules (`decode_wire`, the event model).

    A message is an event when it has an ``event`` field. Raises as
    `decode_wire` does (pydantic.ValidationError for an invalid event).
    """
    if raw is None:
        raise ValueError("empty message value")
    if has_event_field(raw):
        try:
            kind = _KIND.decode(raw)
        except msgspec.MsgspecError:
            kind = None  # not even JSON: the line path names the reason
        if kind is not None and kind.event is not None:
            return decode_event(raw)
    return decode_wire(raw, expect)


class _Kind(Struct):
    """Only the ``event`` field, to tell an event from a line (other fields are skipped)."""

    event: object = None


_KIND = msgspec.json.Decoder(_Kind)


def line_key(line: WireLine) -> str:
    """Natural key of a decoded line, as `OrderLine.key`."""
    return f"{line.order_id}#{line.line_number}"
