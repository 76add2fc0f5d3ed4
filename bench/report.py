"""The combined benchmark report: docs/benchmarks/README.md and its plots, from ONE run.

    python -m bench.report [--results bench/results] [--out docs/benchmarks]

Reads bench/results/run_all.json (written by run_all.py: steps, wall times,
load, machine, versions, commit) and each step's bench/results/<name>.json.
A results file counts only if it was written while its step ran (its `when`
and its modification time fall inside the step's start and end): anything
else is from another run and is refused as stale, so every number in the
report comes from this one run. Sections: a benchmark module's
`report_section(results) -> str` when it has one, the peers' own markdown
writer (bench/peers/report.py) for ingest_peers, else rendered here.
Plots (matplotlib, Agg) go beside the report; without matplotlib the report
says so and is written without them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.failover_stall import NAME as STALL
from bench.failover_stall import report_section as stall_section
from bench.peers.report import markdown as peers_markdown

__all__ = ["Loaded", "Target", "build", "load", "main", "targets"]

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SLACK_S = 2.0  # `when` has whole seconds
TITLES = {
    "ingest": "Ingest: ours vs the COPY ceiling vs a naive consumer",
    "ingest_peers": "Ingest peers: Kafka Connect, Spark Structured Streaming, naive",
    "etl": "ETL: DuckDB vs Spark, local and standalone cluster",
    "freshness": "Freshness: produce -> /today API",
    "continuous": "Continuous operation: freshness of every layer, and the sync's cost",
    "dashboard": "Dashboards: /analytics against the previous main, the API at 10M facts",
    "replication": "Replication: 3 brokers and RF=3 against 1 broker and RF=1",
}


@dataclass(frozen=True)
class Loaded:
    """One step's results as this run left them."""

    name: str
    step: dict | None  # its record in run_all.json; None = not run in this run
    results: dict | None  # None unless fresh (written during this run)
    state: str  # ok | failed | stale | missing | not run
    note: str = ""


@dataclass(frozen=True)
class Target:
    issue: int
    goal: str
    measured: str
    met: bool | None  # None = not measured in this run

    @property
    def verdict(self) -> str:
        return {True: "met", False: "**NOT met**", None: "not measured"}[self.met]


