"""ETL benchmark: DuckDB vs PySpark (local[*] and a standalone cluster) at 1M and 10M lines.

The lake is generated straight from the data set's distributions (no
PostgreSQL in the way): every seed line is copied k times with unique order
ids and row ids, customers multiplied by 100 (793 -> 79,300, each with its
own name), products and locations as in the data set, on the data set's 1,237
order dates. Each day is written in the export layout (orders/customers/
products as Parquet and CSV) with a ``_manifest.json`` holding sizes, sha256
and exact sums, so the ETL verifies it exactly as it verifies a real export.
One lake per size, shared by every engine.

Measured in one run, in process (no interpreter start-up), per size:
  duckdb         every partition -> a new DuckDB warehouse (verify, transform, merge, checks)
  spark-local    the same with PySpark local[*]
  spark-cluster  the same on a Spark standalone cluster started here from the pyspark
                 wheel (a master and one worker on 127.0.0.1, bench/spark_cluster.py),
                 the engine built from settings (spark_master=spark://127.0.0.1:<port>)
  increment      one new day of 10,000 lines into the largest DuckDB warehouse
Spark session (and cluster) start-up is timed separately. Every warehouse is
checked equal to DuckDB's: per table the row count and an order-independent
hash of every row, and the exact sales sum of the fact table.
Targets (2 cores): DuckDB 10M backfill <= 30 s; increment <= 1 s.

The whole default run takes about 8 minutes on 2 quiet cores (18 under a
load average of 5-14 from other jobs); ``--cluster-sizes smallest`` skips the
cluster's 10M run (about 2.5 minutes) when time is short.

    python -m bench.etl [--sizes 1000000,10000000] [--engines duckdb,spark-local,spark-cluster]
                        [--cluster-sizes smallest|all|N,...] [--increment 10000]
                        [--workdir DIR] [--results etl]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from bench.common import save_results
from superstore import __version__
from superstore.data import load_lines
from superstore.etl import DuckDBEngine, Engine, engine_config, run_etl, select_days
from superstore.export import MANIFEST_NAME, FileEntry, Manifest
from superstore.export.layout import CUSTOMERS, ORDERS, PRODUCTS, Table
from superstore.export.manifest import order_stats
from superstore.settings import load_settings
from superstore.storage import LakeConfig
from superstore.warehouse import TABLES, DuckDBWarehouse

ENGINES = ("duckdb", "spark-local", "spark-cluster")
LABELS = {
    "duckdb": "DuckDB",
    "spark-local": "Spark local[*]",
    "spark-cluster": "Spark standalone (1 master + 1 worker)",
}
DEFAULT_SIZES = (1_000_000, 10_000_000)
QUIET = {"spark.ui.showConsoleProgress": "false"}  # no progress bars in the bench log
INCREMENT_DAY = dt.date(2017, 12, 31)  # after the data set's last order date (2017-12-30)


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


def fingerprint(path: Path) -> dict[str, dict]:
    """Per star table: row count and an order-independent hash of every row (+ exact sales)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for table in TABLES:
            columns = ", ".join(table.names)
            ((rows, digest),) = con.execute(
                f"SELECT COUNT(*), SUM(hash(t)::HUGEINT) "
                f"FROM (SELECT {columns} FROM star.{table.name}) AS t"
            ).fetchall()
            out[table.name] = {"rows": rows, "row_hash_sum": str(digest)}
        ((sales,),) = con.execute("SELECT SUM(sales) FROM star.sales_fact").fetchall()
        out["sales_fact"]["sales"] = str(sales)
        return out
    finally:
        con.close()


