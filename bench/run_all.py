"""`make bench`: every benchmark in ONE run, in sequence, then one report.

    python -m bench.run_all [--quick] [--only ingest,ingest_peers,etl,freshness] [--out DIR]

Steps run one after another as subprocesses of bench/ (never in parallel:
they time things): ingest.py (ours vs the COPY ceiling vs a naive consumer),
ingest_peers.py (Kafka Connect, Spark Structured Streaming, naive; kill -9;
latency; scale-out), etl.py (DuckDB vs Spark local vs a Spark standalone
cluster), freshness.py (produce -> /today API). Each saves
bench/results/<name>.json. For each step the runner records its command,
wall time, exit code and the load average before and after; once per run the
machine (CPU, cores, RAM, OS), the versions and the git commit. All of it goes
to bench/results/run_all.json, then bench/report.py writes
docs/benchmarks/README.md and its plots from those files only.

A failed step is recorded and the run goes on; the exit code is 1 when any
step failed. `--quick` runs tiny sizes (minutes, a smoke test of the whole
chain) and writes its report under bench/results/quick/ unless --out says
otherwise, so it never replaces the published report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO

__all__ = ["STEPS", "Step", "machine", "main", "run_step", "versions"]

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
DOCS = ROOT / "docs" / "benchmarks"
BAR_SECONDS = 45 * 60  # the bar: `make bench` in under 45 minutes on 2 cores


@dataclass(frozen=True)
class Step:
    """One benchmark script: its full-size and smoke-size arguments and its time budget.

    `budget_s` is what the full run is expected to take on 2 cores (the four
    add up to well under BAR_SECONDS, leaving room for a noisy machine);
    a step still running after `timeout_s` is stopped and marked failed so
    one hung step cannot eat the others' time.
    """

    name: str  # also the results file: bench/results/<name>.json
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    budget_s: int
    why: str

    @property
    def timeout_s(self) -> int:
        return 2 * self.budget_s


STEPS = (
    Step(
        "ingest",
        "ingest.py",
        (
            "--lines", "1000000", "--batch-size", "20000", "--naive-seconds", "20",
            "--workers", "1,2", "--partitions", "6", "--rounds", "3",
        ),
        ("--lines", "20000", "--naive-seconds", "3", "--workers", "1,2", "--rounds", "1"),
        360,
        "1M lines into a 6-partition topic; ours with 1 and 2 worker processes "
        "(2 is 'ours': one per core) and the ceiling in 3 rounds, taking turns (medians "
        "reported); estimated: each ours run ~25-40 s, ceiling ~20 s (its lines decoded once, "
        "~10 s), so ~1.5 min per round; naive a 20 s sample, producing and synthesising 1M "
        "lines and the stack start ~1 min",
    ),
    Step(
        "replication",
        "replication.py",
        ("--lines", "1000000", "--rounds", "3", "--workers", "2"),
        ("--lines", "20000", "--rounds", "1", "--workers", "2"),
        480,
        "1M lines produced (acks=all) then ingested by 2 workers, on 1 broker RF=1 and on "
        "3 brokers RF=3, 3 rounds taking turns; estimated: both stacks start in ~1.5 min, "
        "each produce ~15 s and ingest ~25-40 s, so ~1 min per stack per round",
    ),
    Step(
        "ingest_peers",
        "ingest_peers.py",
        (
            "--lines", "1000000", "--max-seconds", "150", "--naive-seconds", "20", "--rounds", "3",
            "--rate", "1000", "--latency-seconds", "20", "--drain", "60",
            "--kill-lines", "100000", "--naive-kill-lines", "5000", "--kill-at", "0.4",
            "--scale-lines", "1000000", "--scale-processes", "1,2,3",
        ),
        (
            "--lines", "20000", "--max-seconds", "120", "--naive-seconds", "5", "--rounds", "1",
            "--latency-seconds", "3", "--drain", "30", "--kill-lines", "30000",
            "--naive-kill-lines", "1500", "--scale-lines", "20000", "--scale-processes", "1,2",
            "--set", "ours.batch_size=5000", "--set", "spark.maxOffsetsPerTrigger=10000",
            "--no-docs",
        ),
        1200,
        "1M lines per peer in 3 throughput rounds (peers taking turns, the "
        "median round reported), 1k lines/s latency, kill -9 at 40% of 100k "
        "lines, 1/2/3 processes on 1M lines; each throughput run is time-boxed (150 s, naive "
        "20 s) so a slow peer is a sample and cannot stretch the run; estimated from "
        "docs/benchmarks/ingest_peers.md: throughput ~4.5 min per round, latency ~3 min, "
        "kill -9 ~2 min, scale-out ~1.5 min, producing the topics ~1.5 min",
    ),
    Step(
        "etl",
        "etl.py",
        (
            "--sizes", "1000000,10000000", "--engines", "duckdb,spark-local,spark-cluster",
            "--cluster-sizes", "all", "--increment", "10000",
        ),
        ("--sizes", "20000", "--cluster-sizes", "smallest", "--increment", "1000"),
        660,
        "DuckDB, Spark local[*] and the standalone cluster at 1M and 10M lines, plus the "
        "10k-line increment; measured alone on this machine: 7.9 min (lakes 41 s, DuckDB "
        "10M 18 s, Spark 10M 130-136 s each, Spark and cluster start-ups ~30 s)",
    ),
    Step(
        "freshness",
        "freshness.py",
        ("--rate", "1000", "--seconds", "30", "--warmup-seconds", "3"),
        ("--rate", "200", "--seconds", "5", "--warmup-seconds", "1"),
        180,
        "1k lines/s for 30 s (30,000 lines: 300 beyond the p99) after a 3 s warm-up; the "
        "stack, ingest and serve start in ~1 min",
    ),
    Step(
        "dashboard",
        "dashboard.py",
        ("--facts", "10000000", "--page-loads", "10", "--load-rounds", "3",
         "--load-seconds", "12"),
        ("--facts", "100000", "--page-loads", "2", "--load-rounds", "1", "--load-seconds", "3",
         "--requests", "20", "--oltp-runs", "1"),
        900,
        "10M facts built in DuckDB and PostgreSQL; /analytics 10 fresh loads each of ours and "
        "the previous main (BENCH_PREVIOUS; ours alone without it); 3 rounds of 12 s at 50 "
        "clients each, cache on and off; every endpoint alone; the OLTP queries",
    ),
    Step(
        "continuous",
        "continuous.py",
        ("--rate", "1000", "--seconds", "60", "--rounds", "2", "--probes", "8",
         "--history-lines", "10000000"),
        ("--rate", "200", "--seconds", "15", "--rounds", "1", "--probes", "2",
         "--history-lines", "100000"),
        900,
        "`run` with and without the sync, 2 rounds of 60 s at 1k lines/s (each after the "
        "data set's history is synced, ~1 min), analytics probes; then a 10M-line history "
        "built, exported and loaded (~5 min) and 100 changed days resynced",
    ),
)  # fmt: skip
NAMES = tuple(s.name for s in STEPS)
ALIASES = {"peers": "ingest_peers"}


# -- machine facts ---------------------------------------------------------
def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "?"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "?"


def _os_name() -> str:
    try:
        text = Path("/etc/os-release").read_text()
        name = re.search(r'^PRETTY_NAME="?([^"\n]+)"?$', text, re.MULTILINE)
    except OSError:
        name = None
    distro = name.group(1) if name else platform.system()
    return f"{distro}, kernel {platform.release()}"


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    lines = (out.stdout + out.stderr).strip().splitlines()
    return lines[0] if lines else "?"


def _kafka_version() -> str:
    from superstore.stack.tools import resource_path  # the broker's pom, shipped in the package

    match = re.search(r"<kafka.version>([^<]+)<", resource_path("pom.xml").read_text())
    return match.group(1) if match else "?"


def _java_version() -> str:
    from superstore.stack.tools import find_java

    text = _first_line([find_java(None).path, "-version"])
    match = re.search(r'version "([^"]+)"', text)
    return match.group(1) if match else text


def _postgres_version() -> str:
    import warnings

    with warnings.catch_warnings():  # pgserver's platformdirs warns about XDG_RUNTIME_DIR
        warnings.simplefilter("ignore")
        from pgserver._commands import POSTGRES_BIN_PATH  # the stack's PostgreSQL binaries

    return _first_line([str(POSTGRES_BIN_PATH / "postgres"), "--version"]).rsplit(" ", 1)[-1]


def _librdkafka_version() -> str:
    import confluent_kafka

    return confluent_kafka.libversion()[0]


def versions() -> dict[str, str]:
    """What the benchmarks run on: the stack's servers, Java and the Python libraries."""
    out = {"Python": platform.python_version()}
    for name, probe in (
        ("Kafka broker", _kafka_version),
        ("PostgreSQL", _postgres_version),
        ("Java", _java_version),
        ("librdkafka", _librdkafka_version),
    ):
        try:
            out[name] = probe()
        except Exception as exc:  # e.g. no Java: the steps that need it fail and say so
            out[name] = f"unavailable ({exc})"[:100]
    for dist in ("duckdb", "pyspark", "confluent-kafka", "psycopg", "pyarrow", "sqlglot"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def machine() -> dict[str, object]:
    """Hardware and OS of this run."""
    import psutil

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": _os_name(),
    }