# -- loading ---------------------------------------------------------------
def _when(results: dict) -> float | None:
    try:
        return dt.datetime.strptime(results["when"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except (KeyError, TypeError, ValueError):
        return None


def _load_one(results_dir: Path, name: str, step: dict | None) -> Loaded:
    path = results_dir / f"{name}.json"
    if step is None:
        return Loaded(name, None, None, "not run", "not part of this run (`--only`)")
    failed = step["status"] != "ok"
    why = f"step {step['status']}: {step.get('error') or 'see ' + step['log']}"
    if not path.exists():
        return Loaded(name, step, None, "failed" if failed else "missing", why if failed else "")
    try:
        results = json.loads(path.read_text())
    except ValueError as exc:
        return Loaded(name, step, None, "failed", f"{path.name} unreadable: {exc}")
    lo, hi = step["started_epoch"] - SLACK_S, step["finished_epoch"] + SLACK_S
    when, mtime = _when(results), path.stat().st_mtime
    if not lo <= mtime <= hi or (when is not None and not lo <= when <= hi):
        stamp = results.get("when", dt.datetime.fromtimestamp(mtime, dt.UTC).isoformat())
        note = f"{path.name} is from {stamp}, not from this run's step; refused"
        return Loaded(name, step, None, "stale", f"{why}; {note}" if failed else note)
    return Loaded(name, step, results, "failed" if failed else "ok", why if failed else "")


def load(results_dir: Path) -> tuple[dict, dict[str, Loaded]]:
    """The run record and every step's fresh results (stale or missing ones refused)."""
    run = json.loads((results_dir / "run_all.json").read_text())
    steps = {s["name"]: s for s in run["steps"]}
    names = run.get("all_steps") or list(steps)
    return run, {n: _load_one(results_dir, n, steps.get(n)) for n in names}


# -- targets ----------------------------------------------------------------
def _n(value: object) -> str:
    return f"{value:,}" if isinstance(value, int | float) else "-"


def _ceiling(r: dict) -> dict:
    """The ingest results' ceiling (results before the multi-session one had a single run)."""
    return r.get("ceiling") or r["ceiling_copy_upsert_no_kafka"]


def _ingest_targets(r: dict | None) -> list[Target]:
    goals = (
        "ours >= 50,000 lines/s (1M lines, 2 cores)",
        "ours >= 0.8x the true ceiling (best of 1-3 sessions, no Kafka)",
        "ours >= 20x the naive per-message consumer",
    )
    if not r:
        return [Target(4, g, "-", None) for g in goals]
    ours = r["ours"]["lines_per_s"]
    best = _ceiling(r)
    ceiling = best["lines_per_s"]
    naive = r["naive_per_message"]["lines_per_s"]
    sessions = best.get("sessions", 1)
    return [
        Target(4, goals[0], f"{ours:,} lines/s", ours >= 50_000),
        Target(
            20,
            goals[1],
            f"x{ours / ceiling:.2f} ({ceiling:,} lines/s, {sessions} session(s))",
            ours / ceiling >= 0.8,
        ),
        Target(4, goals[2], f"x{ours / naive:.1f} ({naive:,} lines/s)", ours / naive >= 20),
    ]


def _replication_target(r: dict | None) -> Target:
    goal = "ingest with 3 brokers, RF=3 >= 0.7x 1 broker, RF=1 (same 1M lines)"
    if not r:
        return Target(20, goal, "-", None)
    ratio = r["ratio_rf3_vs_rf1"]
    return Target(20, goal, f"x{ratio} ({r['rf3']['lines_per_s']:,} lines/s)", ratio >= 0.7)


def _peer_targets(r: dict | None) -> list[Target]:
    goals = (
        "ours >= 3x the Kafka Connect JDBC sink's throughput",
        "ours: 0 lost / 0 doubled after kill -9",
    )
    peers = (r or {}).get("peers", {})
    ours, connect = peers.get("ours", {}), peers.get("connect", {})
    out = [Target(9, goals[0], "-", None), Target(9, goals[1], "-", None)]
    a, b = ours.get("throughput"), connect.get("throughput")
    if a and b:
        steady = bool(a["lines_per_s"] and b["lines_per_s"])
        kind = "lines_per_s" if steady else "lines_per_s_from_start"
        ratio = a[kind] / b[kind]
        label = "steady" if steady else "from start"
        shown = f"x{ratio:.2f} ({a[kind]:,} vs {b[kind]:,} lines/s, {label})"
        out[0] = Target(9, goals[0], shown, ratio >= 3)
    kill = ours.get("kill9")
    if kill:
        exact = "sales sum exact" if kill["sales_exact"] else f"sales off by {kill['sales_diff']}"
        shown = f"{kill['lost']:,} lost / {kill['doubled']:,} doubled of {kill['lines']:,}; {exact}"
        clean = kill["lost"] == 0 and kill["doubled"] == 0 and kill["sales_exact"]
        out[1] = Target(9, goals[1], shown, clean)
    return out


def _freshness_target(r: dict | None) -> Target:
    r = r or {}
    viewers = r.get("viewers")
    goal = "freshness p99 <= 250 ms (produce -> /today API at 1k lines/s)"
    if viewers:
        goal = f"freshness p99 <= 250 ms (produce -> each of {viewers} /today viewers, 1k lines/s)"
    fresh = r.get("every_viewer_ms") or r.get("freshness_ms") or {}
    if fresh.get("p99") is None:
        return Target(9, goal, "-", None)
    missing = r.get("lines_not_visible", 0) + r.get("lines_not_visible_to_every_viewer", 0)
    dropped = r.get("viewers_dropped", 0)
    shown = f"p99 {fresh['p99']:,.0f} ms (p50 {fresh['p50']:,.0f} ms)"
    shown += f", {missing:,} lines never shown" if missing else ""
    shown += f", {dropped:,} viewers dropped" if dropped else ""
    return Target(9, goal, shown, fresh["p99"] <= 250 and not missing and not dropped)


def _bar_target(run: dict) -> Target:
    cores = run["machine"]["cores"]
    goal = f"`make bench` in under {run['bar_s'] // 60} minutes on 2 cores"
    shown = f"{run['wall_s'] / 60:.1f} min on {cores} cores"
    if run["quick"] or set(run["only"]) != set(run["all_steps"]):
        return Target(9, goal, shown + " (partial or quick run: does not count)", None)
    return Target(9, goal, shown, run["wall_s"] < run["bar_s"])


def targets(run: dict, loaded: dict[str, Loaded]) -> list[Target]:
    """Every benchmark target, judged on this run's numbers only."""
    got = {n: x.results for n, x in loaded.items()}
    return [
        *_ingest_targets(got.get("ingest")),
        *_peer_targets(got.get("ingest_peers")),
        _freshness_target(got.get("freshness")),
        _replication_target(got.get("replication")),
        _bar_target(run),
    ]


# -- sections ----------------------------------------------------------------
def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]


def _nest(markdown: str, fallback_title: str) -> list[str]:
    """A module's markdown as one `##` section: its first heading is the title, others nest."""
    lines = markdown.strip("\n").splitlines()
    title = fallback_title
    if lines and lines[0].startswith("#"):
        title, lines = lines[0].lstrip("#").strip(), lines[1:]
    levels = [len(x) - len(x.lstrip("#")) for x in lines if re.match(r"#+ ", x)]
    shift = 3 - min(levels) if levels else 0
    return [f"## {title}", *(("#" * shift + x) if re.match(r"#+ ", x) else x for x in lines)]


def _module(name: str, where: Path) -> ModuleType | None:
    """bench/<name>.py imported for its report_section (None when it has no such file)."""
    path = where / f"{name}.py"
    if not path.exists():
        return None
    # By path: `where` is bench/ itself, or a directory of stand-ins (tests); the scripts
    # import their siblings as `bench.*`, found from the repository root.
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ingest_section(r: dict) -> str:
    by_workers = r.get("ours_by_workers") or [r["ours"]]
    runs = [
        (
            f"ours: `superstore ingest --workers {x.get('workers', 1)}`",
            x,
            "x1" if x is by_workers[-1] else f"x{x['lines_per_s'] / r['ours']['lines_per_s']:.2f}",
        )
        for x in by_workers
    ]
    ceilings = r.get("ceiling_by_sessions") or [_ceiling(r)]
    ours_rate = r["ours"]["lines_per_s"]
    rows = [
        [label, _n(x["lines"]), f"{x['seconds']:,.1f}", _n(x["lines_per_s"]), ratio]
        for label, x, ratio in (
            *runs,
            *(
                (
                    f"ceiling: {c.get('sessions', 1)} session(s), no Kafka, no validation",
                    c,
                    f"ours x{ours_rate / c['lines_per_s']:.2f}",
                )
                for c in ceilings
            ),
            (
                "naive per-message consumer (sample)",
                r["naive_per_message"],
                f"ours x{r['ratio_vs_naive']}",
            ),
        )
    ]
    produce = r.get("produce", {})
    lines = [
        f"# {TITLES['ingest']}",
        "",
        *_table(["run", "lines", "seconds", "lines/s", "ratio"], rows),
        "",
        f"{r['lines']:,} lines, batch size {r['batch_size']:,}; produced at "
        f"{_n(produce.get('lines_per_s'))} lines/s before the runs into a "
        f"{r.get('partitions', 3)}-partition topic. Ours is the last row of `ours` (the "
        "targets use it); each is measured from launching the command (process start and "
        "group join included) to its last commit.",
    ]
    rounds = r.get("rounds")
    if rounds:
        each = "; ".join(
            f"{name.replace('_', ' ')} " + " / ".join(_n(x["lines_per_s"]) for x in runs)
            for name, runs in rounds.items()
        )
        lines += [
            "",
            f"Ours and the ceiling ran in {len(next(iter(rounds.values())))} rounds, taking "
            "turns; each "
            f"row above is the median round. Lines/s by round: {each}. Ours / ceiling by "
            "round: " + ", ".join(f"x{x}" for x in r["ratio_vs_ceiling_by_round"]) + ".",
        ]
    return "\n".join(lines)


def _peers_section(r: dict, where: Path) -> str:
    # the peers' own writer: same tables as ingest_peers.md
    text = peers_markdown(r, r.get("command", "python -m bench.ingest_peers"), "")
    text = re.sub(r"\n+Generated by .*?\n", "\n", text, count=1)  # the run header says it
    return text


def _etl_points(r: dict) -> list[tuple[str, int, float]]:
    """(engine, lines, seconds) of every backfill in an etl.json (`runs`: size -> engine -> run)."""
    return [
        (engine, int(size), run["seconds"])
        for size, by_engine in r.get("runs", {}).items()
        for engine, run in by_engine.items()
        if isinstance(run, dict) and "seconds" in run
    ]


def _etl_section(r: dict) -> str:
    rows = [[e, _n(n), f"{s:,.1f}", _n(round(n / s)) if s else "-"] for e, n, s in _etl_points(r)]
    inc = r.get("increment")
    lines = [f"# {TITLES['etl']}", "", *_table(["backfill", "lines", "seconds", "lines/s"], rows)]
    if inc:
        lines += ["", f"Daily increment: {inc['lines']:,} lines in {inc['seconds']} s."]
    return "\n".join(lines)


def _freshness_section(r: dict) -> str:
    f = r["freshness_ms"]
    rows = [
        [k, f"{f[k]:,.0f}" if f.get(k) is not None else "-"] for k in ("p50", "p95", "p99", "max")
    ]
    return "\n".join([f"# {TITLES['freshness']}", "", *_table(["freshness", "ms"], rows)])


RENDER: dict[str, Callable[[dict], str]] = {
    "ingest": _ingest_section,
    "etl": _etl_section,
    "freshness": _freshness_section,
}


def section(x: Loaded, where: Path) -> list[str]:
    """One benchmark's section: its own writer if it has one, else ours; states first."""
    head = f"## {TITLES.get(x.name, x.name)}"
    if x.results is None:
        return [head, "", f"**No results from this run: {x.state}.** {x.note}".rstrip(), ""]
    notes = (
        [f"**This step {x.step['status']}** ({x.note}); shown: what it saved.", ""]
        if (x.state == "failed")
        else []
    )
    try:
        if x.name == "ingest_peers":
            text = _peers_section(x.results, where)
        else:
            module = _module(x.name, where)
            writer = getattr(module, "report_section", None)
            text = writer(x.results) if writer else RENDER[x.name](x.results)
    except Exception as exc:  # a section must not sink the report; say what happened
        text = (
            f"# {TITLES.get(x.name, x.name)}\n\nSection not rendered: `{type(exc).__name__}: {exc}`"
        )
    title, *body = _nest(text, TITLES.get(x.name, x.name))
    while body and not body[0].strip():
        body.pop(0)
    return [title, "", *notes, *body, ""]


# -- plots -------------------------------------------------------------------
def _bars(
    ax: Any, labels: list[str], series: dict[str, list[float]], unit: str, log: bool = False
) -> None:
    """Grouped bars with their values written on them; `log` for values of different scales."""
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(labels))]
        shown = [v if v else float("nan") for v in values]  # nothing measured: no bar
        bars = ax.bar(xs, shown, width, label=name)
        ax.bar_label(bars, labels=[f"{v:,.0f}" if v else "" for v in values], fontsize=7)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel(f"{unit} (log scale)" if log else unit)
    if log:
        from matplotlib.ticker import FuncFormatter, NullFormatter

        low = min(v for values in series.values() for v in values if v)
        ax.set_yscale("log")
        ax.set_ylim(bottom=low / 4)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    if len(series) > 1:
        ax.legend(fontsize=8)


