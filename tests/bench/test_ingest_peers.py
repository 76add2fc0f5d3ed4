"""Smoke run of the ingest peer benchmark (bench/ingest_peers.py) at tiny sizes.

Marked `bench`: excluded from the default suite (`make test`); run it with
`pytest -m bench tests/bench`. It starts its own stack, resolves the Kafka
Connect and Spark jars with Maven on first use, and takes a few minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bench.common import synthetic_records
from bench.peers.connect import to_connect_json

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.bench


def test_connect_copy_keeps_exact_money_and_dates() -> None:
    for _, raw in synthetic_records(10_000):
        wire = json.loads(raw)
        payload = json.loads(to_connect_json(raw), parse_float=Decimal)["payload"]
        for name in ("sales", "discount", "profit"):
            assert Decimal(wire[name]) == payload[name]
        days = (Decimal(payload["order_date"]), Decimal(payload["ship_date"]))
        assert days[0] <= days[1]


@pytest.mark.timeout(1200)
def test_every_peer_runs_every_scenario(tmp_path: Path) -> None:
    args = [
        "--lines", "20000", "--kill-lines", "30000", "--naive-kill-lines", "1500",
        "--latency-seconds", "3", "--naive-seconds", "5", "--max-seconds", "120",
        "--scale-lines", "20000", "--scale-processes", "1,2", "--rounds", "2",
        "--set", "ours.batch_size=5000", "--set", "spark.maxOffsetsPerTrigger=10000",
        "--results", "smoke", "--results-dir", str(tmp_path), "--docs", str(tmp_path / "r.md"),
    ]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "ingest_peers.py", *args], cwd=BENCH, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "smoke.json").read_text())
    for name, peer in results["peers"].items():
        assert not peer.get("errors"), (name, peer["errors"])
        assert peer["throughput"]["lines"] > 0
        assert len(peer["throughput_rounds"]) == 2
        assert peer["throughput"] in peer["throughput_rounds"]
        assert peer["latency"]["visible"] == peer["latency"]["lines"]
        assert peer["kill9"]["lost"] == 0, name
        assert peer["kill9"]["sales_exact"], name
    ours = results["peers"]["ours"]["kill9"]
    assert ours["lines_applied_twice_or_more"] == 0
    assert 0 < ours["visible_at_kill"] < ours["lines"]
    assert [r["processes"] for r in results["scale_out"]["runs"]] == [1, 2]
    report = (tmp_path / "r.md").read_text()
    assert "| ours (superstore ingest) |" in report
    assert "round by round" in report
