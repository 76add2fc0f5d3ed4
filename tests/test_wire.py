"""The fast ingest validator and the canonical OrderLine model agree on every message."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from superstore.data import load_lines
from superstore.messages import OrderLine, decode_line, encode_line
from superstore.wire import WIRE_FIELDS, decode_wire, line_key

ODD_VALUES = [
    None, "", "x" * 201, "x" * 21, -1, 0, 1, 2, 1.5, "1.5", "1e3", "-0", "0.", ".5", "+5",
    " 5", "1.00000", "12345678901234.5678", "123456789012345", "-12345678901234.5678",
    2**31, 2**31 - 1, 10**14, "2017-02-30", "2017-2-3", "2017-02-03", "2017-02-03T00:00:00",
    20170203, True, [], {}, "0.9999", "1.0001", "1.0000",
]  # fmt: skip


def _verdict(raw: bytes) -> tuple[bool, bool]:
    try:
        model = decode_line(raw)
    except (ValidationError, ValueError):
        model = None
    try:
        wire = decode_wire(raw)
    except (ValidationError, ValueError):
        wire = None
    if model is not None and wire is not None:  # same values, not only same verdict
        for name in WIRE_FIELDS:
            got, want = wire[name], getattr(model, name)
            if isinstance(want, Decimal):
                assert Decimal(str(got)) == want, name
            elif isinstance(want, dt.date):
                assert dt.date.fromisoformat(got) == want, name
            else:
                assert got == want, name
        assert line_key(wire) == model.key
    return model is not None, wire is not None


def test_every_seed_line_is_accepted_by_both() -> None:
    for line in load_lines():
        assert _verdict(encode_line(line)) == (True, True)


@pytest.mark.parametrize("name", WIRE_FIELDS)
def test_both_validators_agree_on_odd_values(name: str) -> None:
    base = json.loads(encode_line(load_lines()[0]))
    for value in ODD_VALUES:
        raw = json.dumps(base | {name: value}).encode()
        model_ok, wire_ok = _verdict(raw)
        assert model_ok == wire_ok, f"{name}={value!r}: model {model_ok}, wire {wire_ok}"
    missing = {k: v for k, v in base.items() if k != name}
    assert len(set(_verdict(json.dumps(missing).encode()))) == 1, f"missing {name}"


def test_both_reject_shape_errors() -> None:
    base = json.loads(encode_line(load_lines()[0]))
    cases = [b"", b"{", b"[]", b"null", b'"x"', json.dumps(base | {"extra": 1}).encode()]
    cases += [json.dumps(base | {"ship_date": "2016-11-07"}).encode()]  # before order date
    for raw in cases:
        assert _verdict(raw) == (False, False), raw


def test_pairs_of_changes_agree() -> None:
    base = json.loads(encode_line(load_lines()[5]))
    money = ["sales", "profit", "discount", "quantity"]
    for (a, b), (va, vb) in itertools.product(
        itertools.combinations(money, 2), itertools.product(["0", "1", None, "2.5"], repeat=2)
    ):
        raw = json.dumps(base | {a: va, b: vb}).encode()
        model_ok, wire_ok = _verdict(raw)
        assert model_ok == wire_ok, (a, va, b, vb)


def test_seed_objects_still_construct_from_python_values() -> None:
    line = load_lines()[0]
    assert OrderLine(**line.model_dump()) == line