def git_commit() -> dict[str, object]:
    """HEAD and whether the working tree differs from it (the run measured the tree)."""
    head = _first_line(["git", "-C", str(ROOT), "rev-parse", "HEAD"])
    status = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {"commit": head, "uncommitted_changes": bool(status.stdout.strip())}


# -- running a step --------------------------------------------------------
def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")


def _shown(path: Path) -> str:
    """A path as the report shows it: relative to the repository when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _pump(stream: IO[str], log: IO[str]) -> None:
    """Copy the step's output to the console and its log as it comes."""
    for line in stream:
        sys.stdout.write(line)
        sys.stdout.flush()
        log.write(line)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the step's process group (it unwinds its stack), SIGKILL if it lingers."""
    for sig, grace in ((signal.SIGTERM, 60.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _module_name(script: Path) -> str:
    """``bench/ingest.py`` -> ``bench.ingest``: the scripts run as modules of the package."""
    return f"bench.{script.stem}"


def _unsupported(script: Path, args: tuple[str, ...]) -> list[str]:
    """Flags we pass that the script's --help does not list (its interface moved on)."""
    flags = [a for a in args if a.startswith("--")]
    if not flags:
        return []
    out = subprocess.run(
        [sys.executable, "-m", _module_name(script), "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    listed = set(re.findall(r"--[a-z0-9][a-z0-9-]*", out.stdout))
    return [f for f in flags if f not in listed]


def _execute(step: Step, args: tuple[str, ...], log_path: Path) -> tuple[str, str, int | None]:
    """Run the script in its own process group, output to the console and its log."""
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-u", "-m", _module_name(BENCH / step.script), *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        assert proc.stdout is not None
        pump = threading.Thread(target=_pump, args=(proc.stdout, log), daemon=True)
        pump.start()
        try:
            code = proc.wait(step.timeout_s)
        except subprocess.TimeoutExpired:
            _stop(proc)
            return "timeout", f"stopped after the {step.timeout_s} s timeout", proc.returncode
        except KeyboardInterrupt:
            _stop(proc)
            raise
        finally:
            pump.join(10)
    return ("ok", "", code) if code == 0 else ("failed", f"exit code {code}", code)


def run_step(step: Step, quick: bool, logs: Path) -> dict[str, object]:
    """Run one benchmark script to the end (or its timeout); what happened, never raises."""
    args = step.quick if quick else step.full
    script = BENCH / step.script
    command = shlex.join(["python", "-m", _module_name(script), *args])
    log_path = logs / f"{step.name}.log"
    record: dict[str, object] = {
        "name": step.name,
        "script": step.script,
        "args": list(args),
        "command": command,
        "budget_s": step.budget_s,
        "timeout_s": step.timeout_s,
        "why": step.why,
        "log": _shown(log_path),
    }
    print(f"\n=== {step.name}: {command}", flush=True)
    bad = _unsupported(script, args) if script.exists() else []
    record["load_before"] = _load()
    started = time.time()
    if not script.exists():
        status, error, code = "missing", f"bench/{step.script} does not exist", None
    elif bad:
        error = f"bench/{step.script} does not accept {' '.join(bad)} (see STEPS in run_all.py)"
        status, code = "failed", None
    else:
        status, error, code = _execute(step, args, log_path)
    finished = time.time()
    record.update(
        started_epoch=started,
        started=_iso(started),
        finished_epoch=finished,
        finished=_iso(finished),
        wall_s=round(finished - started, 1),
        returncode=code,
        status=status,
        error=error,
        load_after=_load(),
    )
    print(f"=== {step.name}: {status} in {finished - started:.0f} s {error}".rstrip(), flush=True)
    return record


# -- the run ---------------------------------------------------------------
def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of the chain")
    p.add_argument("--only", default=",".join(NAMES), help=f"comma-separated subset of {NAMES}")
    p.add_argument("--out", type=Path, help="report directory (default: docs/benchmarks)")
    p.add_argument("--no-report", action="store_true", help="only run and record the steps")
    args = p.parse_args(argv)
    wanted = [ALIASES.get(x.strip(), x.strip()) for x in args.only.split(",") if x.strip()]
    unknown = sorted(set(wanted) - set(NAMES))
    if unknown:
        p.error(f"unknown steps {unknown}; choose from {', '.join(NAMES)}")
    args.only = [n for n in NAMES if n in wanted]  # always in the fixed order
    args.out = args.out or (RESULTS / "quick" if args.quick else DOCS)
    return args


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    argv_shown = shlex.join(argv if argv is not None else sys.argv[1:])
    run: dict[str, object] = {
        "benchmark": "run_all",
        "command": f"python -m bench.run_all {argv_shown}".strip(),
        "quick": args.quick,
        "only": args.only,
        "all_steps": list(NAMES),
        "bar_s": BAR_SECONDS,
        **git_commit(),
        "machine": machine(),
        "versions": versions(),
        "steps": [],
    }
    started = time.time()
    run["started_epoch"], run["started"] = started, _iso(started)
    path = RESULTS / "run_all.json"
    steps: list[dict[str, object]] = run["steps"]  # type: ignore[assignment]
    try:
        for step in STEPS:
            if step.name in args.only:
                steps.append(run_step(step, args.quick, logs))
                path.write_text(json.dumps(run, indent=2))  # progress survives a crash
    except KeyboardInterrupt:
        print("\ninterrupted: the step in progress was stopped; no report written")
        return 130
    finally:
        finished = time.time()
        run.update(finished_epoch=finished, finished=_iso(finished))
        run["wall_s"] = round(finished - started, 1)
        path.write_text(json.dumps(run, indent=2))
    failed = [s["name"] for s in steps if s["status"] != "ok"]
    print(f"\nrun recorded in {_shown(path)} ({run['wall_s']:.0f} s)")
    code = 1 if failed else 0
    if not args.no_report:
        report = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.report",
                "--results",
                str(RESULTS),
                "--out",
                str(args.out),
            ],
            cwd=ROOT,
            check=False,
        )
        code = code or (1 if report.returncode else 0)
    if failed:
        print(f"FAILED steps: {', '.join(failed)} (see bench/results/logs/)")
    return code


if __name__ == "__main__":
    sys.exit(main())
