"""Dashboard benchmark: the analytics API at 10M facts vs the same queries on PostgreSQL OLTP.

In one run, on the same machine, with the same synthetic business in both
stores (see dashboard_data.py):
  api        every /api/analytics endpoint over HTTP (uvicorn, a real socket),
             the result cache OFF so every request is computed from the
             pre-aggregates; filters drawn from a fixed random set of slicer
             and cross-filter combinations
  page       all six visuals requested in parallel, as the browser does
  oltp       the same visual computed straight from the PostgreSQL OLTP tables
  facts      the KPI query straight on the 10M-row DuckDB fact table (what the
             pre-aggregates save)
Targets (2 cores): api p95 <= 50 ms per endpoint and >= 10x faster than oltp.

    python -m bench.dashboard [--facts 10000000] [--requests 200] [--oltp-runs 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import duckdb
import httpx

from bench.common import bench_stack, fresh_database, save_results
from bench.dashboard_data import OLTP_QUERIES, build_oltp, build_star, oltp_params
from superstore.clients import PgConfig
from superstore.warehouse import DuckDBReader
from superstore.web import DashboardServer, WebConfig

ENDPOINTS = {
    "kpis": {},
    "category-trend": {"grain": "month"},
    "segments": {},
    "regions": {},
    "states": {},
    "growth": {"grain": "quarter"},
}
YEARS = [2014, 2015, 2016, 2017]
STATES = ["California", "New York", "Texas", "Washington", "Pennsylvania", "Florida", "Ohio"]


def filter_cases(count: int, seed: int = 7) -> list[dict]:
    """Slicer/cross-filter combinations a user clicks through; the first is 'no filter'."""
    rng = random.Random(seed)
    cases: list[dict] = [{}]
    while len(cases) < count:
        case: dict = {}
        if rng.random() < 0.6:
            case["year"] = sorted(rng.sample(YEARS, rng.randint(1, 2)))
        if rng.random() < 0.35:
            case["state"] = sorted(rng.sample(STATES, rng.randint(1, 2)))
        for key, values, p in (
            ("segment", ["Consumer", "Corporate", "Home Office"], 0.35),
            ("region", ["West", "East", "Central", "South"], 0.2),
            ("category", ["Furniture", "Office Supplies", "Technology"], 0.35),
        ):
            if rng.random() < p:
                case[key] = rng.choice(values)
        if case not in cases:
            cases.append(case)
    return cases


def analytics_paths(cases: list[dict]) -> list[str]:
    """Every visual's API path for each filter case, in page order (what the page asks)."""
    return [
        f"/api/analytics/{endpoint}?{urlencode({**case, **extra}, doseq=True)}".rstrip("?")
        for case in cases
        for endpoint, extra in ENDPOINTS.items()
    ]


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return {
        "n": len(ordered),
        "p50_ms": round(pct(0.50) * 1000, 2),
        "p95_ms": round(pct(0.95) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
    }


def measure_api(url: str, cases: list[dict], requests: int) -> dict[str, dict]:
    results = {}
    with httpx.Client(base_url=url, timeout=60) as client:
        for endpoint, extra in ENDPOINTS.items():
            for case in cases[:5]:  # warm-up: connections, DuckDB plan caches
                client.get(f"/api/analytics/{endpoint}", params={**case, **extra})
            samples = []
            for n in range(requests):
                params = {**cases[n % len(cases)], **extra}
                started = time.perf_counter()
                client.get(f"/api/analytics/{endpoint}", params=params).raise_for_status()
                samples.append(time.perf_counter() - started)
            results[endpoint] = _stats(samples)
            print(f"  api   {endpoint:15} {results[endpoint]}")
    return results


def measure_page(url: str, cases: list[dict], loads: int) -> dict[str, float]:
    """All visuals of one page view in parallel (the browser's six requests)."""
    samples = []
    with (
        httpx.Client(base_url=url, timeout=60) as client,
        ThreadPoolExecutor(len(ENDPOINTS)) as pool,
    ):
        for n in range(loads):
            case = cases[(n * 7) % len(cases)]
            started = time.perf_counter()
            futures = [
                pool.submit(client.get, f"/api/analytics/{e}", params={**case, **extra})
                for e, extra in ENDPOINTS.items()
            ]
            for future in futures:
                future.result().raise_for_status()
            samples.append(time.perf_counter() - started)
    return _stats(samples)


def measure_oltp(pg: PgConfig, cases: list[dict], runs: int) -> tuple[dict[str, dict], tuple]:
    results = {}
    kpis = ()
    with pg.connect(autocommit=True) as conn:
        for endpoint, (sql, ignore) in OLTP_QUERIES.items():
            samples = []
            for case in cases[:runs]:
                started = time.perf_counter()
                rows = conn.execute(sql, oltp_params(case, ignore)).fetchall()
                samples.append(time.perf_counter() - started)
                if endpoint == "kpis" and not case:
                    kpis = rows[0]
            results[endpoint] = _stats(samples)
            print(f"  oltp  {endpoint:15} {results[endpoint]}")
    return results, kpis


def measure_facts(path: Path, runs: int) -> dict[str, float]:
    """The unfiltered KPI query on the raw fact table, no pre-aggregates."""
    sql = """SELECT sum(f.sales), sum(f.profit), sum(f.quantity), count(*),
                    count(DISTINCT f.order_id), count(DISTINCT f.customer_key),
                    count(DISTINCT (l.state, l.city))
             FROM star.sales_fact f JOIN star.location_dim l USING (location_key)"""
    samples = []
    with duckdb.connect(str(path), read_only=True) as con:
        for _ in range(runs):
            started = time.perf_counter()
            con.execute(sql).fetchall()
            samples.append(time.perf_counter() - started)
    return _stats(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=10_000_000)
    parser.add_argument("--requests", type=int, default=200, help="API requests per endpoint")
    parser.add_argument("--oltp-runs", type=int, default=3, help="OLTP queries per endpoint")
    args = parser.parse_args()
    cases = filter_cases(60)
    with (
        tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp,
        bench_stack(Path(tmp) / "stack") as settings,
    ):
        star = Path(tmp) / "warehouse.duckdb"
        print(f"synthesising {args.facts:,} facts in DuckDB and {args.facts:,} lines in PostgreSQL")
        star_seconds = build_star(star, args.facts)
        pg = fresh_database(settings, "bench_dashboard")
        oltp_seconds = build_oltp(pg, args.facts)
        print(f"  star {star_seconds:.1f}s, oltp {oltp_seconds:.1f}s")
        config = WebConfig(
            pg=PgConfig(pg.dsn).read_only(), warehouse=DuckDBReader(star), result_cache=0
        )
        with DashboardServer(config) as server, httpx.Client(base_url=server.url) as client:
            started = time.perf_counter()
            while client.get("/api/analytics/options", timeout=600).status_code == 503:
                time.sleep(0.2)
            options = client.get("/api/analytics/options").json()
            first_answer = time.perf_counter() - started
            api_kpis = client.get("/api/analytics/kpis").json()["kpis"]
            api = measure_api(server.url, cases, args.requests)
            page = measure_page(server.url, cases, 50)
            print(f"  page  all visuals     {page}")
        oltp, oltp_kpis = measure_oltp(pg, cases, args.oltp_runs)
        facts = measure_facts(star, 5)
        print(f"  facts kpis            {facts}")
    names = ("sales", "profit", "quantity", "lines", "orders", "customers", "cities")
    same = all(
        Decimal(str(api_kpis[n])) == Decimal(v) for n, v in zip(names, oltp_kpis, strict=True)
    )
    table = {
        e: {
            "api_p50_ms": api[e]["p50_ms"],
            "api_p95_ms": api[e]["p95_ms"],
            "oltp_p50_ms": oltp[e]["p50_ms"],
            "oltp_p95_ms": oltp[e]["p95_ms"],
            "speedup_p50": round(oltp[e]["p50_ms"] / api[e]["p50_ms"], 1),
            "speedup_p95": round(oltp[e]["p95_ms"] / api[e]["p95_ms"], 1),
            "meets_targets": api[e]["p95_ms"] <= 50 and oltp[e]["p95_ms"] >= 10 * api[e]["p95_ms"],
        }
        for e in ENDPOINTS
    }
    save_results(
        "dashboard",
        {
            "facts": args.facts,
            "customers": 793 * 100,
            "filter_cases": len(cases),
            "setup_seconds": {"star": round(star_seconds, 1), "oltp": round(oltp_seconds, 1)},
            "pre_aggregates": {
                "build_seconds": options["build_seconds"],
                "first_answer_seconds": round(first_answer, 2),
                "facts_seen": options["facts"],
            },
            "numbers_match_oltp": same,
            "endpoints": table,
            "page_all_visuals": page,
            "kpis_on_raw_facts_duckdb": facts,
            "api": api,
            "oltp": oltp,
            "targets": {"api_p95_ms": 50, "speedup": 10},
            "all_targets_met": same and all(row["meets_targets"] for row in table.values()),
        },
    )


if __name__ == "__main__":
    main()
