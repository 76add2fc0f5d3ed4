"""Malformed messages for `produce --inject-bad N`: one of each kind the consumer must reject."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Sequence

from superstore.contract import OrderLine
from superstore.produce.producer import Record, to_records

__all__ = ["BAD_KINDS", "bad_record", "bad_records", "mix_bad"]

BAD_KINDS = (
    "bad_json",
    "missing_field",
    "wrong_type",
    "negative_quantity",
    "unknown_schema_version",
)


def bad_record(kind: str, template: OrderLine, index: int) -> Record:
    """A record built from a good line and broken in one specific way."""
    doc = json.loads(template.model_dump_json())
    doc["order_id"] = f"BAD-{index:06d}"
    if kind == "bad_json":
        return doc["order_id"], b'{"schema_version": 1, "order_id": "BAD-' + str(index).encode()
    if kind == "missing_field":
        del doc["sales"]
    elif kind == "wrong_type":
        doc["quantity"] = "three"
    elif kind == "negative_quantity":
        doc["quantity"] = -2
    elif kind == "unknown_schema_version":
        doc["schema_version"] = 99
    else:
        raise ValueError(f"unknown bad-message kind {kind!r}; expected one of {BAD_KINDS}")
    return doc["order_id"], json.dumps(doc).encode()


def bad_records(count: int, template: OrderLine) -> list[Record]:
    """`count` bad records cycling through every kind in BAD_KINDS."""
    return [bad_record(BAD_KINDS[i % len(BAD_KINDS)], template, i) for i in range(count)]


def mix_bad(
    lines: Sequence[OrderLine], count: int, rng: random.Random | None = None
) -> Iterator[Record]:
    """All good lines in order, with `count` bad records at random positions."""
    rng = rng or random.Random(0)
    bad = bad_records(count, lines[0]) if count else []
    slots = sorted(rng.randrange(len(lines) + 1) for _ in range(count))
    good: Iterable[Record] = to_records(lines)
    pending = 0
    for position, record in enumerate(good):
        while pending < count and slots[pending] == position:
            yield bad[pending]
            pending += 1
        yield record
    yield from bad[pending:]
