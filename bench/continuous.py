"""Continuous operation: how fresh every layer is under live traffic, and what the sync costs.

One bench stack, real processes, as deployed. Two phases:

A. **Live.** The data set is the history; `superstore run` at its defaults
   (ingest + dashboards + continuous sync) takes live traffic of ``--rate``
   lines/s dated today, plus a correction of a past day every second, for
   ``--seconds``. The same run with ``run --no-sync`` is the baseline; the two
   take turns for ``--rounds`` rounds (this machine's speed drifts by a third
   within minutes). Measured in each round:
   - /today freshness: produce() -> the first SSE snapshot counting the line
     (bench/freshness.py's method), p50/p99; target p99 <= 250 ms while the
     sync runs;
   - CPU seconds of the `run` process (its threads, DuckDB's included) and of
     PostgreSQL (every backend, exited ones too) over the measured window; the
     sync's cost is the difference between the two modes, as a share of one
     core (target <= 15 %);
   - with the sync, analytics freshness: produce() -> `/api/analytics/*`
     showing the change, for (a) a new line today, (b) a correction of a line
     two years back, (c) a cancellation, (d) a return; p50/p99 per kind
     (target p99 <= 10 s, moonshot 3 s).
B. **Resync.** A history of ``--history-lines`` (10M) lines, exported and
   loaded; then one line changed in each of 100 days; the time of the one
   sync pass that re-exports and reloads them.

    python -m bench.continuous [--rate 1000] [--seconds 90] [--rounds 2] [--probes 10]
        [--history-lines 10000000] [--skip-resync]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import random
import shlex
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench import common
from bench.analytics_probes import PROBE_KINDS, AnalyticsProbes
from bench.common import bench_stack, fresh_database, fresh_topic, produce_paced, save_results
from bench.freshness import (
    Proc,
    _free_port,
    _listening,
    _wait,
    measure,
    observe,
    read_events,
    summary,
    today_lines,
    transactions,
)
from bench.peers.measure import enable_commit_timestamps
from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import OrderLine, encode_line
from superstore.data import load_lines
from superstore.oltp import stale_days
from superstore.settings import Settings
from superstore.stack.state import read_state

TARGETS = {"today_p99_ms": 250.0, "analytics_p99_s": 10.0, "sync_core_share": 0.15}
_TICK = os.sysconf("SC_CLK_TCK")


# -- CPU of a process tree, from /proc -------------------------------------------------
def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int, with_children: bool = True) -> float:
    """CPU of a process (all its threads), plus its live children and the exited ones it reaped."""
    fields = _stat(pid)  # fields[11..14] = utime stime cutime cstime (after the comm)
    total = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    if with_children:
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError, IndexError):
                    child = _stat(int(entry))
                    if int(child[1]) == pid:  # ppid
                        total += int(child[11]) + int(child[12])
    return total / _TICK


def postgres_pid(settings: Settings) -> int:
    """The postmaster of the bench stack."""
    state = read_state(settings.data_dir)
    assert state and state.postgres and state.postgres.pid, "the bench stack runs PostgreSQL"
    return int(state.postgres.pid)


# -- one round ---------------------------------------------------------------------------
def _history(kafka: KafkaConfig) -> list[OrderLine]:
    lines = load_lines()
    producer = kafka.producer()
    records = [(x.order_id, (x.order_id, x.line_number), encode_line(x)) for x in lines]
    produce_paced(kafka, producer, records, rate=1e9)
    return lines


def _synced(pg: PgConfig, lake_url: str) -> bool:
    with contextlib.suppress(Exception), pg.connect(autocommit=True) as conn:
        return not stale_days(conn, lake_url)
    return False


@contextlib.contextmanager
def _corrections(kafka: KafkaConfig, history: list[OrderLine], every: float) -> Iterator[None]:
    """A correction of a random past line every `every` seconds, in a thread."""
    stop = threading.Event()
    rng = random.Random(7)
    producer = kafka.producer()

    def loop() -> None:
        while not stop.wait(every):
            line = rng.choice(history)
            fixed = line.model_copy(update={"sales": line.sales + Decimal("0.01")})
            producer.produce(kafka.topic, key=fixed.order_id, value=encode_line(fixed))
            producer.poll(0)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        producer.flush(10)


def live_round(args: argparse.Namespace, settings: Settings, work: Path, sync: bool) -> dict:
    """One round of phase A, with or without the continuous sync."""
    mode = "sync" if sync else "no-sync"
    kafka = fresh_topic(settings)
    pg = fresh_database(settings, f"bench_continuous_{mode.replace('-', '_')}")
    data_dir = work / mode
    zone = ZoneInfo(settings.timezone)
    day = dt.datetime.now(zone).date()
    warmup_n = max(100, int(args.rate * 3))
    paced_n = max(1, int(args.rate * args.seconds))
    records = today_lines(warmup_n + paced_n, day)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SUPERSTORE_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "SUPERSTORE_TOPIC": kafka.topic,
        "SUPERSTORE_DLQ_TOPIC": kafka.dlq_topic,
        "SUPERSTORE_PG_DSN": pg.dsn,
        "SUPERSTORE_TIMEZONE": settings.timezone,
        "SUPERSTORE_DATA_DIR": str(data_dir),
        "SUPERSTORE_WEB_PORT": str(port),
    }
    lake_url = str(data_dir / "lake")
    events_path = work / f"events-{mode}.txt"
    events_path.write_text("")
    ctx = multiprocessing.get_context("spawn")
    latest = ctx.Value("q", -1)
    print(f"[{mode}] history: the data set into a fresh topic")
    history = _history(kafka)
    argv = [sys.executable, "-m", "superstore", "run", "--metrics-port", "0"]
    procs: list[Proc] = []
    try:
        procs.append(Proc(f"run-{mode}", argv + ([] if sync else ["--no-sync"]), env, work))
        _wait("the dashboards", lambda: _listening(base), 120, procs, 0.2)
        if sync:
            _wait("the history synced", lambda: _synced(pg, lake_url), 600, procs, 0.5)
        client = ctx.Process(
            target=observe, args=(f"{base}/api/today/stream", str(events_path), latest)
        )
        client.start()
        probes = AnalyticsProbes(base, kafka, history, day) if sync and args.probes else None
        try:
            _wait("the first SSE snapshot", lambda: latest.value >= 0, 60, procs)
            producer = kafka.producer()
            produce_paced(kafka, producer, records[:warmup_n], args.rate)
            _wait("the warm-up in the API", lambda: latest.value >= warmup_n, 240, procs)
            if probes:
                probes.prepare(procs)
            run_pid, pg_pid = procs[0].proc.pid, postgres_pid(settings)
            cpu0, pg0, t0 = cpu_seconds(run_pid), cpu_seconds(pg_pid), time.monotonic()
            print(f"[{mode}] measuring: {paced_n:,} lines at {args.rate:,.0f}/s")
            with _corrections(kafka, history, 1.0), (probes.running(args.probes) if probes
                                                     else contextlib.nullcontext()):  # fmt: skip
                sent, achieved = produce_paced(kafka, producer, records[warmup_n:], args.rate)
            cpu1, pg1, t1 = cpu_seconds(run_pid), cpu_seconds(pg_pid), time.monotonic()
            total = warmup_n + paced_n
            with contextlib.suppress(RuntimeError):
                _wait("the last line in the API", lambda: latest.value >= total, 60, procs)
            for proc in procs:
                proc.check("during the run")
        finally:
            client.terminate()
            client.join(10)
    finally:
        for proc in reversed(procs):
            proc.stop()
    events = [ev for ev in read_events(events_path) if ev[3] == day.isoformat()]
    measured = measure(sent, transactions(pg, day), events)
    window = t1 - t0
    out = {
        "mode": mode,
        "achieved_rate": round(achieved, 1),
        "window_s": round(window, 2),
        "today_freshness_ms": measured["freshness_ms"],
        "today_lines_not_visible": measured["lines_not_visible"],
        "cpu_s": {"run": round(cpu1 - cpu0, 2), "postgres": round(pg1 - pg0, 2)},
        "cpu_core_share": {
            "run": round((cpu1 - cpu0) / window, 4),
            "postgres": round((pg1 - pg0) / window, 4),
        },
    }
    if probes:
        out["analytics_freshness_s"] = probes.results()
    return out


# -- phase B: resync -----------------------------------------------------------------------
def resync(settings: Settings, work: Path, history_lines: int) -> dict:
    """One sync pass over 100 days changed in a `history_lines` history (exported and loaded)."""
    from bench.dashboard_data import build_oltp
    from superstore.etl import engine_config, run_etl
    from superstore.export import export_days
    from superstore.oltp import Batch, StagedLine, order_dates, write_batch
    from superstore.ops.sync import Syncer
    from superstore.settings import load_settings
    from superstore.storage import LakeConfig
    from superstore.warehouse import warehouse_config

    pg = fresh_database(settings, "bench_resync")
    print(f"[resync] building a {history_lines:,}-line OLTP history")
    built = build_oltp(pg, history_lines)
    local = load_settings(
        data_dir=work / "resync", pg_dsn=pg.dsn, kafka_bootstrap="127.0.0.1:1",
        timezone=settings.timezone,
    )  # fmt: skip
    lake = LakeConfig.from_settings(local)
    started = time.monotonic()
    with pg.connect(autocommit=True) as conn:
        days = order_dates(conn)
    export_days(pg, lake, days)
    exported = time.monotonic() - started
    started = time.monotonic()
    with engine_config(local, lake=lake).open() as engine, warehouse_config(local).open() as wh:
        run_etl(lake, engine, wh, days)
    loaded = time.monotonic() - started
    print(f"[resync] exported {len(days):,} days in {exported:.0f}s, loaded in {loaded:.0f}s")
    rng = random.Random(3)
    changed = sorted(rng.sample(days, 100))
    with pg.connect(autocommit=True) as conn:
        picked = [
            conn.execute(
                "SELECT l.order_id, l.line_number FROM orders o JOIN order_lines l USING "
                "(order_id) WHERE o.order_date = %s ORDER BY 1, 2 LIMIT 1",
                [day],
            ).fetchone()
            for day in changed
        ]
    lines = _stored_lines(pg, [p for p in picked if p])
    batch = Batch(
        lines=[
            StagedLine.from_line(x.model_copy(update={"sales": x.sales + 1}), "bench", 0, i)
            for i, x in enumerate(lines)
        ]
    )
    with pg.connect(autocommit=True) as conn:
        write_batch(conn, "bench-resync", batch)
    syncer = Syncer(local)
    with pg.connect(autocommit=True) as conn:
        stale = len(stale_days(conn, lake.url))
    started = time.monotonic()
    result = syncer.sync_once(include_hot=True)
    seconds = time.monotonic() - started
    print(f"[resync] {stale} stale days re-exported and reloaded in {seconds:.1f}s")
    return {
        "history_lines": history_lines,
        "history_days": len(days),
        "build_s": round(built, 1),
        "first_export_s": round(exported, 1),
        "first_load_s": round(loaded, 1),
        "stale_days": stale,
        "exported_days": len(result.exported),
        "loaded_days": len(result.loaded),
        "resync_s": round(seconds, 2),
    }


def _stored_lines(pg: PgConfig, keys: list[tuple[str, int]]) -> list[OrderLine]:
    """The stored lines of `keys`, as OrderLine models (to write a correction of each)."""
    from superstore.oltp import read_lines

    with pg.connect(autocommit=True) as conn:
        return read_lines(conn, keys)


# -- the run ---------------------------------------------------------------------------------
def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rate", type=float, default=1000.0, help="live lines/s dated today")
    p.add_argument("--seconds", type=float, default=90.0, help="measured window per round")
    p.add_argument("--rounds", type=int, default=2, help="rounds of (sync, no-sync)")
    p.add_argument("--probes", type=int, default=10, help="at most, per kind per round")
    p.add_argument("--history-lines", type=int, default=10_000_000, help="resync history size")
    p.add_argument("--skip-resync", action="store_true", help="phase A only")
    p.add_argument("--skip-live", action="store_true", help="phase B only")
    p.add_argument(
        "--work",
        type=Path,
        default=None,
        help="keep the processes' logs here (default: a temp dir)",
    )
    return p.parse_args(argv)


def aggregate(rounds: list[dict]) -> dict[str, Any]:
    """Both modes over every round: freshness percentiles and the sync's CPU share."""
    by_mode = {m: [r for r in rounds if r["mode"] == m] for m in ("sync", "no-sync")}
    share = []
    for sync, base in zip(by_mode["sync"], by_mode["no-sync"], strict=False):
        run = sync["cpu_core_share"]["run"] - base["cpu_core_share"]["run"]
        both = run + sync["cpu_core_share"]["postgres"] - base["cpu_core_share"]["postgres"]
        share.append({"run": round(run, 4), "run_and_postgres": round(both, 4)})
    kinds: dict[str, list[float]] = {k: [] for k in PROBE_KINDS}
    for r in by_mode["sync"]:
        for kind, seconds in r.get("analytics_freshness_s", {}).get("samples", {}).items():
            kinds[kind] += seconds
    return {
        "sync_core_share_by_round": share,
        "sync_core_share": max((s["run_and_postgres"] for s in share), default=None),
        "today_p99_ms": {
            m: [r["today_freshness_ms"]["p99"] for r in rs] for m, rs in by_mode.items()
        },
        "analytics_freshness_s": {
            kind: summary([s * 1000 for s in values]) for kind, values in kinds.items()
        },
    }


