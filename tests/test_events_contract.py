"""The order-event contract and the data expectations, judged message by message.

A message's verdict depends on the message alone: these tests judge single
messages, and `decode_message` tells an event from a line by its ``event``
field, so every existing line message stays valid as it is.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import ValidationError

from superstore.contract import (
    OrderEvent,
    decode_message,
    describe_validation_error,
    encode_event,
    encode_line,
)
from superstore.contract.expectations import DEFAULT_EXPECTATIONS, Expectations
from superstore.contract.wire import WireError, WireLine
from superstore.data import load_lines
from superstore.settings import load_settings


def _line(**changes: object) -> bytes:
    doc = json.loads(encode_line(load_lines()[0])) | changes
    return json.dumps(doc).encode()


def _reason(raw: bytes, expect: Expectations = DEFAULT_EXPECTATIONS) -> str:
    try:
        decode_message(raw, expect)
    except ValidationError as exc:
        return describe_validation_error(exc)
    except WireError as exc:  # ExpectationError is one
        return str(exc)
    raise AssertionError(f"accepted: {raw!r}")


def test_every_seed_line_is_still_a_line() -> None:
    for line in load_lines()[:500]:
        assert isinstance(decode_message(encode_line(line)), WireLine)


def test_events_round_trip_and_keep_their_zone() -> None:
    raw = (
        b'{"schema_version": 1, "event": "order_returned", "order_id": "CA-1",'
        b' "event_time": "2016-11-20T09:00:00+02:00",'
        b' "lines": [{"line_number": 1, "quantity": 1}, {"line_number": 2}]}'
    )
    event = decode_message(raw)
    assert isinstance(event, OrderEvent)
    assert event.event_time == dt.datetime(2016, 11, 20, 7, 0, tzinfo=dt.UTC)
    assert [(x.line_number, x.quantity) for x in event.lines or ()] == [(1, 1), (2, None)]
    assert decode_message(encode_event(event)) == event
    cancel = decode_message(
        b'{"event": "order_cancelled", "order_id": "CA-1", "event_time": "2016-11-09T10:30:00Z"}'
    )
    assert isinstance(cancel, OrderEvent) and cancel.lines is None and cancel.schema_version == 1


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"event": "order_lost"}, "event: Input should be 'order_cancelled' or 'order_returned'"),
        ({"event_time": 1479}, "event_time must be an RFC 3339 time with a zone"),
        ({"event_time": "2016-11-09T10:30:00"}, "event_time must be an RFC 3339 time with a zone"),
        ({"event_time": "2016-11-09"}, "event_time must be an RFC 3339 time with a zone"),
        ({"lines": [{"line_number": 1}]}, "lines: only a return names lines"),
        ({"event": "order_returned", "lines": []}, "lines: empty; leave it out"),
        ({"event": "order_returned", "lines": [{"line_number": 1}, {"line_number": 1}]},
         "lines: a line number appears twice"),
        ({"event": "order_returned", "lines": [{"line_number": 0}]},
         "lines.0.line_number: Input should be greater than or equal to 1"),
        ({"order_id": "A\u0000"}, "order_id: Value error, must not contain control characters"),
        ({"order_id": ""}, "order_id"),
        ({"coupon": "X"}, "coupon: Extra inputs are not permitted"),
        ({"schema_version": 2}, "schema_version: Input should be 1"),
    ],
)  # fmt: skip
def test_bad_events_name_field_and_reason(doc: dict, reason: str) -> None:
    base = {"event": "order_cancelled", "order_id": "CA-1", "event_time": "2016-11-09T10:30:00Z"}
    assert reason in _reason(json.dumps(base | doc).encode())


def test_an_event_field_that_is_not_an_event_is_judged_as_a_line() -> None:
    assert "event: Extra inputs are not permitted" in _reason(_line(event=None))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"customer_name": "Ann\u0000"}, "customer_name: Value error, must not contain control"),
        ({"city": "A\tB"}, "city: Value error, must not contain control characters (found U+0009"),
        ({"product_name": "x\u007f"}, "found U+007F"),
        ({"sales": "\u0661\u0662.50"}, "sales.constrained-str: String should match pattern"),
        ({"profit": "\u0967.0"}, "profit.constrained-str: String should match pattern"),
        ({"discount": "0.\u0662"}, "discount"),
        ({"order_date": "2016-11-0\u0668"}, "order_date"),
        ({"ship_date": "2016-11-01"}, "ship_date 2016-11-01 is before order_date"),
        ({"discount": "1.01"}, "discount: must be between 0 and 1"),
        ({"quantity": 0}, "quantity: Input should be greater than or equal to 1"),
        ({"region": "-2+3"}, "region: '-2+3' is not an expected region"),
        ({"state": "@SUM(1+1)"}, "state: '@SUM(1+1)' is not an expected state"),
        ({"segment": "VIP"}, "segment: 'VIP' is not an expected segment"),
        ({"ship_mode": "Drone"}, "ship_mode: 'Drone' is not an expected ship_mode"),
    ],
)  # fmt: skip
def test_what_a_store_would_refuse_is_refused_first(changes: dict, reason: str) -> None:
    assert reason in _reason(_line(**changes))


def test_reference_sets_are_configurable_and_name_their_setting() -> None:
    settings = load_settings(expect_regions=["North", "South"], expect_states=["Texas"])
    expect = Expectations.from_settings(settings)
    assert expect.regions == frozenset({"North", "South"})
    assert expect.segments == DEFAULT_EXPECTATIONS.segments  # unset: the default
    assert "SUPERSTORE_EXPECT_REGIONS" in _reason(_line(region="West"), expect)
    assert "SUPERSTORE_EXPECT_STATES" in _reason(_line(region="South", state="Ohio"), expect)
    accepted = decode_message(_line(region="North", state="Texas"), expect)
    assert isinstance(accepted, WireLine) and accepted.region == "North"


def test_reference_sets_come_from_the_environment_as_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUPERSTORE_EXPECT_SEGMENTS", '["Consumer", "Wholesale"]')
    expect = Expectations.from_settings(load_settings())
    assert expect.segments == frozenset({"Consumer", "Wholesale"})


def test_new_categories_are_accepted() -> None:
    line = decode_message(_line(category="Garden", sub_category="Seeds"))
    assert isinstance(line, WireLine) and line.category == "Garden"


def test_district_of_columbia_is_a_state() -> None:
    assert isinstance(decode_message(_line(state="District of Columbia")), WireLine)
