"""Ingest peers: ours vs Kafka Connect (Debezium JDBC sink), Spark Structured Streaming
and a naive per-message consumer, side by side on one broker and one PostgreSQL.

Per peer: throughput over the whole topic (or a time-boxed sample for slow
peers), end-to-end latency at a fixed produce rate, and the outcome of a
kill -9 mid-stream (lost / doubled / re-applied lines). Then ours with 1, 2
and 3 processes in one consumer group on a 6-partition topic. Results go to
bench/results/ingest_peers.json and docs/benchmarks/ingest_peers.md.
Target: ours >= 3x Kafka Connect's throughput, 0 lost / 0 doubled.

    python -m bench.ingest_peers [--lines 1000000] [--peers ours,connect,spark,naive]
        [--scenarios throughput,latency,kill9,scale] [--max-seconds 150] ...
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path

from bench import common
from bench.common import bench_stack, save_results
from bench.peers import DEFAULT_PEERS, PEERS
from bench.peers.measure import enable_commit_timestamps
from bench.peers.method import method
from bench.peers.report import console_table, write_markdown
from bench.peers.suite import Suite

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "ingest_peers.md"
SCENARIOS = ("throughput", "latency", "kill9", "scale")


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--lines", type=int, default=1_000_000, help="lines in the throughput topic")
    p.add_argument(
        "--peers",
        default=",".join(DEFAULT_PEERS),
        help=f"comma-separated, from {', '.join(PEERS)}",
    )
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset")
    p.add_argument("--max-seconds", type=float, default=150.0, help="throughput time box")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="throughput rounds, peers alternating; each peer's median round is reported",
    )
    p.add_argument("--naive-seconds", type=float, default=20.0, help="naive throughput sample")
    p.add_argument("--rate", type=float, default=1000.0, help="latency run: lines/s produced")
    p.add_argument("--latency-seconds", type=float, default=20.0, help="latency run length")
    p.add_argument("--drain", type=float, default=60.0, help="latency: wait after producing")
    p.add_argument("--kill-lines", type=int, default=100_000, help="kill -9 topic size")
    p.add_argument("--naive-kill-lines", type=int, default=5_000, help="same, naive peer")
    p.add_argument("--kill-at", type=float, default=0.4, help="kill once this share is in")
    p.add_argument("--scale-lines", type=int, default=None, help="scale-out topic (= --lines)")
    p.add_argument("--scale-processes", default="1,2,3")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PEER.KEY=VALUE",
        help="override a peer setting, e.g. connect.batch.size=2000 (repeatable)",
    )
    p.add_argument("--results", default="ingest_peers", help="name of the JSON results file")
    p.add_argument("--results-dir", type=Path, default=None, help="default: bench/results")
    p.add_argument("--docs", type=Path, default=DOCS, help="markdown report path")
    p.add_argument("--no-docs", action="store_true", help="do not write the markdown report")
    args = p.parse_args(argv)
    args.scale_lines = args.scale_lines or args.lines
    unknown = set(args.peers.split(",")) - set(PEERS)
    if unknown:
        p.error(f"unknown peers {sorted(unknown)}; choose from {list(PEERS)}")
    return args


def _targets(peers: dict) -> dict[str, bool]:
    """The peers' targets, judged on what this run measured (absent = not measured)."""
    out = {}
    ours, connect = peers.get("ours", {}), peers.get("connect", {})
    if ours.get("throughput") and connect.get("throughput"):
        a, b = ours["throughput"], connect["throughput"]
        kind = "lines_per_s" if a["lines_per_s"] and b["lines_per_s"] else "lines_per_s_from_start"
        ratio = a[kind] / b[kind]
        label = "steady" if kind == "lines_per_s" else "from start"
        out[f"ours >= 3x Kafka Connect throughput ({label}: x{ratio:.1f})"] = ratio >= 3
    defaults = peers.get("connect_defaults", {}).get("throughput")
    if ours.get("throughput") and defaults and defaults["lines_per_s"]:
        ratio = ours["throughput"]["lines_per_s"] / defaults["lines_per_s"]
        out[f"ours >= 3x Kafka Connect with default batch sizes (steady: x{ratio:.1f})"] = (
            ratio >= 3
        )
    kill = ours.get("kill9")
    if kill:
        clean = kill["lost"] == 0 and kill["doubled"] == 0 and kill["sales_exact"]
        out["ours 0 lost / 0 doubled after kill -9"] = clean
    return out


def main(argv: list[str] | None = None) -> dict:
    args = _args(argv)
    # SIGTERM unwinds like Ctrl-C: peers are stopped and the bench stack is torn down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = " ".join(["python -m bench.ingest_peers", shlex.join(argv or sys.argv[1:])]).strip()
    started, load_at_start = time.monotonic(), os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp,
        bench_stack(Path(tmp) / "stack") as settings,
    ):
        enable_commit_timestamps(settings)
        suite = Suite(args, settings, Path(tmp) / "runs")
        peers = suite.run_all()
        scale = None
        if "scale" in args.scenarios.split(","):
            print("== scale-out")
            scale = suite.scale()
        sizes = {
            "throughput topic lines": args.lines,
            "kill -9 topic lines": args.kill_lines,
            "naive kill -9 topic lines": args.naive_kill_lines,
            "latency lines": suite.paced,
            "scale-out topic lines": args.scale_lines,
        }
        results = {
            "command": command,
            "method": method(settings, suite.peers, sizes, load_at_start),
            "topics": suite.produced,
            "peers": peers,
            "scale_out": scale,
            "targets": _targets(peers),
            "wall_seconds": round(time.monotonic() - started),
        }
    if args.results_dir:
        common.RESULTS = args.results_dir  # save_results writes there
    saved = save_results(args.results, results)
    results = json.loads(saved.read_text())  # with the "when" and "machine" save_results adds
    print()
    print(console_table(results))
    if not args.no_docs:
        root = Path(__file__).resolve().parents[1]
        saved = saved.resolve()
        shown = saved.relative_to(root) if saved.is_relative_to(root) else saved
        print(f"wrote {write_markdown(results, command, args.docs, str(shown))}")
    return results


if __name__ == "__main__":
    main()
