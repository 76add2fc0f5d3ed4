"""The ingest validators agree with the canonical OrderLine model on every message.

The judge (pydantic) must accept and refuse exactly what OrderLine does; the
fast path (msgspec) may refuse more, since the judge then decides, but every
message it accepts must carry the judge's values.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
from decimal import Decimal

import pytest
from pydantic import ValidationError

from superstore.contract import LINE_FIELD_NAMES as WIRE_FIELDS
from superstore.contract import OrderLine, decode_line, encode_line, wire
from superstore.contract.expectations import SHAPE_ONLY
from superstore.contract.wire import (
    WireError,
    WireLine,
    decode_wire,
    judge_wire,
    line_key,
)
from superstore.data import load_lines

ODD_VALUES = [
    None, "", "x" * 201, "x" * 21, -1, 0, 1, 2, 1.5, "1.5", "1e3", "-0", "0.", ".5", "+5",
    " 5", "1.00000", "12345678901234.5678", "123456789012345", "-12345678901234.5678",
    2**31, 2**31 - 1, 10**14, "2017-02-30", "2017-2-3", "2017-02-03", "2017-02-03T00:00:00",
    20170203, True, [], {}, "0.9999", "1.0001", "1.0000", "5", 5.0, 1e2, "5\n", "2017-02-03\n",
    "\u0661\u0662", "\u0662\u0660\u0661\u0667-02-03", "1.\u0665", "-5.00", "00000000000001",
]  # fmt: skip


def _fast(raw: bytes) -> WireLine | None:
    try:
        return wire._fast(raw)
    except Exception:  # msgspec's errors, ValueError, or _NotFast
        return None


def _verdict(raw: bytes) -> tuple[bool, bool]:
    """(OrderLine accepts, the judge accepts); also checks values and the fast path."""
    try:
        model = decode_line(raw)
    except (ValidationError, ValueError):
        model = None
    try:
        judged = judge_wire(raw)
    except (ValidationError, ValueError):
        judged = None
    fast = _fast(raw)
    if fast is not None:  # never looser than the judge, and the same values
        assert judged is not None, f"fast path accepted what the judge refuses: {raw!r}"
        assert fast == WireLine(**judged), raw
    if judged is not None:
        assert decode_wire(raw, SHAPE_ONLY) == WireLine(**judged)
    if model is not None and judged is not None:  # same values, not only same verdict
        line = WireLine(**judged)
        for name in WIRE_FIELDS:
            got, want = getattr(line, name), getattr(model, name)
            if isinstance(want, Decimal):
                assert Decimal(str(got)) == want, name
            elif isinstance(want, dt.date):
                assert dt.date.fromisoformat(got) == want, name
            else:
                assert got == want, name
        assert line_key(line) == model.key
    return model is not None, judged is not None


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


def test_the_fast_path_takes_every_seed_line() -> None:
    for line in load_lines():
        assert _fast(encode_line(line)) is not None, line.key


def test_raw_json_edge_cases() -> None:
    base = encode_line(load_lines()[0])
    cases = [
        base.replace(b'"Claire Gute"', b'"\\ud800x"'),  # lone surrogate
        base.replace(b'"Claire Gute"', b'"Cl\xffaire"'),  # not UTF-8
        base.replace(b'"sales":"261.96"', b'"sales":"261.96","sales":"-1"'),  # repeated key
        base.replace(b'"sales":"261.96"', b'"sales":"-1","sales":"261.96"'),
        base.replace(b'"quantity":2', b'"quantity":2.0'),
        base.replace(b'"quantity":2', b'"quantity":"2"'),
        base.replace(b'"line_number":1', b'"line_number":1e0'),
        base.replace(b'"sales":"261.96"', b'"sales":"261.96\\n"'),
        b"\xef\xbb\xbf" + base,
        b"  " + base + b"\n",
        base + b" x",
    ]
    for raw in cases:
        model_ok, judge_ok = _verdict(raw)
        assert model_ok == judge_ok, raw


def test_random_mutations_agree() -> None:
    rng = random.Random(20261127)
    lines = load_lines()
    for _ in range(3000):
        doc = json.loads(encode_line(rng.choice(lines)))
        for name in rng.sample(WIRE_FIELDS, rng.randint(1, 3)):
            if rng.random() < 0.1:
                doc.pop(name, None)
            else:
                doc[name] = rng.choice(ODD_VALUES)
        model_ok, judge_ok = _verdict(json.dumps(doc).encode())
        assert model_ok == judge_ok, doc


def test_remembered_text_is_only_trusted_for_its_own_rule() -> None:
    base = json.loads(encode_line(load_lines()[0]))
    assert decode_wire(json.dumps(base | {"profit": "-7.25"}).encode()).profit == "-7.25"
    with pytest.raises(ValidationError, match="sales"):  # remembered as a profit, not a sale
        decode_wire(json.dumps(base | {"sales": "-7.25"}).encode())
    assert decode_wire(json.dumps(base | {"discount": "1.0000"}).encode()).discount == "1.0000"
    assert decode_wire(json.dumps(base | {"profit": "1.0001"}).encode()).profit == "1.0001"
    with pytest.raises(WireError, match="discount"):  # remembered as a profit, not a discount
        decode_wire(json.dumps(base | {"discount": "1.0001"}).encode())


def test_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "_MEMO_LIMIT", 3)
    monkeypatch.setattr(wire, "_MONEY", set())
    base = json.loads(encode_line(load_lines()[0]))
    for cents in range(10):
        line = decode_wire(json.dumps(base | {"profit": f"1.{cents:02d}"}).encode())
        assert line.profit == f"1.{cents:02d}"
        assert len(wire._MONEY) <= 3