def _peer_plots(r: dict, plt: Any, out: Path) -> list[str]:
    done = []
    peers = [p for p in r["peers"].values() if p.get("throughput")]
    if peers:
        fig, ax = plt.subplots(figsize=(8, 4))
        _bars(
            ax,
            [p["label"].split(" (")[0] for p in peers],
            {
                "steady": [p["throughput"]["lines_per_s"] or 0 for p in peers],
                "from start": [p["throughput"]["lines_per_s_from_start"] for p in peers],
            },
            "lines/s",
        )
        ax.set_title("Ingest throughput per peer (Kafka -> PostgreSQL)")
        done.append(_save(fig, plt, out, "peers_throughput.png"))
    timed = [p for p in r["peers"].values() if (p.get("latency") or {}).get("p50_ms")]
    if timed:
        fig, ax = plt.subplots(figsize=(8, 4))
        labels = [p["label"].split(" (")[0] for p in timed]
        _bars(
            ax,
            labels,
            {k: [p["latency"][f"{k}_ms"] for p in timed] for k in ("p50", "p99")},
            "ms",
            log=True,
        )
        ax.set_title(f"End-to-end latency at {timed[0]['latency']['rate']:,.0f} lines/s")
        done.append(_save(fig, plt, out, "peers_latency.png"))
    runs = (r.get("scale_out") or {}).get("runs") or []
    if runs:
        fig, ax = plt.subplots(figsize=(6, 4))
        procs = [x["processes"] for x in runs]
        for key, label in (("lines_per_s", "steady"), ("lines_per_s_from_start", "from start")):
            ax.plot(procs, [x[key] or 0 for x in runs], marker="o", label=label)
        base = runs[0]["lines_per_s"] or runs[0]["lines_per_s_from_start"]
        ax.plot(procs, [base * n / procs[0] for n in procs], ls=":", c="grey", label="linear")
        ax.set(
            xlabel="ingest processes (one consumer group, 6 partitions)",
            ylabel="lines/s",
            xticks=procs,
            title="Scale-out of ours",
        )
        ax.legend(fontsize=8)
        done.append(_save(fig, plt, out, "peers_scaleout.png"))
    return done


