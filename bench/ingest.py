"""Ingest benchmark: N lines through the real broker into PostgreSQL, exactly once.

Side by side in one run, on the same machine and server:
  ours     superstore's consumer (batch COPY + upsert + offsets in one transaction)
  ceiling  the same rows COPY'd + upserted straight into PostgreSQL, no Kafka
  naive    one message -> one upsert -> one commit, as the original project did
Targets (2 cores): ours >= 50,000 lines/s, >= 0.5x ceiling, >= 20x naive.

    python bench/ingest.py [--lines 1000000] [--naive-seconds 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import bench_stack, fresh_database, fresh_topic, save_results, synthetic_records

from superstore.clients import KafkaConfig, PgConfig
from superstore.ingest import migrate
from superstore.ingest.consumer import IngestOptions, Ingestor, IngestStats
from superstore.ingest.writer import Batch, StagedLine, write_batch
from superstore.messages import decode_line
from superstore.produce import produce_records
from superstore.wire import decode_wire


def run_ours(kafka: KafkaConfig, pg: PgConfig, expected: int, batch_size: int) -> dict:
    marks: dict[str, float] = {}

    def on_batch(stats: IngestStats) -> None:
        marks.setdefault("first", time.monotonic())
        marks["last"] = time.monotonic()

    opts = IngestOptions(group_id="bench", batch_size=batch_size, until_idle=3.0, progress_every=10)
    started = time.monotonic()
    stats = Ingestor(kafka, pg, opts, on_batch=on_batch).run()
    assert stats.lines == expected, f"ingested {stats.lines}, expected {expected}"
    # From the start of the run to the last commit: includes group join, excludes idle wait.
    seconds = marks["last"] - started
    return {
        "lines": stats.lines,
        "seconds": round(seconds, 3),
        "lines_per_s": round(stats.lines / seconds),
    }


def run_ceiling(records: list[tuple[str, bytes]], pg: PgConfig, batch_size: int) -> dict:
    lines = [
        StagedLine(decode_wire(v), v.decode(), "ceiling", 0, i) for i, (_, v) in enumerate(records)
    ]
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
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp,
        bench_stack(Path(tmp)) as settings,
    ):
        print(f"synthesising {args.lines:,} lines")
        records = synthetic_records(args.lines)
        kafka = fresh_topic(settings)
        t = time.monotonic()
        produced = produce_records(kafka, records)
        produce_s = time.monotonic() - t
        print(f"produced {produced.sent:,} in {produce_s:.1f}s")
        print("ours ...")
        ours = run_ours(kafka, fresh_database(settings, "bench_ours"), args.lines, args.batch_size)
        print(f"  {ours}")
        print("ceiling ...")
        ceiling = run_ceiling(records, fresh_database(settings, "bench_ceiling"), args.batch_size)
        print(f"  {ceiling}")
        print(f"naive ({args.naive_seconds:.0f}s sample) ...")
        naive = run_naive(kafka, fresh_database(settings, "bench_naive"), args.naive_seconds)
        print(f"  {naive}")
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
            "ours": ours,
            "ceiling_copy_upsert_no_kafka": ceiling,
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
