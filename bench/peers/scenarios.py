"""The three runs every peer gets, and the scale-out of ours.

- throughput: the whole topic (or until a time budget, then it is a sample);
  lines/s from PostgreSQL commit timestamps, both from process start
  (JVM start, group join included) and steady (first to last commit).
- latency: the peer idles on an empty topic, a warm-up proves it is ready,
  then lines are produced at a fixed rate; latency = produce() call to the
  commit that made the line visible.
- kill -9: SIGKILL the peer's process group once a share of the topic is
  committed, restart it, let it finish; count lost, doubled and re-applied lines.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil

from bench import common
from superstore.clients import KafkaConfig, PgConfig

from .base import Peer, PeerProcess, Target
from .measure import (
    Expected,
    commit_span,
    cpu_seconds,
    install_delivery_log,
    latencies,
    outcome,
    visible,
    wait_visible,
)

__all__ = ["Expected", "Run", "expected_of", "kill9", "latency", "produce_paced", "throughput"]

Records = list[tuple[str, bytes]]


@dataclass(frozen=True)
class Run:
    """Makes the per-run pieces: a fresh database, a scratch dir, a unique run id."""

    new_database: Callable[[str], PgConfig]
    work_dir: Path

    def target(self, name: str, scenario: str, kafka: KafkaConfig) -> Target:
        run_id = f"{scenario}-{name}-{uuid.uuid4().hex[:6]}"
        work = self.work_dir / run_id
        work.mkdir(parents=True, exist_ok=True)
        return Target(kafka, self.new_database(f"peers_{scenario}_{name}"), work, run_id)


def expected_of(records: Records) -> Expected:
    """Distinct lines and exact sales sum of the records (keys are unique by construction)."""
    sales = sum(Decimal(json.loads(v)["sales"]) for _, v in records)
    return Expected(len(records), sales)


def _busy_share(before: Any) -> float:
    """Share of all cores' time spent busy since `before` (the peer, the stack, anything else)."""
    after = psutil.cpu_times()
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    total = sum(after) - sum(before)
    return round(100 * (1 - idle / total), 1) if total > 0 else 0.0


def _ensure_running(proc: PeerProcess, what: str) -> None:
    if not proc.alive and proc.proc.returncode not in (0, None):
        raise RuntimeError(f"{proc.name} exited with {proc.proc.returncode} {what}: {proc.tail()}")


def throughput(
    peer: Peer,
    target: Target,
    expected: Expected,
    budget: float,
    stack_pids: tuple[int, int],
    processes: int = 1,
) -> dict:
    """Run until the topic is in PostgreSQL or `budget` seconds pass (then it is a sample).

    `processes` > 1 starts that many members of one consumer group (scale-out).
    CPU: the peer's process trees plus the broker and PostgreSQL (`stack_pids`:
    broker pid, postmaster pid), each reported apart,
    from the first poll that sees committed lines to the end, so the cost per
    line holds even when other work on the machine steals cores.
    """
    peer.prepare(target)
    cpu_before = psutil.cpu_times()
    procs = [peer.start(target) for _ in range(processes)]
    marks: list[tuple[int, dict[str, float]]] = []
    kafka_pid, pg_pid = stack_pids

    def cpu_now() -> dict[str, float]:
        return {
            "peer": cpu_seconds([p.proc.pid for p in procs]),
            "postgres": cpu_seconds([pg_pid]),
            "kafka": cpu_seconds([kafka_pid]),
        }

    def on_poll(count: int) -> None:
        if count and not marks:
            marks.append((count, cpu_now()))

    try:
        count = wait_visible(
            target.pg, peer.table, expected.lines, budget,
            lambda: all(p.alive for p in procs), poll=2.0, on_poll=on_poll,
        )  # fmt: skip
        for proc in procs:
            _ensure_running(proc, "during the throughput run")
        marks.append((count, cpu_now()))
    finally:
        cpu_busy = _busy_share(cpu_before)
        for proc in procs:
            proc.stop()
    span = commit_span(target.pg, peer.table)
    if not span["rows"]:
        raise RuntimeError(f"{peer.name} committed nothing in {budget:.0f}s: {procs[0].tail()}")
    started = min(p.started for p in procs)
    first, last, rows = float(span["first"]), float(span["last"]), int(span["rows"])
    steady_s = last - first
    (lines_a, cpu_a), (lines_b, cpu_b) = marks[0], marks[-1]
    split = {k: round(cpu_b[k] - cpu_a[k], 1) for k in cpu_a}
    cpu = sum(split.values())
    return {
        "processes": processes,
        "lines": rows,
        "complete": count >= expected.lines,
        "budget_s": budget,
        "startup_s": round(first - started, 2),
        "seconds_from_start": round(last - started, 2),
        "lines_per_s_from_start": round(rows / (last - started)),
        "steady_seconds": round(steady_s, 2),
        "lines_per_s": round(int(span["rows_after_first"]) / steady_s) if steady_s else None,
        "machine_cpu_busy_pct": cpu_busy,
        "cpu_s": round(cpu, 1),
        "cpu_s_split": split,
        "cpu_window_lines": lines_b - lines_a,
        "lines_per_cpu_s": round((lines_b - lines_a) / cpu) if cpu > 0 else None,
    }


