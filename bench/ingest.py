"""Ingest benchmark: N lines through the real broker into PostgreSQL, exactly once.

Side by side in one run, on the same machine and server:
  ours     `superstore ingest --workers N` (batch COPY + upsert + offsets in one
           transaction per batch; N processes in one group), for each N in --workers
  ceiling  the fastest this PostgreSQL absorbs the same rows into the same four
           tables and indexes: pre-decoded rows, no Kafka, no validation, no change
           tracking or offsets, in 1, 2 and 3 parallel sessions (--sessions); the
           best of them is the ceiling
  naive    one message -> one upsert -> one commit, as the original project did
Targets (2 cores): ours >= 50,000 lines/s, >= 0.8x the best ceiling, >= 20x naive.

Ours and the ceiling run in --rounds rounds, taking turns; each reports its median
round, and every round is kept in the results.

    python -m bench.ingest [--lines 1000000] [--naive-seconds 20] [--workers 1,2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from operator import attrgetter
from pathlib import Path
from typing import Any

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
from superstore.oltp.records import StagedLine
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


def shards(records: list[tuple[str, bytes]], sessions: int) -> list[list[int]]:
    """Line indexes per session, by order key as Kafka partitions them (an order in one)."""
    out: list[list[int]] = [[] for _ in range(sessions)]
    for i, (key, _) in enumerate(records):
        out[zlib.crc32(key.encode()) % sessions].append(i)
    return out


# The least the job needs, one transaction per batch: each customer and product version
# once (insert if new), then the orders and their lines COPYed straight into their
# tables (every order of the stream is new). No staging of lines, no running day
# totals, no change marks, no offsets, no validation: what this PostgreSQL absorbs
# into the same four tables and indexes when nothing else is asked of it.
_CEILING_DDL = """
CREATE TEMP TABLE c_customers (customer_id text, customer_name text, segment text)
    ON COMMIT DELETE ROWS;
CREATE TEMP TABLE c_products (product_id text, product_name text, category text,
    sub_category text, first_order_date date) ON COMMIT DELETE ROWS;
