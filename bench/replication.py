"""Replication benchmark: 3 brokers with RF=3 against 1 broker with RF=1, same 1M lines.

Two stacks side by side in one run, each with its own PostgreSQL:
  rf1  one KRaft broker, topics with replication factor 1 (the default stack)
  rf3  three KRaft nodes (`stack up --brokers 3`), replication factor 3,
       min.insync.replicas=2, unclean leader election off
In each round, for each stack: the producer sends the lines (acks=all, idempotent)
into a fresh topic, then `superstore ingest --workers 2` lands them in a fresh
database, exactly once (the count is asserted). Rounds take turns between the
stacks, so the machine's drift falls on both; the median round of each is
reported with the ratio rf3 / rf1 of each round. Target: ingest >= 0.7x.
Three JVMs share the two cores with PostgreSQL and the consumer: the ratio
says what replication costs here, where a real cluster gives each broker its
own machine.

    python -m bench.replication [--lines 1000000] [--rounds 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import ExitStack
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
from superstore.settings import Settings

TARGET = 0.7


def one_round(
    settings: Settings, records: list[tuple[str, bytes]], args: argparse.Namespace, name: str
) -> dict:
    """Produce then ingest the lines on one stack; the two rates and the totals."""
    kafka = fresh_topic(settings, partitions=args.partitions)
    started = time.monotonic()
    produced = produce_records(kafka, records)
    produce_s = time.monotonic() - started
    if produced.failed:
        raise RuntimeError(f"{name}: {produced.failed} lines not acknowledged")
    db = fresh_database(settings, f"bench_{name}")
    ingest = run_ours(kafka, db, len(records), args.batch_size, args.workers)
    return {
        "produce_seconds": round(produce_s, 3),
        "produce_lines_per_s": round(produced.sent / produce_s),
        "lines_per_s": ingest["lines_per_s"],
        "ingest": ingest,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="`ingest --workers N`")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=20_000)
    args = parser.parse_args()
    print(f"synthesising {args.lines:,} lines")
    records = synthetic_records(args.lines)
    rounds: dict[str, list[dict]] = {"rf1": [], "rf3": []}
    with ExitStack() as stacks, tempfile.TemporaryDirectory(prefix="bench-rf-") as tmp:
        print("starting 1 broker ...")
        one = stacks.enter_context(bench_stack(Path(tmp) / "rf1", brokers=1))
        print("starting 3 brokers ...")
        three = stacks.enter_context(bench_stack(Path(tmp) / "rf3", brokers=3))
        for round_no in range(1, args.rounds + 1):
            order = [("rf1", one), ("rf3", three)]
            if round_no % 2 == 0:
                order.reverse()  # neither always goes first
            for name, settings in order:
                print(f"round {round_no} of {args.rounds}: {name} ...")
                rounds[name].append(one_round(settings, records, args, name))
                print(f"  {rounds[name][-1]}")
    rf1, rf3 = median_run(rounds["rf1"]), median_run(rounds["rf3"])
    by_round = [
        round(b["lines_per_s"] / a["lines_per_s"], 3)
        for a, b in zip(rounds["rf1"], rounds["rf3"], strict=True)
    ]
    produce_by_round = [
        round(b["produce_lines_per_s"] / a["produce_lines_per_s"], 3)
        for a, b in zip(rounds["rf1"], rounds["rf3"], strict=True)
    ]
    ratio = rf3["lines_per_s"] / rf1["lines_per_s"]
    save_results(
        "replication",
        {
            "lines": args.lines,
            "workers": args.workers,
            "partitions": args.partitions,
            "rf1": rf1,
            "rf3": rf3,
            "rounds": rounds,
            "ratio_rf3_vs_rf1": round(ratio, 3),
            "ratio_by_round": by_round,
            "produce_ratio_by_round": produce_by_round,
            "targets": {f"ratio_rf3_vs_rf1>={TARGET}": ratio >= TARGET},
        },
    )


if __name__ == "__main__":
    main()


def report_section(results: dict) -> str:
    """The replication table: each stack's median round and the ratios by round."""
    rows = [
        f"| {label} | {r['produce_lines_per_s']:,} | {r['lines_per_s']:,} "
        f"| {r['ingest']['seconds']:,.1f} |"
        for label, r in (
            ("1 broker, RF=1", results["rf1"]),
            ("3 brokers, RF=3, min ISR 2", results["rf3"]),
        )
    ]
    ratio = results["ratio_rf3_vs_rf1"]
    verdict = "met" if ratio >= TARGET else "**NOT met**"
    return "\n".join(
        [
            "# Replication: 3 brokers and RF=3 against 1 broker and RF=1",
            "",
            "| stack | produce lines/s (acks=all) | ingest lines/s | ingest seconds |",
            "|---|---|---|---|",
            *rows,
            "",
            f"{results['lines']:,} lines into a {results['partitions']}-partition topic per "
            f"round; `ingest --workers {results['workers']}` into a fresh database, exactly "
            "once (asserted). Both stacks up for the whole run, rounds taking turns; rows are "
            f"median rounds. Ingest rf3 / rf1: x{ratio} (target >= {TARGET}: {verdict}); by "
            "round " + ", ".join(f"x{x}" for x in results["ratio_by_round"]) + "; produce by "
            "round " + ", ".join(f"x{x}" for x in results["produce_ratio_by_round"]) + ". "
            "The three JVMs share the machine's two cores with PostgreSQL and the consumer.",
        ]
    )