def produce_paced(
    kafka: KafkaConfig,
    producer: Any,
    records: Records,
    rate: float,
    encode: Callable[[bytes], bytes],
) -> dict[tuple[str, int], float]:
    """Produce at `rate` lines/s; returns each line's key -> wall time of its produce() call.

    The caller's producer serves warm-up and measured run alike, as a live source
    keeps its connection (a new producer's first lines would wait for metadata).
    """
    prepared = []
    for key, value in records:
        doc = json.loads(value)
        prepared.append((key, (doc["order_id"], int(doc["line_number"])), encode(value)))
    sent, _ = common.produce_paced(kafka, producer, prepared, rate)
    return sent


def latency(
    peer: Peer, target: Target, warmup: Records, paced: Records, rate: float, drain: float
) -> dict:
    """End-to-end latency at a fixed produce rate, once the peer has proved it is consuming."""
    peer.prepare(target)
    proc = peer.start(target)
    try:
        producer = target.kafka.producer()
        produce_paced(target.kafka, producer, warmup, 1000.0, peer.encode)
        ready = wait_visible(target.pg, peer.table, len(warmup), 240, lambda: proc.alive, 0.5)
        _ensure_running(proc, "before the latency run")
        if ready < len(warmup):
            raise RuntimeError(f"{peer.name} not consuming after 240s: {proc.tail()}")
        sent = produce_paced(target.kafka, producer, paced, rate, peer.encode)
        total = len(warmup) + len(paced)
        wait_visible(target.pg, peer.table, total, drain, lambda: proc.alive, 0.5)
    finally:
        proc.stop()
    return {"rate": rate, **latencies(target.pg, peer.table, sent)}


def kill9(peer: Peer, target: Target, expected: Expected, kill_at: float, timeout: float) -> dict:
    """SIGKILL mid-stream, restart, finish; lost/doubled/re-applied lines as measured."""
    peer.prepare(target)
    install_delivery_log(target.pg, peer.table)
    proc = peer.start(target)
    threshold = max(1, int(expected.lines * kill_at))
    try:
        wait_visible(target.pg, peer.table, threshold, timeout, lambda: proc.alive, 0.2)
        _ensure_running(proc, "before the kill")
    finally:
        proc.kill9()
    at_kill = visible(target.pg, peer.table)
    if at_kill >= expected.lines:
        raise RuntimeError(f"{peer.name} finished before the kill: use more --kill-lines")
    restarted = time.time()
    proc = peer.start(target)
    try:
        final = wait_visible(target.pg, peer.table, expected.lines, timeout, lambda: proc.alive)
        recovered = time.time() - restarted
        _ensure_running(proc, "after the restart")
        time.sleep(3.0)  # let a straggling re-delivery land before we count
    finally:
        proc.stop()
    return {
        "lines": expected.lines,
        "visible_at_kill": at_kill,
        "finished": final >= expected.lines,
        "restart_to_complete_s": round(recovered, 1),
        **outcome(target.pg, peer.table, expected),
    }
