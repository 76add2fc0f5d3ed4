"""Malformed messages for the fault suite: every kind, and the reason each must carry."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from superstore.clients import KafkaConfig
from superstore.contract import OrderLine, encode_line
from superstore.produce import BAD_KINDS, bad_record
from superstore.produce.readback import scan_topic


def broken(template: OrderLine, key: str, **changes: object) -> bytes:
    """A good line under order id `key`, with `changes` (None deletes the field)."""
    doc = json.loads(encode_line(template)) | {"order_id": key}
    for name, value in changes.items():
        if value is None:
            del doc[name]
        else:
            doc[name] = value
    return json.dumps(doc).encode()


# Kind -> (value of the message, text its rejection reason must contain). The five
# kinds of `produce --inject-bad` come from the project; these add the rest.
MORE_BAD: dict[str, tuple[Callable[[OrderLine, str], bytes | None], str]] = {
    "not_json": (lambda t, k: b"not json at all: " + k.encode(), "Invalid JSON"),
    "not_utf8": (lambda t, k: b"\xff\xfe\x00" + k.encode(), "Invalid JSON"),
    "empty_value": (lambda t, k: b"", "Invalid JSON"),
    "null_value": (lambda t, k: None, "undecodable: empty message value"),
    "json_array": (lambda t, k: json.dumps([k]).encode(), "Input should be an object"),
    "line_number_zero": (
        lambda t, k: broken(t, k, line_number=0),
        "line_number: Input should be greater than or equal to 1",
    ),
    "ship_before_order": (
        lambda t, k: broken(t, k, ship_date="2009-12-31"),
        "ship_date 2009-12-31 is before order_date",
    ),
    "float_sales": (
        lambda t, k: broken(t, k, sales=12.5),
        "sales.constrained-str: Input should be a valid string",
    ),
    "negative_sales": (
        lambda t, k: broken(t, k, sales="-1.00"),
        "sales.constrained-str: String should match pattern",
    ),
    "discount_over_1": (
        lambda t, k: broken(t, k, discount="1.5"),
        "discount: must be between 0 and 1",
    ),
    "impossible_date": (
        lambda t, k: broken(t, k, order_date="2017-02-30", ship_date="2017-03-04"),
        "date: day is out of range for month",
    ),
    "unknown_field": (
        lambda t, k: broken(t, k, coupon="SAVE10"),
        "coupon: Extra inputs are not permitted",
    ),
    "nul_in_text": (  # valid JSON and contract; only PostgreSQL refuses it (bisection)
        lambda t, k: broken(t, k, product_name=t.product_name + "\u0000"),
        "refused by PostgreSQL",
    ),
}


PROJECT_BAD = {
    "bad_json": "Invalid JSON",
    "missing_field": "sales: Field required",
    "wrong_type": "quantity: Input should be a valid integer",
    "negative_quantity": "quantity: Input should be greater than or equal to 1",
    "unknown_schema_version": "schema_version: Input should be 1",
}


assert set(PROJECT_BAD) == set(BAD_KINDS), "a new kind of bad message needs its reason here"


BAD_KIND_NAMES = (*BAD_KINDS, *MORE_BAD)


# Rows only PostgreSQL refuses cost a bisection of their batch: 1 in 500 keeps this fast.
REFUSED_EVERY = 500


@dataclass(frozen=True)
class Malformed:
    """One malformed record, its kind, and what its rejection reason must say."""

    key: str
    value: bytes | None
    kind: str
    reason: str


def malformed(dataset: list[OrderLine], count: int) -> list[Malformed]:
    """`count` malformed records with distinct keys, cycling through the kinds."""
    out = []
    cycle = [k for k in BAD_KIND_NAMES if k != "nul_in_text"]
    for i in range(count):
        kind = "nul_in_text" if i % REFUSED_EVERY == 1 else cycle[i % len(cycle)]
        template = dataset[i % len(dataset)]
        if kind in PROJECT_BAD:
            key, value = bad_record(kind, template, i)
            out.append(Malformed(key, value, kind, PROJECT_BAD[kind]))
        else:
            key = f"BAD-{i:06d}"  # bad_record's key form: never a good line's order id
            build, reason = MORE_BAD[kind]
            out.append(Malformed(key, build(template, key), kind, reason))
    return out


def read_messages(kafka: KafkaConfig, topic: str) -> list[tuple[bytes, str, bytes | None, dict]]:
    """(key, partition/offset, value, headers) of every message of `topic`."""
    got = []
    scan_topic(
        kafka,
        topic,
        lambda _: None,
        on_message=lambda m: got.append(
            (m.key(), f"{m.partition()}/{m.offset()}", m.value(), dict(m.headers() or []))
        ),
    )
    return got
