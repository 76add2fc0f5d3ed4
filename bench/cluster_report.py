"""docs/benchmarks/failover.md: losing a machine, from the results the runs left.

    python -m bench.replication && python -m bench.ingest && make test-failover
    python -m bench.cluster_report [--out docs/benchmarks/failover.md]

Three sections, each from its own results file and each saying when it ran:
the replication cost (bench/results/replication.json), the ingest against the
true ceiling (bench/results/ingest.json) and the stall per fault
(bench/results/failover_stall.json, written by the failover suite). Unlike
docs/benchmarks/README.md (one `make bench` run), these come from separate
runs: each section names its own. A section whose results file is not here
(another machine ran it, or bench/results was cleaned) is kept as the page has
it, so a run of one benchmark does not erase the others' figures.
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


_MARK = "<!-- section: {} -->"


def build(results: Path = RESULTS, previous: str = "") -> str:
    """The page's markdown from the results here.

    A section without results keeps its text from `previous` (the page as it was);
    with neither, it says so.
    """
    kept = _sections(previous)
    parts = ["# Losing a machine: replication cost, the true ingest ceiling, failover stalls", ""]
    for name, render in (
        ("replication", replication.report_section),
        ("ingest", _ingest_section),
        ("failover_stall", failover_stall.report_section),
    ):
        path = results / f"{name}.json"
        parts.append(_MARK.format(name))
        if not path.exists():
            missing = [f"## {name}", "", f"No results: {path.name} is missing.", ""]
            parts += kept.get(name) or missing
            continue
        data = json.loads(path.read_text())
        text = render(data).strip().splitlines()
        title, body = text[0].lstrip("# "), text[1:]
        parts += [f"## {title}", "", f"Run {data.get('when', '?')} ({path.name}).", *body, ""]
    return "\n".join(parts)


def _sections(page: str) -> dict[str, list[str]]:
    """The marked sections of a page written by `build`: name -> its lines."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in page.splitlines():
        if line.startswith("<!-- section: ") and line.endswith(" -->"):
            current = found.setdefault(line.removeprefix("<!-- section: ").removesuffix(" -->"), [])
        elif current is not None:
            current.append(line)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "failover.md")
    args = parser.parse_args()
    text = build(previous=args.out.read_text() if args.out.exists() else "")
    args.out.write_text(text)
    print(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
