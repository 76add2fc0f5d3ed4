"""ETL benchmark: a 10M-line lake -> star schema, DuckDB vs PySpark, plus a daily increment.

The lake is generated straight from the data set's distributions (no
PostgreSQL in the way): every seed line is copied k times with unique order
ids and row ids, customers multiplied by 100 (793 -> 79,300, each with its
own name), products and locations as in the data set, on the data set's 1,237
order dates. Each day is written in the export layout (orders/customers/
products as Parquet and CSV) with a ``_manifest.json`` holding sizes, sha256
and exact sums, so the ETL verifies it exactly as it verifies a real export.

Measured in one run, in process (no interpreter start-up):
  duckdb backfill  every partition -> a new DuckDB warehouse (verify, transform, merge, checks)
  spark backfill   the same with PySpark local[*] (session start reported separately)
  increment        one new day of 10,000 lines into the 10M-line DuckDB warehouse
Targets (2 cores): DuckDB backfill <= 30 s and >= 5x faster than Spark; increment <= 1 s.

    python bench/etl.py [--lines 10000000] [--increment 10000] [--no-spark] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from common import save_results

from superstore import __version__
from superstore.data import load_lines
from superstore.etl import DuckDBEngine, run_etl, select_days
from superstore.export import MANIFEST_NAME, FileEntry, LakeConfig, Manifest
from superstore.export.layout import CUSTOMERS, ORDERS, PRODUCTS, Table
from superstore.export.manifest import order_stats
from superstore.warehouse import DuckDBWarehouse

CUSTOMER_COPIES = 100


def seed_table() -> pa.Table:
    """The data set as the lake's orders schema (line numbers as the export assigns them)."""
    rows = [line.model_dump() for line in load_lines()]
    columns = {c.name: [r[c.name] for r in rows] for c in ORDERS.columns}
    return pa.table(columns, schema=ORDERS.schema)


def generate(lines: int, first_copy: int = 0, day: dt.date | None = None) -> pa.Table:
    """``lines`` synthetic order lines, sorted like an export (date, order id, line number)."""
    con = duckdb.connect()
    con.register("seed", seed_table())
    per_copy = con.sql("SELECT COUNT(*) FROM seed").fetchall()[0][0]
    copies = -(-lines // per_copy)
    date_expr = f"DATE '{day}'" if day else "order_date"
    ship_expr = (
        f"DATE '{day}' + CAST(date_diff('day', order_date, ship_date) AS INTEGER)"
        if day
        else "ship_date"
    )
    query = f"""
        SELECT CAST(row_id + c * {per_copy} AS INTEGER) AS row_id,
               order_id || '-' || CAST(c AS VARCHAR) AS order_id,
               {date_expr} AS order_date, {ship_expr} AS ship_date, ship_mode,
               customer_id || '-' || CAST(c % {CUSTOMER_COPIES} AS VARCHAR) AS customer_id,
               customer_name || ' ' || CAST(c % {CUSTOMER_COPIES} AS VARCHAR) AS customer_name,
               segment, country, city, state, postal_code, region, product_id, category,
               sub_category, product_name, sales, quantity, discount, profit, line_number
        FROM (SELECT *, ROW_NUMBER() OVER (ORDER BY row_id) - 1 AS i FROM seed) AS s,
             range({first_copy}, {first_copy + copies}) AS r(c)
        WHERE (c - {first_copy}) * {per_copy} + i < {lines}
        ORDER BY order_date, order_id, line_number
    """
    return con.sql(query).to_arrow_table().cast(ORDERS.schema)


def _csv(table: pa.Table, spec: Table) -> bytes:
    buffer = io.BytesIO()
    pa_csv.write_csv(table.rename_columns(spec.headers), buffer)
    return buffer.getvalue()


def _parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy", row_group_size=262_144)
    return buffer.getvalue()


def write_day(root: Path, day: dt.date, orders: pa.Table) -> Manifest:
    """One partition in the export layout, manifest last."""
    customers = (
        orders.select(CUSTOMERS.schema.names).group_by(CUSTOMERS.schema.names).aggregate([])
    ).sort_by([("customer_id", "ascending")])
    products = (
        orders.select(PRODUCTS.schema.names).group_by(PRODUCTS.schema.names).aggregate([])
    ).sort_by([("product_id", "ascending"), ("product_name", "ascending")])
    directory = root / "raw" / f"date={day.isoformat()}"
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for spec, table in ((ORDERS, orders), (CUSTOMERS, customers), (PRODUCTS, products)):
        table = table.cast(spec.schema)
        for name, data in (
            (spec.csv_name, _csv(table, spec)),
            (spec.parquet_name, _parquet(table)),
        ):
            (directory / name).write_bytes(data)
            files[name] = FileEntry(table.num_rows, len(data), hashlib.sha256(data).hexdigest())
    stats = order_stats(orders)
    manifest = Manifest(
        date=day,
        lines=stats["lines"],
        orders=stats["orders"],
        customers=customers.num_rows,
        products=products.num_rows,
        sales=stats["sales"],
        profit=stats["profit"],
        min_order_date=stats["min_order_date"],
        max_order_date=stats["max_order_date"],
        files=files,
        snapshot={"source": "bench/etl.py synthetic lake"},
        exported_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        tool=f"superstore {__version__} bench",
    )
    (directory / MANIFEST_NAME).write_bytes(manifest.to_json())
    return manifest


def write_lake(root: Path, lines: pa.Table) -> int:
    """Split sorted lines by order date and write every partition; returns the day count."""
    counts = lines.group_by("order_date").aggregate([("order_date", "count")])
    counts = counts.sort_by([("order_date", "ascending")]).to_pylist()
    bounds, offset = [], 0
    for row in counts:
        bounds.append((row["order_date"], offset, row["order_date_count"]))
        offset += row["order_date_count"]

    def one(bound: tuple[dt.date, int, int]) -> None:
        day, offset, count = bound
        write_day(root, day, lines.slice(offset, count))

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, bounds))
    return len(bounds)


