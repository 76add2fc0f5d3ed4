"""Benchmark: export one day of 1,000,000 lines, against psql's plain COPY as the ceiling.

Synthesises the lines with SQL (``generate_series``) into a dedicated database,
then times, in the same run and interleaved (best of ``--repeat``):

- ceiling: ``psql -c "\\copy (SELECT ...) TO file"`` of the orders rows;
- csv: our COPY of the same rows to ``orders.csv`` (streamed, sha256 on the way);
- parquet: the same COPY converted to ``orders.parquet``;
- export_day: the whole partition (orders, customers, products as CSV and
  Parquet, cross-check, manifest, atomic publish) into a local lake.

Uses ``SUPERSTORE_PG_DSN`` when set, else starts a throwaway PostgreSQL
(the pgserver wheel's binaries) and stops it at the end. Writes
``bench/results/export.json``. Run: ``make bench-export``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from superstore.clients import PgConfig
from superstore.export import export_day
from superstore.export.dump import dump_table
from superstore.export.layout import ORDERS
from superstore.oltp import migrate
from superstore.oltp.snapshot import open_snapshot
from superstore.storage import LakeConfig

DAY = dt.date(2030, 1, 1)
RESULTS = Path(__file__).resolve().parent / "results" / "export.json"

# Parents before children (foreign keys); 4 lines per order, 5,000 customers, 2,000 products.
SYNTH_SQL = """
INSERT INTO customers (customer_id, customer_name, segment)
SELECT 'BX-' || lpad(i::text, 5, '0'), 'Bench Customer ' || i,
       (ARRAY['Consumer', 'Corporate', 'Home Office'])[1 + i % 3]
FROM generate_series(1, 5000) AS i;
INSERT INTO products (product_id, product_name, category, sub_category, first_order_date)
SELECT 'BX-PR-' || lpad(i::text, 8, '0'),
       'Bench product number ' || i || ', a sturdy thing with a long name',
       (ARRAY['Furniture', 'Office Supplies', 'Technology'])[1 + i % 3],
       (ARRAY['Bookcases', 'Chairs', 'Labels', 'Tables', 'Storage', 'Phones'])[1 + i % 6],
       {day}
FROM generate_series(1, 2000) AS i;
INSERT INTO orders (order_id, order_date, ship_date, ship_mode, customer_id, country, city,
                    state, postal_code, region)
SELECT 'BX-' || lpad(i::text, 9, '0'), {day}, {day} + (i % 7),
       (ARRAY['Standard Class', 'Second Class', 'First Class', 'Same Day'])[1 + i % 4],
       'BX-' || lpad((1 + i % 5000)::text, 5, '0'), 'United States',
       (ARRAY['Henderson', 'Los Angeles', 'Fort Lauderdale', 'New York City'])[1 + i % 4],
       (ARRAY['Kentucky', 'California', 'Florida', 'New York'])[1 + i % 4],
       lpad((i % 99999)::text, 5, '0'), (ARRAY['South', 'West', 'East', 'Central'])[1 + i % 4]
FROM generate_series(1, {orders}) AS i;
INSERT INTO order_lines (order_id, line_number, row_id, product_id, product_name, sales,
                         quantity, discount, profit, src_topic, src_partition, src_offset)
SELECT 'BX-' || lpad(o::text, 9, '0'), n, (o - 1) * 4 + n,
       'BX-PR-' || lpad((1 + (o * 4 + n) % 2000)::text, 8, '0'),
       'Bench product number ' || (1 + (o * 4 + n) % 2000) || ', a sturdy thing with a long name',
       round(((o * 37 + n * 101) % 100000) / 100.0 + 0.0123, 4), 1 + (o + n) % 9,
       ((o + n) % 5) / 10.0, round(((o * 13 + n) % 20000) / 100.0 - 50.1234, 4),
       'bench', 0, (o - 1) * 4 + n
