"""Ingest benchmark: N lines through the real broker into PostgreSQL, exactly once.

Side by side in one run, on the same machine and server:
  ours     `superstore ingest --workers N` (batch COPY + upsert + offsets in one
           transaction per batch; N processes in one group), for each N in --workers
  ceiling  the same rows COPY'd + upserted straight into PostgreSQL, no Kafka
  naive    one message -> one upsert -> one commit, as the original project did
Targets (2 cores): ours >= 50,000 lines/s, >= 0.5x ceiling, >= 20x naive.

Ours and the ceiling run in --rounds rounds, taking turns; each reports its median
round, and every round is kept in the results.

    python -m bench.ingest [--lines 1000000] [--naive-seconds 20] [--workers 1,2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench.common import (
    bench_stack,
    fresh_database,
    fresh_topic,
    median_run,
    save_results,
    synthetic_records,
)
from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import decode_line
from superstore.contract.wire import decode_wire
from superstore.oltp import migrate
from superstore.oltp.batch import Batch, StagedLine, write_batch
from superstore.produce import produce_records


def run_ours(
    kafka: KafkaConfig,
    pg: PgConfig,
    expected: int,
    batch_size: int,
    workers: int,
    code: str | None = None,
) -> dict:
    """`superstore ingest --workers N` as users run it; timed from launch to the last commit.

    Progress is read from the offsets the consumer stores with each batch (one
    tiny indexed query every 50 ms), so the probe costs PostgreSQL nothing.
    `code`: another checkout's ``src`` directory, to run that revision instead.
    """
    env = {
        **os.environ,
        "SUPERSTORE_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "SUPERSTORE_TOPIC": kafka.topic,
        "SUPERSTORE_DLQ_TOPIC": kafka.dlq_topic,
        "SUPERSTORE_PG_DSN": pg.dsn,
    }
    if code:
        env["PYTHONPATH"] = code  # ahead of the installed (editable) package
    cmd = [sys.executable, "-m", "superstore", "ingest", "--group", "bench"]
    cmd += ["--workers", str(workers), "--batch-size", str(batch_size)]
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    first = last = None
    committed = 0
    try:
        with pg.connect(autocommit=True) as conn:
            while committed < expected:
                if proc.poll() is not None:
                    raise RuntimeError(f"ingest exited early:\n{proc.stdout.read()}")
                try:
                    row = conn.execute(
                        "SELECT coalesce(sum(next_offset), 0) FROM ingest_offsets"
                        " WHERE group_id = 'bench'"
                    ).fetchone()
                except psycopg.errors.UndefinedTable:  # not migrated yet
                    row = (0,)
                now = time.monotonic()
                if row[0] > committed:
                    first = first or now
                    last, committed = now, int(row[0])
                time.sleep(0.05)
            lines = conn.execute("SELECT count(*) FROM order_lines").fetchone()[0]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    assert lines == expected, f"ingested {lines}, expected {expected}\n{out}"
    seconds = last - started
    return {
        "workers": workers,
        "lines": lines,
        "seconds": round(seconds, 3),
        "lines_per_s": round(lines / seconds),
        "steady_lines_per_s": round(lines / (last - first)) if last > first else None,
    }


def ceiling_lines(records: list[tuple[str, bytes]]) -> list[StagedLine]:
    """The records decoded as the consumer would, once for every ceiling round."""
    return [StagedLine(decode_wire(v), v, "ceiling", 0, i) for i, (_, v) in enumerate(records)]


def run_ceiling(lines: list[StagedLine], pg: PgConfig, batch_size: int) -> dict:
    migrate(pg)
    started = time.monotonic()
    with pg.connect(autocommit=True) as conn:
        for i in range(0, len(lines), batch_size):
            part = lines[i : i + batch_size]
            write_batch(
                conn,
                "ceiling",
                Batch(lines=part, offsets={("ceiling", 0): (i or None, i + len(part))}),
            )
    seconds = time.monotonic() - started
    return {
        "lines": len(lines),
        "seconds": round(seconds, 3),
        "lines_per_s": round(len(lines) / seconds),
    }


NAIVE_SQL = (
    "INSERT INTO customers (customer_id, customer_name, segment) VALUES (%(customer_id)s,"
    " %(customer_name)s, %(segment)s) ON CONFLICT (customer_id) DO NOTHING",
    "INSERT INTO products (product_id, product_name, category, sub_category, first_order_date)"
    " VALUES (%(product_id)s, %(product_name)s, %(category)s, %(sub_category)s, %(order_date)s)"
    " ON CONFLICT DO NOTHING",
    "INSERT INTO orders (order_id, order_date, ship_date, ship_mode, customer_id, country, city,"
    " state, postal_code, region) VALUES (%(order_id)s, %(order_date)s, %(ship_date)s,"
    " %(ship_mode)s, %(customer_id)s, %(country)s, %(city)s, %(state)s, %(postal_code)s,"
    " %(region)s) ON CONFLICT (order_id) DO NOTHING",
    "INSERT INTO order_lines (order_id, line_number, row_id, product_id, product_name, sales,"
    " quantity, discount, profit, src_topic, src_partition, src_offset) VALUES (%(order_id)s,"
    " %(line_number)s, %(row_id)s, %(product_id)s, %(product_name)s, %(sales)s, %(quantity)s,"
    " %(discount)s, %(profit)s, 'naive', 0, 0) ON CONFLICT (order_id, line_number) DO UPDATE"
    " SET sales = EXCLUDED.sales",
)


def run_naive(kafka: KafkaConfig, pg: PgConfig, seconds: float) -> dict:
    """One message, one set of upserts, one commit: the original consumer's shape."""
    migrate(pg)
    consumer = kafka.consumer("bench-naive")
    consumer.subscribe([kafka.topic])
    done = 0
    with pg.connect() as conn:
        started = None
        while True:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            started = started or time.monotonic()
            row = decode_line(msg.value()).model_dump()
            for sql in NAIVE_SQL:
                conn.execute(sql, row)
            conn.commit()
            consumer.commit(msg, asynchronous=True)
            done += 1
            if time.monotonic() - started >= seconds:
                break
    consumer.close()
    elapsed = time.monotonic() - started
    return {"lines": done, "seconds": round(elapsed, 3), "lines_per_s": round(done / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--naive-seconds", type=float, default=20.0)
    parser.add_argument(
        "--workers",
        default=f"1,{os.cpu_count() or 2}",
        help="comma-separated worker counts to run (`ingest --workers N`); the last is 'ours'",
    )
    parser.add_argument("--partitions", type=int, default=6, help="partitions of the topic")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of (ours for each --workers, then the ceiling); the median round of "
        "each is reported, every round is kept",
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp,
        bench_stack(Path(tmp)) as settings,
    ):
        print(f"synthesising {args.lines:,} lines")
        records = synthetic_records(args.lines)
        kafka = fresh_topic(settings, partitions=args.partitions)
        t = time.monotonic()
        produced = produce_records(kafka, records)
        produce_s = time.monotonic() - t
        print(f"produced {produced.sent:,} in {produce_s:.1f}s")
        counts = [int(n) for n in args.workers.split(",")]
        rounds: dict[str, list[dict]] = {f"workers_{n}": [] for n in counts}
        rounds["ceiling"] = []
        staged = ceiling_lines(records)
        for round_no in range(1, args.rounds + 1):
            print(f"round {round_no} of {args.rounds}")
            for workers in counts:
                print(f"ours, ingest --workers {workers} ...")
                db = fresh_database(settings, f"bench_ours_{workers}")
                rounds[f"workers_{workers}"].append(
                    run_ours(kafka, db, args.lines, args.batch_size, workers)
                )
                print(f"  {rounds[f'workers_{workers}'][-1]}")
            print("ceiling ...")
            db = fresh_database(settings, "bench_ceiling")
            rounds["ceiling"].append(run_ceiling(staged, db, args.batch_size))
            print(f"  {rounds['ceiling'][-1]}")
        runs = [median_run(rounds[f"workers_{n}"]) for n in counts]
        ours = runs[-1]
        ceiling = median_run(rounds["ceiling"])
        print(f"naive ({args.naive_seconds:.0f}s sample) ...")
        naive = run_naive(kafka, fresh_database(settings, "bench_naive"), args.naive_seconds)
        print(f"  {naive}")
    ours_rounds = rounds[f"workers_{counts[-1]}"]
    ratio_ceiling = ours["lines_per_s"] / ceiling["lines_per_s"]
    ratio_naive = ours["lines_per_s"] / naive["lines_per_s"]
    save_results(
        "ingest",
        {
            "lines": args.lines,
            "batch_size": args.batch_size,
            "produce": {
                "seconds": round(produce_s, 3),
                "lines_per_s": round(produced.sent / produce_s),
            },
            "partitions": args.partitions,
            "ours": ours,
            "ours_by_workers": runs,
            "ceiling_copy_upsert_no_kafka": ceiling,
            "rounds": rounds,
            "ratio_vs_ceiling_by_round": [
                round(a["lines_per_s"] / b["lines_per_s"], 3)
                for a, b in zip(ours_rounds, rounds["ceiling"], strict=True)
            ],
            "naive_per_message": naive,
            "ratio_vs_ceiling": round(ratio_ceiling, 3),
            "ratio_vs_naive": round(ratio_naive, 1),
            "targets": {
                "lines_per_s>=50000": ours["lines_per_s"] >= 50_000,
                "ratio_vs_ceiling>=0.5": ratio_ceiling >= 0.5,
                "ratio_vs_naive>=20": ratio_naive >= 20,
            },
        },
    )


if __name__ == "__main__":
    main()