class LoadSampler:
    """The 1-minute load average every ``every`` seconds while in the block (shared machine)."""

    def __init__(self, every: float = 2.0) -> None:
        self.every = every
        self.samples = [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict[str, float]:
        return {
            "mean": round(sum(self.samples) / len(self.samples), 2),
            "max": round(max(self.samples), 2),
        }


def backfill(lake: LakeConfig, engine: Engine, path: Path, batch_lines: int) -> dict:
    """Every partition of the lake into a new DuckDB warehouse at ``path``, timed."""
    path.unlink(missing_ok=True)
    with DuckDBWarehouse(path) as warehouse, LoadSampler() as load:
        started = time.perf_counter()
        report = run_etl(
            lake, engine, warehouse, select_days(lake, all_days=True), batch_lines=batch_lines
        )
        seconds = time.perf_counter() - started
    prints = fingerprint(path)
    assert prints["sales_fact"]["rows"] == report.lines
    return {
        "seconds": round(seconds, 2),
        "lines": report.lines,
        "days": report.days,
        "batches": report.batches,
        "sales": prints["sales_fact"]["sales"],
        "lines_per_s": round(report.lines / seconds),
        "phases": {k: round(v, 2) for k, v in report.seconds.items()},
        "load_avg_1m": load.summary(),
        "fingerprint": prints,
    }


def increment(lake: LakeConfig, root: Path, warehouse_path: Path, lines: int) -> dict:
    """One new day of ``lines`` lines into an existing warehouse (the day is removed after)."""
    day_dir = root / "raw" / f"date={INCREMENT_DAY}"
    shutil.rmtree(day_dir, ignore_errors=True)
    write_day(root, INCREMENT_DAY, generate(lines, first_copy=10_000, day=INCREMENT_DAY))
    try:
        with DuckDBWarehouse(warehouse_path) as warehouse:
            started = time.perf_counter()
            report = run_etl(lake, DuckDBEngine(), warehouse, [INCREMENT_DAY])
            seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(day_dir)
    return {
        "seconds": round(seconds, 3),
        "lines": report.lines,
        "phases": {k: round(v, 3) for k, v in report.seconds.items()},
    }


def _versions() -> dict[str, str]:
    versions = {"superstore": __version__, "duckdb": duckdb.__version__}
    try:
        import pyspark

        versions["pyspark"] = pyspark.__version__
    except ImportError:
        pass
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
        versions["java"] = java.stderr.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        pass
    return versions


def _spark_runs(
    engine_name: str,
    engine: Engine,
    started: float,
    lakes: dict[int, LakeConfig],
    sizes: list[int],
    args: argparse.Namespace,
    work: Path,
    expect_master: str | None = None,
) -> dict:
    """Start the session (timed from ``started``), then one backfill per size, smallest first."""
    engine.spark.range(4).count()  # session up and executors registered: start-up, not run time
    master = engine.spark.sparkContext.master
    if expect_master and master != expect_master:  # getOrCreate may hand back another session
        raise RuntimeError(f"the Spark session runs on {master}, not {expect_master}")
    out: dict = {
        "session_start_seconds": round(time.perf_counter() - started, 2),
        "master": master,
        "runs": {},
    }
    for size in sizes:
        path = work / f"{engine_name}-{size}.duckdb"
        run = backfill(lakes[size], engine, path, args.batch_lines)
        path.unlink()
        print(f"{engine_name} backfill {size:,}: {_brief(run)}", flush=True)
        out["runs"][str(size)] = run
    return out


def _brief(run: dict) -> str:
    return (
        f"{run['seconds']} s, {run['lines_per_s']:,} lines/s, phases {run['phases']}, "
        f"load {run['load_avg_1m']}"
    )


def _sizes(text: str) -> list[int]:
    return sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=_sizes, default=list(DEFAULT_SIZES), help="lake sizes in lines"
    )
    parser.add_argument(
        "--engines",
        type=lambda t: [e.strip() for e in t.split(",") if e.strip()],
        default=list(ENGINES),
        help=f"any of {','.join(ENGINES)}",
    )
    parser.add_argument(
        "--cluster-sizes",
        default="all",
        help="sizes run on the standalone cluster: 'all' (default), 'smallest', or a list",
    )
    parser.add_argument("--increment", type=int, default=10_000, help="0 skips it")
    parser.add_argument("--batch-lines", type=int, default=5_000_000)
    parser.add_argument("--cluster-cores", type=int, default=2)
    parser.add_argument("--executor-memory-gb", type=int, default=4)
    parser.add_argument("--no-spark", action="store_true", help="same as --engines duckdb")
    parser.add_argument("--workdir", type=Path, help="keep the lakes here (default: a temp dir)")
    parser.add_argument("--results", default="etl", help="bench/results/<name>.json")
    args = parser.parse_args(argv)
    engines = ["duckdb"] if args.no_spark else args.engines
    unknown = set(engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines {sorted(unknown)}; use {','.join(ENGINES)}")
    sizes = args.sizes
    if args.cluster_sizes == "smallest":
        cluster_sizes = sizes[:1]
    elif args.cluster_sizes == "all":
        cluster_sizes = sizes
    else:
        cluster_sizes = [s for s in sizes if s in _sizes(args.cluster_sizes)]

    work = args.workdir or Path(tempfile.mkdtemp(prefix="superstore-bench-etl-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "sizes": sizes,
        "engines": engines,
        "cluster_sizes": cluster_sizes,
        "increment_lines": args.increment,
        "versions": _versions(),
        "load_avg": {"start": [round(x, 2) for x in os.getloadavg()]},
        "runs": {str(size): {} for size in sizes},  # JSON keys: str
        "errors": {},
    }
    started_all = time.perf_counter()
    mismatches: list[str] = []
    try:
        lakes = {}
        for size in sizes:
            root = work / f"lake-{size}"
            if not root.exists():  # a lake is renamed into place once complete
                started = time.perf_counter()
                partial = work / f"lake-{size}.partial"
                shutil.rmtree(partial, ignore_errors=True)
                days = write_lake(partial, generate(size))
                partial.rename(root)
                results["runs"][str(size)]["generate_seconds"] = round(
                    time.perf_counter() - started, 1
                )
                print(f"generated {size:,} lines in {days} partitions", flush=True)
            shutil.rmtree(root / "raw" / f"date={INCREMENT_DAY}", ignore_errors=True)
            lakes[size] = LakeConfig(url=str(root))

        if "duckdb" in engines:
            for size in sizes:
                path = work / f"duckdb-{size}.duckdb"
                run = backfill(lakes[size], DuckDBEngine(), path, args.batch_lines)
                results["runs"][str(size)]["duckdb"] = run
                print(f"duckdb backfill {size:,}: {_brief(run)}", flush=True)
                if size != sizes[-1] or not args.increment:
                    path.unlink()
            if args.increment:
                size = sizes[-1]
                path = work / f"duckdb-{size}.duckdb"
                results["increment"] = increment(
                    lakes[size], work / f"lake-{size}", path, args.increment
                )
                results["increment"]["into_lines"] = size
                path.unlink()
                print("increment", results["increment"], flush=True)

        spark: dict = {}
        if "spark-local" in engines:
            try:
                from superstore.etl.spark import SparkEngine, spark_session

                started = time.perf_counter()
                engine = SparkEngine(spark=spark_session("local[*]", QUIET))
                try:
                    spark["spark-local"] = _spark_runs(
                        "spark-local", engine, started, lakes, sizes, args, work
                    )
                finally:
                    engine.spark.stop()
            except Exception as exc:  # recorded; the other engines still run
                results["errors"]["spark-local"] = f"{type(exc).__name__}: {exc}"[:2000]
                print("spark-local failed:", results["errors"]["spark-local"], flush=True)
        if "spark-cluster" in engines and cluster_sizes:
            try:
                from spark_cluster import driver_conf, standalone_cluster

                started = time.perf_counter()
                with standalone_cluster(
                    cores=args.cluster_cores,
                    memory_gb=args.executor_memory_gb + 1,
                    report=lambda m: print(m, flush=True),
                ) as master:
                    cluster_start = time.perf_counter() - started
                    started = time.perf_counter()
                    conf = {**driver_conf(args.cluster_cores, args.executor_memory_gb), **QUIET}
                    settings = load_settings(
                        etl_engine="spark", spark_master=master, spark_conf=conf
                    )
                    # the CLI path: settings -> engine
                    with engine_config(settings).open() as engine:
                        spark["spark-cluster"] = _spark_runs(
                            "spark-cluster",
                            engine,
                            started,
                            lakes,
                            cluster_sizes,
                            args,
                            work,
                            expect_master=master,
                        )
                spark["spark-cluster"].update(
                    cluster_start_seconds=round(cluster_start, 2),
                    worker={"cores": args.cluster_cores, "memory_gb": args.executor_memory_gb + 1},
                    executor={"cores": args.cluster_cores, "memory_gb": args.executor_memory_gb},
                )
            except Exception as exc:
                results["errors"]["spark-cluster"] = f"{type(exc).__name__}: {exc}"[:2000]
                print("spark-cluster failed:", results["errors"]["spark-cluster"], flush=True)

        results["spark"] = {}
        for name, out in spark.items():
            for size, run in out.pop("runs").items():
                results["runs"][size][name] = run
            results["spark"][name] = out
        mismatches = compare(results)
        results["targets"] = targets(results)
        results["load_avg"]["end"] = [round(x, 2) for x in os.getloadavg()]
        results["total_seconds"] = round(time.perf_counter() - started_all, 1)
        saved = save_results(args.results, results)
        print(report_section(json.loads(saved.read_text())))
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    problems = [*mismatches, *(f"{k}: {v}" for k, v in results["errors"].items())]
    for problem in problems:
        print("PROBLEM:", problem, file=sys.stderr)
    return 1 if problems else 0


def compare(results: dict) -> list[str]:
    """Ratios vs DuckDB and equality of every Spark warehouse with DuckDB's, per size."""
    mismatches = []
    for size, runs in results["runs"].items():
        duck = runs.get("duckdb")
        for name in ENGINES[1:]:
            run = runs.get(name)
            if not run or not duck:
                continue
            run["ratio_vs_duckdb"] = round(run["seconds"] / duck["seconds"], 1)
            run["identical_to_duckdb"] = run["fingerprint"] == duck["fingerprint"]
            if not run["identical_to_duckdb"]:
                mismatches.append(f"{name} at {int(size):,} lines differs from DuckDB")
    return mismatches


def targets(results: dict) -> dict:
    """The ETL targets, measured at 10M lines (None when that size was not run)."""
    duck = results["runs"].get(str(10_000_000), {}).get("duckdb")
    inc = results.get("increment")
    return {
        "duckdb_10m_backfill_le_30s": duck["seconds"] <= 30 if duck else None,
        "increment_le_1s": inc["seconds"] <= 1 if inc else None,
    }


def _n(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def report_section(results: dict) -> str:
    """The markdown section of the benchmark report, from one run's results (etl.json)."""
    runs = {int(size): by_engine for size, by_engine in results.get("runs", {}).items()}
    spark = results.get("spark", {})
    lines = [
        "## ETL: DuckDB vs Spark (local and standalone cluster)",
        "",
        "| lines | engine | seconds | lines/s | vs DuckDB | warehouse equal to DuckDB's"
        " | load avg (mean / max) |",
        "|---:|---|---:|---:|---:|---|---:|",
    ]
    for size in sorted(runs):
        for name in ENGINES:
            run = runs[size].get(name)
            if run is None:
                if name in results.get("engines", ENGINES):
                    error = results.get("errors", {}).get(name)
                    why = f"failed: {error[:80]}" if error else "not run (`--cluster-sizes`)"
                    lines.append(f"| {size:,} | {LABELS[name]} | {why} | | | | |")
                continue
            ratio = "1.0x" if name == "duckdb" else "–"
            equal = "(reference)" if name == "duckdb" else "–"
            if "ratio_vs_duckdb" in run:
                ratio = f"{run['ratio_vs_duckdb']:.1f}x slower"
                equal = "yes" if run["identical_to_duckdb"] else "**NO**"
            load = run.get("load_avg_1m")
            load_text = f"{load['mean']:.1f} / {load['max']:.1f}" if isinstance(load, dict) else "–"
            lines.append(
                f"| {size:,} | {LABELS[name]} | {_n(run['seconds'], 1)} | "
                f"{_n(run['lines_per_s'])} | {ratio} | {equal} | {load_text} |"
            )
    inc = results.get("increment")
    if inc:
        lines += [
            "",
            f"Daily increment: {inc['lines']:,} lines into the {inc.get('into_lines', 0):,}-line "
            f"DuckDB warehouse in {inc['seconds']:.2f} s.",
        ]
    duck10 = runs.get(10_000_000, {}).get("duckdb")

    def target(label: str, value: float | None, limit: float) -> str:
        if value is None:
            return f"- {label} <= {limit:g} s: not measured in this run"
        verdict = "met" if value <= limit else "**missed**"
        return f"- {label} <= {limit:g} s: {value:.2f} s, {verdict}"

    lines += [
        "",
        "Targets (2 cores):",
        "",
        target("DuckDB 10M-line backfill", duck10["seconds"] if duck10 else None, 30),
        target("daily increment", inc["seconds"] if inc else None, 1),
        "",
        "Method:",
        "",
    ]
    days = next(
        (r["days"] for by in runs.values() for r in by.values() if isinstance(r, dict)), None
    )
    lines.append(
        "- One synthetic lake per size from the data set's distributions (seed lines copied with"
        " new order ids, 79,300 customers), in the export layout with manifests"
        + (f" ({days:,} day partitions)" if days else "")
        + "; every engine backfills the same lake."
    )
    lines.append(
        "- A run = every partition into a new DuckDB warehouse: manifest verification,"
        " the one transformation (DuckDB or Spark), merge and data-quality checks, timed in"
        " process. lines/s = lines / seconds."
    )
    start = []
    if "spark-local" in spark:
        start.append(f"local {spark['spark-local']['session_start_seconds']:.1f} s")
    if "spark-cluster" in spark:
        c = spark["spark-cluster"]
        start.append(
            f"standalone: cluster {c['cluster_start_seconds']:.1f} s"
            f" + session {c['session_start_seconds']:.1f} s"
        )
        ex = c.get("executor", {})
        lines.append(
            "- Spark standalone: a master and one worker started from the pyspark wheel's"
            " `bin/spark-class` on 127.0.0.1 (`bench/spark_cluster.py`), one executor of"
            f" {ex.get('cores', '?')} cores and {ex.get('memory_gb', '?')} GB; the driver is the"
            " bench process, the engine built from settings (`spark_master=spark://...`)."
            " Lake and stage are local paths: the worker is on the same machine."
        )
    if start:
        lines.append(
            "- Spark start-up is not in the times (session started and executors registered"
            f" first: {', '.join(start)}); each session runs the sizes smallest first."
        )
    lines.append(
        "- Equal warehouses: per star table the row count and an order-independent sum of"
        " row hashes, and the fact table's exact sales sum, equal to DuckDB's."
    )
    machine = results.get("machine", {})
    load = results.get("load_avg", {})
    versions = results.get("versions", {})
    machine_text = (
        f"- Machine: {machine.get('cpus', '?')} CPUs, shared; load average"
        f" {load.get('start', ['?'])[0]} at the start, {load.get('end', ['?'])[0]} at the end"
        " (1 min; per run in the table: the bench alone keeps about 2 on 2 cores, more means"
        " other work shared the CPUs)"
    )
    if versions:
        machine_text += "; " + ", ".join(f"{k} {v}" for k, v in versions.items())
    lines.append(machine_text + ".")
    generate = sum(by.get("generate_seconds", 0) for by in runs.values())
    if results.get("total_seconds"):
        startup = sum(
            v.get("session_start_seconds", 0) + v.get("cluster_start_seconds", 0)
            for v in spark.values()
        )
        lines.append(
            f"- Whole run {results['total_seconds'] / 60:.1f} min: lake generation"
            f" {generate:.0f} s, Spark start-up {startup:.0f} s, the runs above, equality checks."
        )
    sizes = ",".join(str(s) for s in sorted(runs))
    cluster = results.get("cluster_sizes")
    if "spark-cluster" in results.get("engines", ()) and cluster and len(cluster) < len(runs):
        sizes += " --cluster-sizes " + ",".join(str(s) for s in cluster)
    lines.append(
        f"- Reproduce: `make bench-etl` or `cd bench && python etl.py --sizes {sizes}`"
        f" (results in `bench/results/{results.get('benchmark', 'etl')}.json`,"
        f" run {results.get('when', '?')})."
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
