"""Dashboard benchmark: /analytics against the previous main, and the API at 10M facts.

In one run, on the same machine, with the same synthetic business (see
dashboard_data.py) in a DuckDB warehouse and in the PostgreSQL OLTP tables:
  page       /analytics in Chromium, time from navigation to every visual drawn,
             median of fresh loads; ours and the previous main's page, taking turns
  load       the analytics API at 50 concurrent clients (a second process,
             bench/load.py), ours and the previous main taking turns in rounds:
             throughput and latency, as deployed (answer cache on) and with every
             answer computed (cache off); filters drawn from a fixed random set of
             slicer and cross-filter combinations, each page view's six requests
  api        every /api/analytics endpoint, one request at a time, cache off
  oltp       the same visual computed straight from the PostgreSQL OLTP tables
  facts      the KPI query straight on the 10M-row DuckDB fact table (what the
             pre-aggregates save)
The previous main is another checkout with its own venv (``--previous DIR``, or
``$BENCH_PREVIOUS``; bench/contenders.py), served by its own code from a copy of
the same warehouse. Targets (2 cores): page <= 1.0 s; at 50 clients >= 500 req/s
and p95 <= 50 ms; api p95 <= 50 ms per endpoint and >= 10x faster than oltp.

    python -m bench.dashboard [--facts 10000000] [--previous DIR] [--page-loads 10]
        [--load-rounds 3] [--load-seconds 12] [--requests 200] [--oltp-runs 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.common import bench_stack, fresh_database, median_run, save_results
from bench.contenders import Contender, checkout_commit, serving
from bench.dashboard_data import (
    build_oltp,
    build_star,
    latency_stats,
    measure_facts,
    measure_oltp,
)
from bench.load import in_rounds
from bench.page_load import time_to_drawn

ENDPOINTS = {
    "kpis": {},
    "category-trend": {"grain": "month"},
    "segments": {},
    "regions": {},
    "states": {},
    "growth": {"grain": "quarter"},
}
TARGETS = {"page_ms": 1000, "req_per_s": 500, "load_p95_ms": 50, "api_p95_ms": 50, "speedup": 10}
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
            results[endpoint] = latency_stats(samples)
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
    return latency_stats(samples)


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--facts", type=int, default=10_000_000)
    p.add_argument(
        "--previous",
        type=Path,
        default=Path(os.environ["BENCH_PREVIOUS"]) if os.environ.get("BENCH_PREVIOUS") else None,
        help="checkout of the previous main, with its .venv (default: $BENCH_PREVIOUS; "
        "none: ours alone)",
    )
    p.add_argument("--page-loads", type=int, default=10, help="fresh /analytics loads each")
    p.add_argument("--load-rounds", type=int, default=3)
    p.add_argument("--load-seconds", type=float, default=12.0, help="each measured load run")
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--requests", type=int, default=200, help="API requests per endpoint")
    p.add_argument("--oltp-runs", type=int, default=3, help="OLTP queries per endpoint")
    return p.parse_args()


def _load_summary(runs: dict[str, list[dict]]) -> dict[str, Any]:
    """Per contender its median round (by req/s) and every round; ours / previous per round."""
    out: dict[str, Any] = {
        name: {"median": median_run(x, "req_per_s"), "rounds": x} for name, x in runs.items()
    }
    if "previous" in runs:
        pairs = list(zip(runs["ours"], runs["previous"], strict=True))
        out["ratio_req_per_s_by_round"] = [
            round(a["req_per_s"] / b["req_per_s"], 2) for a, b in pairs
        ]
        out["ratio_p95_by_round"] = [round(b["p95_ms"] / a["p95_ms"], 2) for a, b in pairs]
    return out


def main() -> None:
    args = _args()
    cases = filter_cases(60)
    contenders = [Contender.ours()]
    if args.previous:
        contenders.append(Contender.previous(args.previous))
    with (
        tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp,
        bench_stack(Path(tmp) / "stack") as settings,
    ):
        work = Path(tmp)
        star = work / "warehouse.duckdb"
        print(f"synthesising {args.facts:,} facts in DuckDB and {args.facts:,} lines in PostgreSQL")
        star_seconds = build_star(star, args.facts)
        pg = fresh_database(settings, "bench_dashboard")
        oltp_seconds = build_oltp(pg, args.facts)
        print(f"  star {star_seconds:.1f}s, oltp {oltp_seconds:.1f}s")
        dsn = pg.dsn  # each server opens it read-only itself
        paths = work / "paths.txt"
        paths.write_text("\n".join(analytics_paths(cases)))
        load: dict[str, Any] = {}
        with contextlib.ExitStack() as stack:  # as deployed: the answer cache on
            started = time.perf_counter()
            bases = {c.name: stack.enter_context(serving(c, star, dsn, work)) for c in contenders}
            ready_seconds = time.perf_counter() - started
            options = httpx.get(f"{bases['ours']}/api/analytics/options").json()
            print(f"  page  {args.page_loads} fresh loads each of {', '.join(bases)}")
            page = time_to_drawn({n: f"{b}/analytics" for n, b in bases.items()}, args.page_loads)
            for name, got in page.items():
                print(f"  page  {name:9} median {got['median_ms']} ms {got['drawn_ms']}")
            load["cached"] = _load_summary(
                in_rounds(bases, paths, work, args.load_rounds, args.load_seconds, args.concurrency)
            )
        with contextlib.ExitStack() as stack:  # every answer computed
            bases = {
                c.name: stack.enter_context(serving(c, star, dsn, work, cache=0))
                for c in contenders
            }
            load["computed"] = _load_summary(
                in_rounds(bases, paths, work, args.load_rounds, args.load_seconds, args.concurrency)
            )
            api_kpis = httpx.get(f"{bases['ours']}/api/analytics/kpis").json()["kpis"]
            api = measure_api(bases["ours"], cases, args.requests)
            page_api = measure_page(bases["ours"], cases, 50)
            print(f"  api   all visuals     {page_api}")
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
            "meets_targets": api[e]["p95_ms"] <= TARGETS["api_p95_ms"]
            and oltp[e]["p95_ms"] >= TARGETS["speedup"] * api[e]["p95_ms"],
        }
        for e in ENDPOINTS
    }
    ours = load["cached"]["ours"]["median"]
    verdicts = {
        "page_ms<=1000": page["ours"]["median_ms"] <= TARGETS["page_ms"],
        "req_per_s>=500": ours["req_per_s"] >= TARGETS["req_per_s"] and not ours["error_count"],
        "load_p95_ms<=50": ours["p95_ms"] <= TARGETS["load_p95_ms"],
        "api_and_oltp": same and all(row["meets_targets"] for row in table.values()),
    }
    save_results(
        "dashboard",
        {
            "command": " ".join(["python -m bench.dashboard", *sys.argv[1:]]),
            "facts": args.facts,
            "customers": 793 * 100,
            "filter_cases": len(cases),
            "previous": (
                {"path": str(args.previous), "commit": checkout_commit(args.previous)}
                if args.previous
                else None
            ),
            "ours_commit": checkout_commit(Contender.ours().root),
            "setup_seconds": {"star": round(star_seconds, 1), "oltp": round(oltp_seconds, 1)},
            "pre_aggregates": {
                "build_seconds": options["build_seconds"],
                "servers_ready_seconds": round(ready_seconds, 1),
                "facts_seen": options["facts"],
            },
            "page": page,
            "load": load,
            "load_config": {
                "concurrency": args.concurrency,
                "seconds": args.load_seconds,
                "rounds": args.load_rounds,
                "paths": len(cases) * len(ENDPOINTS),
            },
            "numbers_match_oltp": same,
            "endpoints": table,
            "page_all_visuals": page_api,
            "kpis_on_raw_facts_duckdb": facts,
            "api": api,
            "oltp": oltp,
            "targets": TARGETS,
            "verdicts": verdicts,
            "all_targets_met": all(verdicts.values()),
        },
    )


# -- reporting -------------------------------------------------------------------------
def _word(met: bool) -> str:
    return "met" if met else "**NOT met**"


def _ratio(a: float, b: float) -> str:
    return f"x{a / b:.2f}" if b else "-"


def _load_rows(r: dict) -> list[str]:
    rows = []
    for mode, label in (("cached", "as deployed (answer cache on)"), ("computed", "cache off")):
        got = r["load"][mode]
        for name in ("ours", "previous"):
            if name not in got:
                continue
            m = got[name]["median"]
            rounds = " / ".join(f"{x['req_per_s']:,.0f}" for x in got[name]["rounds"])
            rows.append(
                f"| {label}: {name} | {m['req_per_s']:,.0f} | {m['p50_ms']:.0f} | "
                f"{m['p95_ms']:.0f} | {m['p99_ms']:.0f} | {m['error_count']} | {rounds} |"
            )
        if "ratio_req_per_s_by_round" in got:
            ratios = " / ".join(f"x{x}" for x in got["ratio_req_per_s_by_round"])
            p95 = " / ".join(f"x{x}" for x in got["ratio_p95_by_round"])
            rows.append(f"| {label}: ours / previous | | | | | | req/s {ratios}; p95 {p95} |")
    return rows


def report_section(r: dict) -> str:
    """The markdown section of the combined benchmark report for one dashboard run."""
    page, t, v = r["page"], r["targets"], r["verdicts"]
    ours = r["load"]["cached"]["ours"]["median"]
    prev = r.get("previous")
    cfg = r["load_config"]
    out = [
        "## Dashboards: /analytics against the previous main, the API at 10M facts",
        "",
        f"`{r.get('command', 'python -m bench.dashboard')}` on {r.get('when', '?')}, "
        f"{r.get('machine', {}).get('cpus', '?')} CPUs; ours at `{r.get('ours_commit', '?')}`"
        + (f", the previous main at `{prev['commit']}` ({prev['path']})" if prev else "")
        + f"; {r['facts']:,} facts, {r['customers']:,} customers.",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
        f"| /analytics all visuals drawn <= {t['page_ms'] / 1000:.1f} s (median of "
        f"{page['ours']['loads']} fresh loads) | {page['ours']['median_ms']:,.0f} ms"
        + (
            f" (previous main {page['previous']['median_ms']:,.0f} ms, "
            f"{_ratio(page['previous']['median_ms'], page['ours']['median_ms'])} faster)"
            if "previous" in page
            else ""
        )
        + f" | {_word(v['page_ms<=1000'])} |",
        f"| {cfg['concurrency']} clients: >= {t['req_per_s']} req/s, no errors | "
        f"{ours['req_per_s']:,.0f} req/s, {ours['error_count']} errors | "
        f"{_word(v['req_per_s>=500'])} |",
        f"| {cfg['concurrency']} clients: p95 <= {t['load_p95_ms']} ms | {ours['p95_ms']:.0f} ms "
        f"| {_word(v['load_p95_ms<=50'])} |",
        f"| each endpoint alone p95 <= {t['api_p95_ms']} ms, >= {t['speedup']}x the OLTP "
        f"queries, same numbers | see below | {_word(v['api_and_oltp'])} |",
        "",
        "### Time to all visuals drawn (Chromium, 1400x1000)",
        "",
        "| page | median ms | min | max | each load | DOM ready (median) | last API answer |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, x in page.items():
        each = ", ".join(f"{d:,.0f}" for d in x["drawn_ms"])
        out.append(
            f"| {name} | {x['median_ms']:,.0f} | {x['min_ms']:,.0f} | {x['max_ms']:,.0f} | {each} "
            f"| {x['median_dom_content_loaded_ms']:,.0f} | {x['median_last_api_answer_ms']:,.0f} |"
        )
    marks = page["ours"].get("median_marks_ms") or {}
    if marks:
        out += ["", "Ours, the page's own marks (median ms): "
                + ", ".join(f"{k} {val:,.0f}" for k, val in marks.items()) + "."]  # fmt: skip
    out += [
        "",
        f"### The analytics API under {cfg['concurrency']} concurrent clients",
        "",
        f"{cfg['rounds']} rounds of {cfg['seconds']:g} s each (after 2 s not counted), "
        f"contenders taking turns; each row is the median round by req/s. Every client "
        f"cycles through {cfg['paths']} paths (a page view's six visuals for each filter "
        "case), gzip accepted as a browser does.",
        "",
        "| server | req/s | p50 ms | p95 ms | p99 ms | errors | req/s by round |",
        "|---|---|---|---|---|---|---|",
        *_load_rows(r),
        "",
        "### Each endpoint alone (cache off) against the same query on PostgreSQL OLTP",
        "",
        "| endpoint | api p50 | api p95 | oltp p50 | oltp p95 | speed-up p95 |",
        "|---|---|---|---|---|---|",
    ]
    for e, row in r["endpoints"].items():
        out.append(
            f"| {e} | {row['api_p50_ms']} | {row['api_p95_ms']} | {row['oltp_p50_ms']:,.0f} | "
            f"{row['oltp_p95_ms']:,.0f} | x{row['speedup_p95']} |"
        )
    pre = r["pre_aggregates"]
    out += [
        "",
        f"Numbers equal to the OLTP queries: {'yes' if r['numbers_match_oltp'] else '**no**'}. "
        f"Pre-aggregates built in {pre['build_seconds']} s from {pre['facts_seen']:,} facts; "
        f"the KPI query on the raw fact table takes {r['kpis_on_raw_facts_duckdb']['p50_ms']} "
        f"ms (p50). Data built in {r['setup_seconds']['star']} s (DuckDB) and "
        f"{r['setup_seconds']['oltp']} s (PostgreSQL).",
        "",
        "Method: bench/page_load.py (drawn = `data-state=ready` and every chart's ECharts "
        "`finished`, by a MutationObserver installed before the page's scripts; each load a "
        "new browser context; the servers' caches warmed by one load each, not counted), "
        "bench/load.py (the load client: its own process, plain asyncio HTTP/1.1 keep-alive, "
        "one connection per client; a request counts if sent and answered inside the "
        "window), bench/contenders.py (each version served by its own checkout and venv, "
        "from its own copy of the same warehouse file, through `web_config` + `serve`).",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    main()