"""
_CEILING_PARENTS = (
    "INSERT INTO customers (customer_id, customer_name, segment) SELECT * FROM c_customers"
    " ORDER BY customer_id ON CONFLICT DO NOTHING",
    "INSERT INTO products (product_id, product_name, category, sub_category,"
    " first_order_date) SELECT * FROM c_products ORDER BY product_id, product_name"
    " ON CONFLICT DO NOTHING",
)
_CEILING_LINES: list[StagedLine] = []  # set before the sessions fork; read, never pickled


def _ceiling_session(dsn: str, indexes: list[int], batch_size: int, barrier: Any) -> None:
    """One session of the ceiling: its shard of the lines, batch by batch."""
    from superstore.oltp.staging import CUSTOMER_COLUMNS, LINE_COLUMNS, ORDER_COLUMNS

    line_fields = attrgetter(*LINE_COLUMNS)
    order_fields = attrgetter(*ORDER_COLUMNS)
    customer_fields = attrgetter(*CUSTOMER_COLUMNS)
    product_fields = attrgetter(
        "product_id", "product_name", "category", "sub_category", "order_date"
    )
    line_columns = ", ".join((*LINE_COLUMNS, "src_topic", "src_partition", "src_offset"))
    stored: set[str] = set()  # this session's orders (a shard holds all of an order's lines)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(_CEILING_DDL)
        barrier.wait()
        for start in range(0, len(indexes), batch_size):
            part = [_CEILING_LINES[i] for i in indexes[start : start + batch_size]]
            orders = {x.doc.order_id: x.doc for x in part if x.doc.order_id not in stored}
            stored.update(orders)  # an order's lines may span two batches: store it once
            customers = {x.doc.customer_id: x.doc for x in part}
            products = {(x.doc.product_id, x.doc.product_name): x.doc for x in part}
            with conn.transaction(), conn.cursor() as cur:
                for table, fields, docs in (
                    ("c_customers", customer_fields, customers),
                    ("c_products", product_fields, products),
                ):
                    with cur.copy(f"COPY {table} FROM STDIN") as copy:
                        for doc in docs.values():
                            copy.write_row(fields(doc))
                for statement in _CEILING_PARENTS:
                    cur.execute(statement)
                with cur.copy(f"COPY orders ({', '.join(ORDER_COLUMNS)}) FROM STDIN") as copy:
                    for doc in orders.values():
                        copy.write_row(order_fields(doc))
                with cur.copy(f"COPY order_lines ({line_columns}) FROM STDIN") as copy:
                    for x in part:
                        copy.write_row((*line_fields(x.doc), "ceiling", 0, x.offset))


def run_ceiling(
    lines: list[StagedLine], shard_indexes: list[list[int]], pg: PgConfig, batch_size: int
) -> dict:
    """The ceiling with one session per shard, in parallel processes; timed to the last."""
    global _CEILING_LINES
    migrate(pg)
    _CEILING_LINES = lines
    fork = multiprocessing.get_context("fork")
    barrier = fork.Barrier(len(shard_indexes) + 1)
    procs = [
        fork.Process(target=_ceiling_session, args=(pg.dsn, idx, batch_size, barrier))
        for idx in shard_indexes
    ]
    for proc in procs:
        proc.start()
    barrier.wait(timeout=120)
    started = time.monotonic()
    for proc in procs:
        proc.join()
    seconds = time.monotonic() - started
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"a ceiling session failed (exit codes {failed})")
    with pg.connect(autocommit=True) as conn:
        stored = conn.execute("SELECT count(*) FROM order_lines").fetchone()[0]
    assert stored == len(lines), f"ceiling stored {stored} of {len(lines)} lines"
    return {
        "sessions": len(shard_indexes),
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
        "--sessions",
        default="1,2,3",
        help="comma-separated session counts of the ceiling; the fastest is the ceiling",
    )
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
        sessions = [int(n) for n in args.sessions.split(",")]
        for k in sessions:
            rounds[f"ceiling_{k}"] = []
        staged = ceiling_lines(records)
        sharded = {k: shards(records, k) for k in sessions}
        for round_no in range(1, args.rounds + 1):
            print(f"round {round_no} of {args.rounds}")
            for workers in counts:
                print(f"ours, ingest --workers {workers} ...")
                db = fresh_database(settings, f"bench_ours_{workers}")
                rounds[f"workers_{workers}"].append(
                    run_ours(kafka, db, args.lines, args.batch_size, workers)
                )
                print(f"  {rounds[f'workers_{workers}'][-1]}")
            for k in sessions:
                print(f"ceiling, {k} session(s) ...")
                db = fresh_database(settings, f"bench_ceiling_{k}")
                rounds[f"ceiling_{k}"].append(run_ceiling(staged, sharded[k], db, args.batch_size))
                print(f"  {rounds[f'ceiling_{k}'][-1]}")
        runs = [median_run(rounds[f"workers_{n}"]) for n in counts]
        ours = runs[-1]
        ceilings = [median_run(rounds[f"ceiling_{k}"]) for k in sessions]
        ceiling = max(ceilings, key=lambda run: run["lines_per_s"])
        best = f"ceiling_{ceiling['sessions']}"
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
            "ceiling_by_sessions": ceilings,
            "ceiling": ceiling,
            "rounds": rounds,
            "ratio_vs_ceiling_by_round": [
                round(a["lines_per_s"] / b["lines_per_s"], 3)
                for a, b in zip(ours_rounds, rounds[best], strict=True)
            ],
            "naive_per_message": naive,
            "ratio_vs_ceiling": round(ratio_ceiling, 3),
            "ratio_vs_naive": round(ratio_naive, 1),
            "targets": {
                "lines_per_s>=50000": ours["lines_per_s"] >= 50_000,
                "ratio_vs_ceiling>=0.8": ratio_ceiling >= 0.8,
                "ratio_vs_naive>=20": ratio_naive >= 20,
            },
        },
    )


if __name__ == "__main__":
    main()
