"""librdkafka's log lines: one per kind per window while a broker is down."""

from __future__ import annotations

import logging

from superstore.clients import _RepeatFilter


def _record(msg: str, created: float) -> logging.LogRecord:
    record = logging.LogRecord("superstore.kafka.client", logging.ERROR, "", 0, msg, (), None)
    record.created = created
    return record


def test_repeats_are_folded_and_counted() -> None:
    f = _RepeatFilter(window=30.0)
    refused = "FAIL: Connect to ipv4#127.0.0.1:{} failed: Connection refused (after {}ms)"
    assert f.filter(_record(refused.format(4001, 0), 100.0))
    passed = [f.filter(_record(refused.format(4001, n), 100.0 + n / 10)) for n in range(1, 50)]
    assert not any(passed), "repeats within the window are folded"
    assert f.filter(_record("another kind of error", 101.0)), "other kinds still pass"
    late = _record(refused.format(4001, 9), 131.0)
    assert f.filter(late)
    assert late.getMessage().endswith("(49 similar lines folded)")
