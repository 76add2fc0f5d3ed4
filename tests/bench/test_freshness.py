"""Smoke run of the freshness benchmark (bench/freshness.py) at a tiny size.

Marked `bench`: excluded from the default suite (`make test`); run it with
`pytest -m bench tests/bench/test_freshness.py`. It starts its own stack,
`superstore ingest` and `superstore serve`, and takes about a minute.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.freshness import report_section

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.bench


@pytest.mark.timeout(600)
def test_freshness_measures_every_line(tmp_path: Path) -> None:
    args = [
        "--rate", "200", "--seconds", "3", "--warmup-seconds", "1", "--drain", "30",
        "--viewers", "20",
        "--results", "smoke", "--results-dir", str(tmp_path),
    ]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "bench.freshness", *args], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "smoke.json").read_text())
    assert results["lines_produced"] == 600
    assert results["lines_measured"] == 600 and results["lines_not_visible"] == 0
    assert results["events_before_commit"] == 0  # no snapshot claims a line before its commit
    fresh = results["freshness_ms"]
    assert 0 < fresh["p50"] <= fresh["p95"] <= fresh["p99"] <= fresh["max"] < 30_000
    parts = results["breakdown_ms"]
    assert parts["produce_to_commit"]["p50"] > 0 and parts["commit_to_snapshot_built"]["p50"] >= 0
    # The three parts add up to the whole, line by line, so their means do too.
    total = sum(p["mean"] for p in parts.values())
    assert abs(total - fresh["mean"]) < 1.0
    assert results["ingest_transactions"]["count"] >= 1
    everyone = results["every_viewer_ms"]  # the last of the 20 viewers to see each line
    assert results["viewers"] == 20 and results["viewers_dropped"] == 0
    assert results["lines_not_visible_to_every_viewer"] == 0
    assert fresh["p50"] <= everyone["p50"] and fresh["max"] <= everyone["max"]
    assert results["target"]["p99_ms<=250"] == (everyone["p99"] <= 250)
    assert 150 <= results["achieved_rate"] <= 250

    section = report_section(results)
    assert section.startswith("## Freshness: produce -> /today API\n")
    assert f"| {everyone['p99']:,.0f} |" in section and "p99 <= 250 ms" in section
    assert "20 viewers, 0 dropped" in section
