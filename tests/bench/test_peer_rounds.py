"""Throughput rounds of the peer benchmark: the median round is kept, every round is shown.

Pure functions over results dicts; no stack. Part of the default suite.
"""

from __future__ import annotations

from bench.peers.report import reading
from bench.peers.suite import _keep_median


def _round(steady: int, start: int) -> dict:
    return {"lines_per_s": steady, "lines_per_s_from_start": start, "lines": 1000}


def _peer(label: str, rounds: list[dict]) -> dict:
    return {"label": label, "writes": "x", "throughput_rounds": rounds}


def test_median_round_is_kept_and_a_failed_round_does_not_count() -> None:
    entry = _peer("ours", [_round(50, 40), {"error": "RuntimeError: boom"}, _round(30, 20)])
    entry["errors"] = {"throughput": "RuntimeError: boom"}
    _keep_median(entry)
    assert entry["throughput"] == _round(30, 20)  # lower median of the two that ran
    assert "throughput" not in entry["errors"]
    assert len(entry["throughput_rounds"]) == 3

    odd = _peer("connect", [_round(20, 15), _round(10, 8), _round(15, 12)])
    _keep_median(odd)
    assert odd["throughput"]["lines_per_s"] == 15


def test_a_peer_without_steady_rate_is_ranked_from_start() -> None:
    entry = _peer("naive", [_round(0, 900), _round(0, 700), _round(0, 800)])
    _keep_median(entry)
    assert entry["throughput"]["lines_per_s_from_start"] == 800


def test_all_rounds_failed_leaves_the_error() -> None:
    entry = _peer("spark", [{"error": "x"}, {"error": "y"}])
    entry["errors"] = {"throughput": "y"}
    _keep_median(entry)
    assert "throughput" not in entry
    assert entry["errors"] == {"throughput": "y"}


def test_reading_lists_rounds_and_ratios_round_by_round() -> None:
    peers = {
        "ours": _peer("ours", [_round(60, 50), _round(30, 25)]),
        "connect": _peer("Kafka Connect", [_round(20, 15), {"error": "x"}]),
    }
    for entry in peers.values():
        _keep_median(entry)
    text = "\n".join(reading({"peers": peers, "topics": {}}))
    assert "ours 60 / 30; Kafka Connect 20 / failed" in text
    assert "round by round: x3.00." in text  # the failed round is not paired
