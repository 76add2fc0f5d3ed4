"""docs/benchmarks/failover.md: losing a machine, from the results the runs left.

    python -m bench.replication && python -m bench.ingest && make test-failover
    python -m bench.cluster_report [--out docs/benchmarks/failover.md]

Three sections, each from its own results file and each saying when it ran:
the replication cost (bench/results/replication.json), the ingest against the
true ceiling (bench/results/ingest.json) and the stall per fault
(bench/results/failover_stall.json, written by the failover suite). Unlike
docs/benchmarks/README.md (one `make bench` run), these come from separate
runs: each section names its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench import failover_stall, replication
from bench.common import RESULTS
from bench.report import _ingest_section

ROOT = Path(__file__).resolve().parent.parent


def build(results: Path = RESULTS) -> str:
    """The page's markdown; a section whose results are missing says so."""
    parts = ["# Losing a machine: replication cost, the true ingest ceiling, failover stalls", ""]
    for name, render in (
        ("replication", replication.report_section),
        ("ingest", _ingest_section),
        ("failover_stall", failover_stall.report_section),
    ):
        path = results / f"{name}.json"
        if not path.exists():
            parts += [f"## {name}", "", f"No results: {path.name} is missing.", ""]
            continue
        data = json.loads(path.read_text())
        text = render(data).strip().splitlines()
        title, body = text[0].lstrip("# "), text[1:]
        parts += [f"## {title}", "", f"Run {data.get('when', '?')} ({path.name}).", *body, ""]
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "failover.md")
    args = parser.parse_args()
    text = build()
    args.out.write_text(text)
    print(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
