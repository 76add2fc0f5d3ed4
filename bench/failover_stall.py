"""Failover stall: how long ingest stops committing when a machine is lost, and how fast after.

    python -m bench.failover_stall    # the markdown table from bench/results/failover_stall.json

Measured by the failover suite (tests/failover/test_pipeline_failover.py,
`make test-failover`), not by `make bench`: a fault needs the 3-node cluster
and the PostgreSQL pair, and the suite already runs the pipeline through each
fault under a full-speed stream. Each scenario merges its faults into
bench/results/failover_stall.json (`record`), keeping the other scenarios'
last measurements, so one test run alone refreshes its own rows only; every
scenario says when it ran.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bench.common import RESULTS, save_results

__all__ = ["NAME", "TARGETS_S", "record", "report_section", "summary"]

NAME = "failover_stall"
# Targets of the stall to the next commit, by what was lost.
TARGETS_S = {"kafka": 10.0, "postgres": 20.0}


def record(scenario: dict, results_dir: Path = RESULTS) -> Path:
    """Merge one scenario's measurements into the results file (replacing its earlier ones)."""
    path = results_dir / f"{NAME}.json"
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        old = {}
    scenario = {**scenario, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    scenarios = {s["name"]: s for s in old.get("scenarios", [])}
    scenarios[scenario["name"]] = scenario
    ordered = sorted(scenarios.values(), key=lambda s: (s.get("order", 99), s["name"]))
    return save_results(NAME, {"targets_s": TARGETS_S, "scenarios": ordered})


def _met(fault: dict, target: float) -> str:
    stall = fault.get("to_next_commit_s")
    if stall is None:
        return "**no commit**"
    return "met" if stall <= target else "**NOT met**"


def _s(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "-"


def summary(scenario: dict) -> str:
    """One line per scenario: its stalls and the throughput after each fault."""
    faults = scenario["faults"]
    stalls = ", ".join(_s(f.get("to_next_commit_s")) for f in faults)
    rates = ", ".join(f"{f['lines_per_s_after']:,}" for f in faults)
    return (
        f"{scenario['name']}: {len(faults)} fault(s); to next commit {stalls} s; "
        f"lines/s in the {scenario['window_s']:.0f} s after: {rates}; "
        f"{scenario['lines']:,} lines exactly once in {scenario['seconds']:.0f} s"
    )


def report_section(results: dict) -> str:
    """The stall table: one row per fault, grouped by scenario."""
    targets = results.get("targets_s", TARGETS_S)
    rows = []
    for sc in results.get("scenarios", []):
        target = targets[sc["lost"]]
        for i, f in enumerate(sc["faults"], start=1):
            what = f["fault"] + (f" ({i}/{len(sc['faults'])})" if len(sc["faults"]) > 1 else "")
            rows.append(
                f"| {sc['name']} | {what} | {_s(f.get('to_next_commit_s'))} "
                f"| {_s(f.get('longest_gap_s'))} | {f['lines_per_s_before']:,} "
                f"| {f['lines_per_s_after']:,} | {f['peak_lines_per_s_after']:,} "
                f"| <= {target:.0f} s: {_met(f, target)} |"
            )
    runs = [
        f"`{sc['name']}` {sc['when']}: {sc['lines']:,} lines in {sc['seconds']:.0f} s, "
        f"exactly once in PostgreSQL, `check` green"
        for sc in results.get("scenarios", [])
    ]
    return "\n".join(
        [
            "# Failover stall",
            "",
            "Measured by `make test-failover` (tests/failover/test_pipeline_failover.py), not by "
            "this bench run: the 3-node KRaft cluster (RF 3, min ISR 2) and the PostgreSQL pair "
            "(asynchronous streaming standby), the project's producer (acks=all, idempotent) and "
            "the real consumer writing through the multi-host DSN. Each fault strikes at a random "
            "moment of a full-speed burst (200,000 lines per scenario, shared among its faults) "
            "on top of a live stream of 300 lines/s. Per fault: *to next commit* is from the "
            "fault to the first committed batch holding a line produced after it in a touched "
            "partition (led by the lost broker; every partition for PostgreSQL); *longest gap* "
            "the longest pause between two commits of a touched partition up to then; lines/s "
            "committed (all partitions) in the 15 s before and the 30 s after the fault, and "
            "the best 5 s of those 30 s. The after-rates follow what the stream offered, not "
            "the ceiling: a burst is drained in seconds.",
            "",
            "| scenario | fault | to next commit (s) | longest gap (s) | lines/s before "
            "| lines/s 30 s after | best 5 s after | target |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Runs: " + "; ".join(runs) + ".",
        ]
    )


def main() -> int:
    path = RESULTS / f"{NAME}.json"
    if not path.exists():
        print(f"no {path}: run `make test-failover` first", file=sys.stderr)
        return 2
    print(report_section(json.loads(path.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