def main(argv: list[str] | None = None) -> dict:
    args = _args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = " ".join(["python -m bench.continuous", shlex.join(argv or sys.argv[1:])]).strip()
    started = time.monotonic()
    results: dict[str, Any] = {"command": command, "config": vars(args)}
    with (
        (
            contextlib.nullcontext(str(args.work))
            if args.work
            else tempfile.TemporaryDirectory(prefix="bench-continuous-")
        ) as tmp,
        bench_stack(Path(tmp) / "stack") as settings,
    ):
        enable_commit_timestamps(settings)
        if not args.skip_live:
            rounds = []
            for i in range(args.rounds):
                order = (True, False) if i % 2 == 0 else (False, True)
                for sync in order:
                    work = Path(tmp) / f"round-{i}"
                    work.mkdir(exist_ok=True)
                    rounds.append({"round": i + 1, **live_round(args, settings, work, sync)})
                    print(json.dumps(rounds[-1], default=str))
            results["rounds"] = rounds
            results["live"] = aggregate(rounds)
        if not args.skip_resync:
            results["resync"] = resync(settings, Path(tmp), args.history_lines)
    results["targets"] = verdicts(results)
    results["wall_seconds"] = round(time.monotonic() - started)
    saved = save_results("continuous", results)
    return json.loads(saved.read_text())