def _ingest_plot(r: dict, plt: Any, out: Path) -> list[str]:
    fig, ax = plt.subplots(figsize=(6, 4))
    runs = {
        "ours": r["ours"],
        "ceiling (no Kafka)": _ceiling(r),
        "naive": r["naive_per_message"],
    }
    _bars(ax, list(runs), {"lines/s": [x["lines_per_s"] for x in runs.values()]}, "lines/s")
    ax.axhline(50_000, ls="--", c="red", lw=1, label="target 50,000")
    ax.legend(fontsize=8)
    ax.set_title(f"Ingest: {r['lines']:,} lines Kafka -> PostgreSQL")
    return [_save(fig, plt, out, "ingest_throughput.png")]


def _etl_plot(r: dict, plt: Any, out: Path) -> list[str]:
    points = _etl_points(r)
    if not points:
        return []
    sizes = sorted({n for _, n, _ in points})
    engines = list(dict.fromkeys(e for e, _, _ in points))
    seconds = {(e, n): s for e, n, s in points}
    fig, ax = plt.subplots(figsize=(7, 4))
    _bars(
        ax,
        [f"{n:,} lines" for n in sizes],
        {e: [seconds.get((e, n), 0) for n in sizes] for e in engines},
        "seconds",
        log=True,
    )
    ax.set_title("ETL backfill: lake -> star schema")
    return [_save(fig, plt, out, "etl_seconds.png")]