def backfill(lake: LakeConfig, engine, path: Path, batch_lines: int) -> dict:
    with DuckDBWarehouse(path) as warehouse:
        started = time.perf_counter()
        report = run_etl(
            lake, engine, warehouse, select_days(lake, all_days=True), batch_lines=batch_lines
        )
        seconds = time.perf_counter() - started
        ((lines, sales),) = warehouse.query("SELECT COUNT(*), SUM(sales) FROM star.sales_fact")
    assert lines == report.lines
    return {
        "seconds": round(seconds, 2),
        "lines": lines,
        "days": report.days,
        "batches": report.batches,
        "sales": str(sales),
        "lines_per_s": round(lines / seconds),
        "phases": {k: round(v, 2) for k, v in report.seconds.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--increment", type=int, default=10_000)
    parser.add_argument("--batch-lines", type=int, default=5_000_000)
    parser.add_argument("--no-spark", action="store_true", help="skip the PySpark backfill")
    parser.add_argument("--workdir", type=Path, help="keep the lake here (default: a temp dir)")
    args = parser.parse_args()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="superstore-bench-etl-"))
    root = work / "lake"
    results: dict = {"lines": args.lines, "increment_lines": args.increment}
    try:
        if not (root / "raw").exists():
            started = time.perf_counter()
            days = write_lake(root, generate(args.lines))
            results["generate_seconds"] = round(time.perf_counter() - started, 1)
            print(f"generated {args.lines:,} lines in {days} partitions", flush=True)
        lake = LakeConfig(url=str(root))
        for path in work.glob("*.duckdb"):
            path.unlink()

        results["duckdb_backfill"] = backfill(
            lake, DuckDBEngine(), work / "duckdb.duckdb", args.batch_lines
        )
        print("duckdb backfill", results["duckdb_backfill"], flush=True)

        day = dt.date(2017, 12, 31)
        shutil.rmtree(root / "raw" / f"date={day}", ignore_errors=True)
        write_day(root, day, generate(args.increment, first_copy=10_000, day=day))
        with DuckDBWarehouse(work / "duckdb.duckdb") as warehouse:
            started = time.perf_counter()
            report = run_etl(lake, DuckDBEngine(), warehouse, [day])
            seconds = time.perf_counter() - started
        results["increment"] = {
            "seconds": round(seconds, 3),
            "lines": report.lines,
            "phases": {k: round(v, 3) for k, v in report.seconds.items()},
        }
        print("increment", results["increment"], flush=True)
        shutil.rmtree(root / "raw" / f"date={day}")

        if not args.no_spark:
            from superstore.etl.spark import SparkEngine, spark_session

            started = time.perf_counter()
            session = spark_session("local[*]")
            start_seconds = time.perf_counter() - started
            with SparkEngine(spark=session) as engine:
                spark = backfill(lake, engine, work / "spark.duckdb", args.batch_lines)
            session.stop()
            spark["session_start_seconds"] = round(start_seconds, 2)
            results["spark_backfill"] = spark
            duck = results["duckdb_backfill"]
            results["spark_over_duckdb"] = round(spark["seconds"] / duck["seconds"], 1)
            results["spark_with_start_over_duckdb"] = round(
                (spark["seconds"] + start_seconds) / duck["seconds"], 1
            )
            assert spark["sales"] == duck["sales"] and spark["lines"] == duck["lines"]
        results["targets"] = {
            "duckdb_backfill_le_30s": results["duckdb_backfill"]["seconds"] <= 30,
            "duckdb_5x_faster_than_spark": results.get("spark_over_duckdb", 0) >= 5,
            "increment_le_1s": results["increment"]["seconds"] <= 1,
        }
        save_results("etl", results)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