def verdicts(results: dict) -> dict[str, bool | None]:
    live = results.get("live") or {}
    today = (live.get("today_p99_ms") or {}).get("sync") or []
    analytics = live.get("analytics_freshness_s") or {}
    share = live.get("sync_core_share")
    p99s = [(v or {}).get("p99") for v in analytics.values()]

    def every(values: list[Any], limit: float) -> bool | None:
        return all(v is not None and v <= limit for v in values) if values else None

    return {
        "today_p99_ms<=250_with_sync": every(today, TARGETS["today_p99_ms"]),
        "analytics_p99_s<=10_each_kind": every(p99s, TARGETS["analytics_p99_s"] * 1000),
        "sync_core_share<=15%": None if share is None else share <= TARGETS["sync_core_share"],
    }


# -- reporting ---------------------------------------------------------------------------
def _ms(value: float | None, scale: float = 1.0, unit: str = "ms") -> str:
    return (
        "-"
        if value is None
        else f"{value * scale:,.0f} {unit}"
        if unit == "ms"
        else (f"{value * scale:,.1f} {unit}")
    )


def report_section(results: dict) -> str:
    """Markdown for docs/benchmarks: freshness per change kind, the sync's cost, resync."""
    out = ["# Continuous operation: freshness of every layer, and the sync's cost", ""]
    live = results.get("live")
    if live:
        out += [
            "Analytics freshness: `produce()` -> `/api/analytics/kpis` showing the change, "
            f"with `superstore run` at its defaults and {results['config']['rate']:,.0f} "
            "live lines/s (target p99 <= 10 s, moonshot 3 s).",
            "",
            "| change | probes | p50 | p99 | max |",
            "|---|---|---|---|---|",
        ]
        for kind, s in live["analytics_freshness_s"].items():
            count = sum(
                len(r.get("analytics_freshness_s", {}).get("samples", {}).get(kind, []))
                for r in results.get("rounds", [])
            )
            out.append(
                f"| {kind} | {count} | {_ms(s['p50'], 0.001, 's')} | "
                f"{_ms(s['p99'], 0.001, 's')} | {_ms(s['max'], 0.001, 's')} |"
            )
        out += ["", "Per round, the sync against `run --no-sync` on the same traffic:", ""]
        out += ["| round | mode | /today p50 | /today p99 | run CPU (core share) |"
                " PostgreSQL CPU (core share) |", "|---|---|---|---|---|---|"]  # fmt: skip
        for r in results.get("rounds", []):
            f = r["today_freshness_ms"]
            share = r["cpu_core_share"]
            out.append(
                f"| {r['round']} | {r['mode']} | {_ms(f['p50'])} | {_ms(f['p99'])} | "
                f"{share['run']:.1%} | {share['postgres']:.1%} |"
            )
        shares = live["sync_core_share_by_round"]
        out += [
            "",
            "The sync's cost = (run + PostgreSQL CPU with the sync) - (the same without), "
            "as a share of one core, per round: "
            + ", ".join(f"{s['run_and_postgres']:.1%}" for s in shares)
            + " (target <= 15%).",
        ]
    resync = results.get("resync")
    if resync:
        out += [
            "",
            f"Resync: {resync['stale_days']} stale days of a {resync['history_lines']:,}-line "
            f"history ({resync['history_days']:,} days) re-exported and reloaded in one pass: "
            f"**{resync['resync_s']:.1f} s** (the first export of every day took "
            f"{resync['first_export_s']:.0f} s, the first load {resync['first_load_s']:.0f} s).",
        ]
    out += ["", "Targets: " + ", ".join(f"{k}: {v}" for k, v in results["targets"].items())]
    return "\n".join(out)


if __name__ == "__main__":
    common.RESULTS.mkdir(exist_ok=True)
    main()