def _freshness_plot(r: dict, plt: Any, out: Path) -> list[str]:
    f = r.get("freshness_ms") or {}
    samples = sorted(r.get("freshness_samples_ms") or [])
    if f.get("p99") is None and not samples:
        return []
    fig, ax = plt.subplots(figsize=(6, 4))
    if samples:  # the whole distribution when the script kept it
        ax.plot(samples, [(i + 1) / len(samples) for i in range(len(samples))], label="lines")
    points = [(f[k], q) for k, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))]
    ax.plot(
        *zip(*points, strict=True), marker="o", ls="-" if not samples else "", label="percentiles"
    )
    for x, q in points:
        ax.annotate(f"{x:,.0f} ms", (x, q), fontsize=7, xytext=(4, -10), textcoords="offset points")
    ax.axvline(250, ls="--", c="red", lw=1, label="target p99 250 ms")
    ax.set(
        xlabel="produce() -> line visible in /today API (ms)",
        ylabel="share of lines",
        title="Freshness (cumulative)",
        ylim=(0, 1.05),
    )
    ax.legend(fontsize=8)
    return [_save(fig, plt, out, "freshness_cdf.png")]


def _save(fig: Any, plt: Any, out: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


PLOTS: dict[str, Callable[[dict, Any, Path], list[str]]] = {
    "ingest": _ingest_plot,
    "ingest_peers": _peer_plots,
    "etl": _etl_plot,
    "freshness": _freshness_plot,
}


def plots(loaded: dict[str, Loaded], out: Path) -> tuple[dict[str, list[str]], str]:
    """PNG files per section (none for results not from this run), and a note if any failed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}, "No plots: matplotlib is not installed (`pip install 'superstore[bench]'`)."
    made, errors = {}, []
    for name, x in loaded.items():
        if x.results is not None and name in PLOTS:
            try:
                made[name] = PLOTS[name](x.results, plt, out)
            except Exception as exc:  # a plot must not sink the report
                errors.append(f"{name}: {type(exc).__name__}: {exc}")
                plt.close("all")
    return made, ("Plots not drawn: " + "; ".join(errors)) if errors else ""


# -- the page ----------------------------------------------------------------
def _sizes(x: Loaded) -> str:
    r = x.results or {}
    if x.name == "ingest_peers" and "method" in r:
        return ", ".join(f"{k} {_n(v)}" for k, v in r["method"]["sizes"].items())
    if x.name == "etl" and "sizes" in r:
        sizes = " and ".join(f"{n:,}" for n in r["sizes"])
        return f"lakes of {sizes} lines, increment {_n(r.get('increment_lines'))} lines"
    if x.name == "freshness" and "config" in r:
        c = r["config"]
        return f"{c['rate']:,.0f} lines/s for {c['seconds']:g} s ({_n(r['lines_produced'])} lines)"
    found = {k: v for k, v in r.items() if "lines" in k and isinstance(v, int)}
    return ", ".join(f"{k} {v:,}" for k, v in found.items()) or "see the command"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _kill_rows(r: dict) -> list[list[str]]:
    out = []
    for p in r["peers"].values():
        k = p.get("kill9")
        if not k:
            out.append([p["label"], "not measured: " + p.get("errors", {}).get("kill9", "")[:80]])
            continue
        out.append(
            [
                p["label"],
                f"{k['lines']:,}",
                f"{k['visible_at_kill']:,}",
                f"{k['lost']:,}",
                f"{k['doubled']:,}",
                f"{k['lines_applied_twice_or_more']:,}",
                "yes" if k["sales_exact"] else f"no ({k['sales_diff']})",
            ]
        )
    return out


def document(
    run: dict,
    loaded: dict[str, Loaded],
    pics: dict[str, list[str]],
    note: str,
    where: Path,
    stall: dict | None = None,
) -> str:
    """The whole markdown page; `stall`, the failover suite's results, goes last, dated."""
    m, v = run["machine"], run["versions"]
    commit = run["commit"][:12] + (
        " plus uncommitted changes" if run["uncommitted_changes"] else ""
    )
    refused = [f"`{x.name}` ({x.note})" for x in loaded.values() if x.state == "stale"]
    out = ["# Benchmarks", ""]
    if run["quick"]:
        out += [
            "> **Quick smoke run (`--quick`)**: tiny sizes that prove the chain works; these "
            "numbers are not benchmark results.",
            "",
        ]
    out += [
        f"Written by `bench/report.py` from ONE run of `{run['command']}`, "
        f"{run['started']} to {run['finished']} ({_minutes(run['wall_s'])}), commit "
        f"`{commit}`. **Every number on this page comes from that run**: a results file is "
        "used only if it was written while its step ran. "
        + ("Refused as stale: " + "; ".join(refused) + "." if refused else "No file was stale.")
        + (
            " The one exception is the last section, *Failover stall*: measured by "
            "`make test-failover`, dated per scenario."
            if stall
            else ""
        ),
        "",
        "## Summary: the targets",
        "",
        *_table(
            ["issue", "target", "measured in this run", "verdict"],
            [[f"#{t.issue}", t.goal, t.measured, t.verdict] for t in targets(run, loaded)],
        ),
        "",
    ]
    peers = loaded.get("ingest_peers")
    if peers and peers.results and peers.results.get("peers"):
        out += [
            "kill -9 outcome of every peer, as measured:",
            "",
            *_table(
                ["peer", "lines", "killed at", "lost", "doubled", "re-applied", "sales sum exact"],
                _kill_rows(peers.results),
            ),
            "",
        ]
    rows = []
    for x in loaded.values():
        s = x.step
        if s is None:
            rows.append([x.name, "-", "not run", "-", "-", "-"])
            continue
        load = f"{s['load_before'][0]:.2f} -> {s['load_after'][0]:.2f}"
        status = x.state if x.state != "ok" else "ok"
        rows.append(
            [
                x.name,
                f"`{s['command']}`",
                status,
                _minutes(s["wall_s"]),
                _minutes(s["budget_s"]),
                load,
            ]
        )
    out += [
        "## This run",
        "",
        *_table(
            ["step", "command", "status", "wall time", "budget", "load 1 min before -> after"], rows
        ),
        "",
        "## Method",
        "",
        f"- Hardware: {m['cpu']}, {m['cores']} logical cores ({m['physical_cores']} physical), "
        f"{m['ram_gib']} GiB RAM, {m['os']}. The broker, PostgreSQL, the producers and the "
        "measured processes share it; a load average above the core count means other work "
        "shared the machine and slowed every step.",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "- Data sizes: "
        + "; ".join(f"{x.name}: {_sizes(x)}" for x in loaded.values() if x.results)
        + ".",
        "- Steps run one after another, never in parallel (they time things), each as its own "
        "process with its own stack; each step's output is in `bench/results/logs/<step>.log`, "
        "its numbers in `bench/results/<step>.json`.",
        "- Time budget per step of the full run on 2 cores (the steps' sizes were chosen so "
        "they run in well under the 45-minute bar; a budget is the allowance, not the "
        "estimate): "
        + "; ".join(f"{s['name']} {_minutes(s['budget_s'])} ({s['why']})" for s in run["steps"])
        + f" (together {_minutes(sum(s['budget_s'] for s in run['steps']))}). A step still "
        "running at twice its budget is stopped and marked failed.",
        "- Reproduce: `make bench` (installs the `bench` extra, then `python -m bench.run_all`); "
        "one step: `python -m bench.run_all --only <step>`; a smoke run: `--quick`. "
        "`python -m bench.report` rewrites this page from `bench/results/`.",
        "",
    ]
    if note:
        out += [note, ""]
    for x in loaded.values():
        lines = section(x, where)
        lines += [f"![{p}]({p})" for p in pics.get(x.name, [])]
        out += [*lines, ""] if pics.get(x.name) else lines
    if stall:
        out += [*_nest(stall_section(stall), "Failover stall"), ""]
    return "\n".join(out).rstrip() + "\n"


def build(results_dir: Path, out: Path, where: Path = BENCH, draw: bool = True) -> str:
    """Load, plot (unless `draw` is off) and write `out`/README.md; returns the markdown."""
    run, loaded = load(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    pics, note = plots(loaded, out) if draw else ({}, "")
    try:
        stall = json.loads((results_dir / f"{STALL}.json").read_text())
    except (OSError, ValueError):
        stall = None  # the failover suite has not run here
    text = document(run, loaded, pics, note, where, stall)
    (out / "README.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=BENCH / "results")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    args = p.parse_args(argv)
    build(args.results, args.out)
    print(f"wrote {args.out / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
