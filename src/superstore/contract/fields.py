r"""The message contract's fields, declared once: name, kind, whether a message must carry it.

Every other form of the contract comes from this table. The judge (the
validator that names a dead letter's reason) is built from it; the canonical
pydantic model `OrderLine` and the fast msgspec struct `WireLine` are written
out as classes, for readers and type checkers, and `check_form` proves at
import that each lists exactly these fields, in this order, with these kinds.

The text forms below are shared by every validator, so they agree on what a
number or a date looks like. NUMERIC(18,4) holds at most 14 integer digits and
4 decimals; JSON integers are exact too. Digits are ASCII only (``[0-9]``, not
``\d``, which also takes other scripts' digits that PostgreSQL refuses), and
text holds no control character (NUL, which PostgreSQL refuses, and the rest of
C0 and DEL): a message a validator accepts is never refused by a store later.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DATE_PATTERN",
    "DISCOUNT_PATTERN",
    "LINE_FIELDS",
    "LINE_FIELD_NAMES",
    "MAX_INT",
    "MAX_MONEY_INT",
    "MAX_POSTAL",
    "MAX_TEXT",
    "MONEY_PATTERN",
    "NONNEG_MONEY_PATTERN",
    "SCHEMA_VERSION",
    "FieldSpec",
    "Kind",
    "check_form",
    "check_text",
]

SCHEMA_VERSION: Literal[1] = 1
MONEY_PATTERN = r"^-?[0-9]{1,14}(\.[0-9]{1,4})?$"
NONNEG_MONEY_PATTERN = r"^[0-9]{1,14}(\.[0-9]{1,4})?$"
DISCOUNT_PATTERN = r"^[01](\.[0-9]{1,4})?$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
MAX_INT = 2_147_483_647  # PostgreSQL integer
MAX_MONEY_INT = 10**14 - 1
MAX_TEXT = 200
MAX_POSTAL = 20
_CONTROL = re.compile(r"[\x00-\x1f\x7f]").search


def check_text(value: str) -> str:
    """`value` unless it holds a control character; a ValueError naming the first one."""
    found = _CONTROL(value)
    if found:
        raise ValueError(
            f"must not contain control characters (found U+{ord(found.group()):04X} "
            f"at position {found.start()})"
        )
    return value


class Kind(enum.Enum):
    """What a field holds, which decides how each form types and checks it."""

    VERSION = "schema version"  # the literal 1 (absent means 1)
    TEXT = "text"  # 1..MAX_TEXT characters
    POSTAL = "postal code"  # 0..MAX_POSTAL characters
    COUNT = "count"  # integer 1..MAX_INT
    DATE = "date"  # YYYY-MM-DD, a real day
    MONEY = "money"  # decimal text or integer, may be negative
    NONNEG_MONEY = "non-negative money"
    DISCOUNT = "discount"  # 0..1 with up to 4 decimals


@dataclass(frozen=True)
class FieldSpec:
    """One field of a message."""

    name: str
    kind: Kind
    required: bool = True
    doc: str = ""


LINE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("schema_version", Kind.VERSION, False, "Contract version; absent means 1."),
    FieldSpec("order_id", Kind.TEXT, doc="The order; also the Kafka message key."),
    FieldSpec("line_number", Kind.COUNT, doc="1-based position of the line in its order."),
    FieldSpec("row_id", Kind.COUNT, False, "Row ID of the seed data set, if any."),
    FieldSpec("order_date", Kind.DATE),
    FieldSpec("ship_date", Kind.DATE, doc="Never before order_date."),
    FieldSpec("ship_mode", Kind.TEXT),
    FieldSpec("customer_id", Kind.TEXT),
    FieldSpec("customer_name", Kind.TEXT),
    FieldSpec("segment", Kind.TEXT),
    FieldSpec("country", Kind.TEXT),
    FieldSpec("city", Kind.TEXT),
    FieldSpec("state", Kind.TEXT),
    FieldSpec("postal_code", Kind.POSTAL, False),
    FieldSpec("region", Kind.TEXT),
    FieldSpec("product_id", Kind.TEXT),
    FieldSpec("category", Kind.TEXT),
    FieldSpec("sub_category", Kind.TEXT),
    FieldSpec("product_name", Kind.TEXT),
    FieldSpec("sales", Kind.NONNEG_MONEY),
    FieldSpec("quantity", Kind.COUNT, False),
    FieldSpec("discount", Kind.DISCOUNT, False),
    FieldSpec("profit", Kind.MONEY, False),
)
LINE_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in LINE_FIELDS)


def check_form(
    form: type,
    fields: tuple[FieldSpec, ...],
    alias: Mapping[Kind, str],
    annotations: Mapping[str, object],
) -> None:
    """Fail at import unless `form` declares exactly `fields`, in order, with their kinds.

    `annotations` are the class's annotations as written (strings, under
    ``from __future__ import annotations``); `alias` names the type alias that
    form uses for each kind. An optional field must be ``<alias> | None``.
    """
    names = tuple(annotations)
    expected = tuple(f.name for f in fields)
    if names != expected:
        raise TypeError(f"{form.__name__} lists {names}, the contract lists {expected}")
    for spec in fields:
        want = alias[spec.kind] + ("" if spec.required or spec.kind is Kind.VERSION else " | None")
        got = str(annotations[spec.name])
        if got != want:
            raise TypeError(f"{form.__name__}.{spec.name} is {got!r}, the contract says {want!r}")