FROM generate_series(1, {orders}) AS o, generate_series(1, 4) AS n
"""


def _with_db(dsn: str, dbname: str) -> str:
    parts = conninfo_to_dict(dsn)
    parts["dbname"] = dbname
    return make_conninfo(**parts)


def _psql() -> str:
    try:
        import pgserver._commands as commands  # the wheel's binaries match its server

        path = Path(commands.POSTGRES_BIN_PATH) / "psql"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    found = shutil.which("psql")
    if not found:
        sys.exit("no psql found (pgserver wheel or system postgresql-client)")
    return found


def _synthesise(pg: PgConfig, lines: int) -> float:
    started = time.perf_counter()
    migrate(pg)
    with pg.connect() as conn:
        conn.execute(sql.SQL(SYNTH_SQL).format(day=sql.Literal(DAY), orders=lines // 4))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def _best(fn: Callable[[], object], runs: list[float]) -> None:
    started = time.perf_counter()
    fn()
    runs.append(time.perf_counter() - started)


def _measure(pg: PgConfig, work: Path, repeat: int) -> dict[str, list[float]]:
    psql, out = _psql(), work / "ceiling.csv"
    select = " ".join(ORDERS.select_sql(DAY).split())
    copy = f"\\copy ({select}) TO '{out}' WITH (FORMAT csv, HEADER)"
    lake = LakeConfig(url=str(work / "lake"))
    fs = lake.fs()
    scratch = str(work / "scratch")

    def ceiling() -> None:
        subprocess.run([psql, pg.dsn, "-X", "-q", "-c", copy], check=True)

    def ours(csv: bool, parquet: bool) -> Callable[[], None]:
        def run() -> None:
            with open_snapshot(pg, share=False) as snap:
                dump_table(snap.main, ORDERS, DAY, fs, scratch, csv=csv, parquet=parquet)

        return run

    runs: dict[str, list[float]] = {"ceiling": [], "csv": [], "parquet": [], "export_day": []}
    for i in range(repeat):
        _best(ceiling, runs["ceiling"])
        _best(ours(True, False), runs["csv"])
        _best(ours(False, True), runs["parquet"])
        _best(lambda: export_day(pg, lake, DAY), runs["export_day"])
        print(f"  round {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in runs.items()))
    return runs


def _report(lines: int, runs: dict[str, list[float]], synth_s: float) -> dict[str, object]:
    best = {name: min(times) for name, times in runs.items()}
    ceiling = lines / best["ceiling"]
    paths = {}
    for name, seconds in best.items():
        rate = lines / seconds
        paths[name] = {
            "best_s": round(seconds, 3),
            "runs_s": [round(t, 3) for t in runs[name]],
            "rows_per_s": round(rate),
            "vs_ceiling": round(rate / ceiling, 3),
        }
    return {
        "benchmark": "export one day",
        "lines": lines,
        "date": DAY.isoformat(),
        "synthesise_s": round(synth_s, 1),
        "paths": paths,
        "target_vs_ceiling": 0.7,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1m_at_end": round(os.getloadavg()[0], 2),  # other work on the machine
        },
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    """Set up the database, measure, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        work = Path(tmp)
        server, dsn = None, os.environ.get("SUPERSTORE_PG_DSN")
        if not dsn:
            from superstore.stack.postgres import start_postgres

            server = start_postgres(work / "pg", 0, print)
            dsn = server.address
        admin = PgConfig(_with_db(dsn, "postgres"))
        dbname = f"bench_export_{uuid.uuid4().hex[:8]}"
        try:
            with admin.connect(autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{dbname}"')
            pg = PgConfig(_with_db(dsn, dbname))
            print(f"synthesising {args.lines:,} lines dated {DAY} ...")
            synth_s = _synthesise(pg, args.lines)
            print(f"  done in {synth_s:.1f}s; measuring (best of {args.repeat})")
            result = _report(args.lines, _measure(pg, work, args.repeat), synth_s)
        finally:
            with admin.connect(autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            if server:
                from superstore.stack.postgres import stop_postgres

                stop_postgres(server)
    for name, path in result["paths"].items():  # type: ignore[union-attr]
        print(
            f"{name:>11}: {path['best_s']:6.2f}s  {path['rows_per_s']:>10,} rows/s  "
            f"{path['vs_ceiling']:.2f}x ceiling"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {RESULTS}")


if __name__ == "__main__":
    main()
