"""Ingest of the current code against another revision, on the same topic, in one run.

A change on the ingest hot path must show no loss beyond noise. This runs
`superstore ingest --workers N` from this checkout and from a checkout of
``--baseline`` (a git revision, e.g. ``main`` or a commit), alternately, each
round into a fresh database, on the same machine, broker, server and
topic; the order of the two flips every round, since this machine's speed
drifts within minutes. Each side reports its median round; every round and
the ratio current/baseline per round are kept.

    python -m bench.compare_ingest --baseline main [--lines 1000000] [--workers 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import (
    bench_stack,
    fresh_database,
    fresh_topic,
    median_run,
    save_results,
    synthetic_records,
)
from bench.ingest import run_ours
from superstore.produce import produce_records

ROOT = Path(__file__).resolve().parents[1]


def _git(where: Path, *args: str, check: bool = True) -> str:
    out = subprocess.run(
        ["git", "-C", str(where), *args], check=check, capture_output=True, text=True
    )
    return out.stdout.strip()


def checkout(revision: str, where: Path) -> str:
    """A detached worktree of ``revision``; returns its commit."""
    _git(ROOT, "worktree", "add", "--detach", str(where), revision)
    return _git(where, "rev-parse", "--short", "HEAD")


def remove_checkout(where: Path) -> None:
    """Drop the worktree (best effort)."""
    _git(ROOT, "worktree", "remove", "--force", str(where), check=False)


def current_revision() -> str:
    """This checkout's commit, marked when it has uncommitted changes."""
    dirty = _git(ROOT, "status", "--porcelain", "--untracked-files=no", check=False)
    return _git(ROOT, "rev-parse", "--short", "HEAD", check=False) + ("+changes" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", default="main", help="git revision to compare against")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=2, help="`ingest --workers N`")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--results", default="compare_ingest", help="results file name")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp:
        tree = Path(tmp) / "baseline"
        baseline_commit = checkout(args.baseline, tree)
        try:
            with bench_stack(Path(tmp) / "stack") as settings:
                print(f"synthesising and producing {args.lines:,} lines")
                records = synthetic_records(args.lines)
                kafka = fresh_topic(settings, partitions=args.partitions)
                produce_records(kafka, records)
                sides = {"current": None, "baseline": str(tree / "src")}
                rounds: dict[str, list[dict]] = {name: [] for name in sides}
                for number in range(1, args.rounds + 1):
                    order = list(sides) if number % 2 else list(reversed(sides))
                    for name in order:
                        print(f"round {number}/{args.rounds}: {name} ...", flush=True)
                        db = fresh_database(settings, f"bench_cmp_{name}")
                        started = time.monotonic()
                        run = run_ours(
                            kafka, db, args.lines, args.batch_size, args.workers, sides[name]
                        )
                        run["round"], run["wall_s"] = number, round(time.monotonic() - started, 1)
                        rounds[name].append(run)
                        print(f"  {run['lines_per_s']:,} lines/s", flush=True)
        finally:
            remove_checkout(tree)
    current, baseline = (median_run(rounds[n]) for n in ("current", "baseline"))
    by_round = [
        round(c["lines_per_s"] / b["lines_per_s"], 3)
        for c, b in zip(rounds["current"], rounds["baseline"], strict=True)
    ]
    ratio = current["lines_per_s"] / baseline["lines_per_s"]
    spread = max(by_round) - min(by_round) if len(by_round) > 1 else 0.0
    print(
        f"current {current['lines_per_s']:,} vs baseline {baseline['lines_per_s']:,} lines/s: "
        f"x{ratio:.3f} (rounds {', '.join(f'x{r}' for r in by_round)}; "
        f"median of rounds x{statistics.median(by_round):.3f})"
    )
    save_results(
        args.results,
        {
            "lines": args.lines,
            "workers": args.workers,
            "partitions": args.partitions,
            "current": {"revision": current_revision(), **current},
            "baseline": {"revision": args.baseline, "commit": baseline_commit, **baseline},
            "rounds": rounds,
            "ratio_by_round": by_round,
            "ratio": round(ratio, 3),
            "ratio_spread": round(spread, 3),
        },
    )


if __name__ == "__main__":
    main()
