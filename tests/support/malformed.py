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
    # What PostgreSQL would refuse, refused by the validator first (same verdict in any batch).
    "nul_in_text": (
        lambda t, k: broken(t, k, product_name=t.product_name + "\u0000"),
        "product_name: Value error, must not contain control characters (found U+0000",
    ),
    "nul_in_customer": (  # a NUL once let a neighbour's name through: judged alone now
        lambda t, k: broken(t, k, customer_name=t.customer_name + "\u0000"),
        "customer_name: Value error, must not contain control characters (found U+0000",
    ),
    "control_in_text": (
        lambda t, k: broken(t, k, city="Hen\u0007derson"),
        "city: Value error, must not contain control characters (found U+0007",
    ),
    "non_ascii_digits": (
        lambda t, k: broken(t, k, sales="\u0661\u0662.50"),
        "sales.constrained-str: String should match pattern",
    ),
    "fullwidth_quantity": (
        lambda t, k: broken(t, k, quantity="\uff13"),
        "quantity: Input should be a valid integer",
    ),
    # Data expectations: reference sets.
    "unexpected_region": (
        lambda t, k: broken(t, k, region="-2+3"),
        "region: '-2+3' is not an expected region",
    ),
    "unexpected_state": (
        lambda t, k: broken(t, k, state="@SUM(1+1)"),
        "state: '@SUM(1+1)' is not an expected state",
    ),
    "unexpected_segment": (
        lambda t, k: broken(t, k, segment="VIP"),
        "segment: 'VIP' is not an expected segment",
    ),
    "unexpected_ship_mode": (
        lambda t, k: broken(t, k, ship_mode="Teleport"),
        "ship_mode: 'Teleport' is not an expected ship_mode",
    ),
    # Order events.
    "unknown_event": (
        lambda t, k: event(k, event="order_lost"),
        "event: Input should be 'order_cancelled' or 'order_returned'",
    ),
    "event_time_number": (
        lambda t, k: event(k, event_time=1483228800),
        "event_time must be an RFC 3339 time with a zone",
    ),
    "event_time_without_zone": (
        lambda t, k: event(k, event_time="2017-01-01T10:00:00"),
        "event_time must be an RFC 3339 time with a zone",
    ),
    "cancellation_with_lines": (
        lambda t, k: event(k, lines=[{"line_number": 1}]),
        "lines: only a return names lines",
    ),
    "return_of_zero": (
        lambda t, k: event(k, event="order_returned", lines=[{"line_number": 1, "quantity": 0}]),
        "lines.0.quantity: Input should be greater than or equal to 1",
    ),
    # Valid by the contract, refused by a rule the store has and the contract does not
    # (the test adds a CHECK constraint, as a DBA might): isolated by bisection.
    "refused_by_store": (
        lambda t, k: broken(t, k, quantity=STORE_LIMIT + 1),
        "refused by PostgreSQL",
    ),
}


def event(key: str, **changes: object) -> bytes:
    """A cancellation of order `key`, with `changes`."""
    doc = {"event": "order_cancelled", "order_id": key, "event_time": "2017-01-01T10:00:00Z"}
    return json.dumps(doc | changes).encode()


#: The quantity the fault suite's CHECK constraint allows at most (`refused_by_store`).
STORE_LIMIT = 1_000_000
STORE_RULE = (
    f"ALTER TABLE order_lines ADD CONSTRAINT flood_quantity CHECK (quantity <= {STORE_LIMIT})"
)


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
    cycle = [k for k in BAD_KIND_NAMES if k != "refused_by_store"]
    for i in range(count):
        kind = "refused_by_store" if i % REFUSED_EVERY == 1 else cycle[i % len(cycle)]
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
