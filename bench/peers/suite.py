"""One benchmark run: topics produced once, each scenario run for each peer in turn.

Scenario-major order (every peer's throughput, then every peer's latency, ...)
keeps the peers of one scenario close in time on the same broker and server.
A scenario that fails for a peer is recorded with its error and the run goes
on: the report says what was measured and what was not.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.common import fresh_database, fresh_topic, median_run, synthetic_records
from superstore.clients import KafkaConfig
from superstore.produce import produce_records
from superstore.settings import Settings
from superstore.stack.state import read_state

from . import PEERS
from .base import Peer
from .ours import OursPeer
from .scenarios import Expected, Run, expected_of, kill9, latency, throughput

__all__ = ["Suite"]

WARMUP_LINES = 200


class Suite:
    """Holds what the scenarios share: settings, records, topics, scratch space."""

    def __init__(self, args: argparse.Namespace, settings: Settings, work: Path) -> None:
        self.args = args
        self.settings = settings
        self.overrides: dict[str, dict[str, object]] = {}
        for item in args.set:
            name, _, rest = item.partition(".")
            key, _, value = rest.partition("=")
            self.overrides.setdefault(name, {})[key] = int(value) if value.isdigit() else value
        self.peers: list[Peer] = [
            PEERS[name](settings=self.overrides.get(name, {}), cache_dir=settings.cache_dir)
            for name in args.peers.split(",")
        ]
        self.paced = int(args.rate * args.latency_seconds)
        self.records = synthetic_records(
            max(args.lines, args.kill_lines, args.scale_lines, WARMUP_LINES + self.paced)
        )
        self.run = Run(partial(fresh_database, settings), work)
        self.topics: dict[tuple[str, str], KafkaConfig] = {}
        self.produced: dict[str, dict] = {}
        self._expected: dict[int, Expected] = {}

    # -- shared inputs ----------------------------------------------------
    def stack_pids(self) -> tuple[int, int]:
        """The bench broker's and postmaster's pids (their CPU counts toward each peer)."""
        state = read_state(self.settings.data_dir)
        assert state and state.kafka and state.postgres
        return state.kafka.pid, state.postgres.pid

    def expected(self, lines: int) -> Expected:
        if lines not in self._expected:
            self._expected[lines] = expected_of(self.records[:lines])
        return self._expected[lines]

    def topic(self, purpose: str, peer: Peer, lines: int, partitions: int = 6) -> KafkaConfig:
        """A topic holding the first `lines` records in `peer`'s wire format, made once."""
        key = (f"{purpose}:{lines}:{partitions}", peer.wire)
        if key in self.topics:
            return self.topics[key]
        kafka = fresh_topic(self.settings, partitions)
        started = time.monotonic()
        result = produce_records(kafka, ((k, peer.encode(v)) for k, v in self.records[:lines]))
        if result.failed:
            raise RuntimeError(f"producing {purpose}/{peer.wire} failed: {result.first_error}")
        seconds = time.monotonic() - started
        print(f"  produced {result.sent:,} {peer.wire} lines ({purpose}) in {seconds:.1f}s")
        self.produced[f"{purpose}/{peer.wire}/{lines}"] = {
            "lines": result.sent,
            "partitions": partitions,
            "produce_seconds": round(seconds, 2),
            "bytes_per_message": len(peer.encode(self.records[0][1])),
        }
        self.topics[key] = kafka
        return kafka

    # -- scenarios ----------------------------------------------------------
    def throughput(self, peer: Peer) -> dict:
        lines = self.args.lines
        budget = self.args.naive_seconds if peer.name == "naive" else self.args.max_seconds
        kafka = self.topic("throughput", peer, lines)
        target = self.run.target(peer.name, "throughput", kafka)
        return throughput(peer, target, self.expected(lines), budget, self.stack_pids())

    def latency(self, peer: Peer) -> dict:
        kafka = fresh_topic(self.settings)  # empty: the peer waits on it, then lines arrive
        target = self.run.target(peer.name, "latency", kafka)
        warmup = self.records[:WARMUP_LINES]
        paced = self.records[WARMUP_LINES : WARMUP_LINES + self.paced]
        return latency(peer, target, warmup, paced, self.args.rate, self.args.drain)

    def kill9(self, peer: Peer) -> dict:
        slow = peer.name == "naive"
        lines = self.args.naive_kill_lines if slow else self.args.kill_lines
        kafka = self.topic("kill9", peer, lines)
        target = self.run.target(peer.name, "kill9", kafka)
        return kill9(peer, target, self.expected(lines), self.args.kill_at, timeout=300)

    def scale(self) -> dict:
        """Ours with 1, 2, 3... processes in one group on a 6-partition topic."""
        # One worker per process here: the processes are the scale-out being measured.
        settings = {**self.overrides.get("ours", {}), "workers": 1}
        peer = OursPeer(settings=settings, cache_dir=self.settings.cache_dir)
        lines = self.args.scale_lines
        kafka = self.topic("scale", peer, lines, partitions=6)
        runs = []
        for n in (int(x) for x in self.args.scale_processes.split(",")):
            print(f"  ours x{n} ...")
            target = self.run.target(f"ours_x{n}", "scale", kafka)
            result = throughput(
                peer, target, self.expected(lines), self.args.max_seconds, self.stack_pids(), n
            )
            print(f"    {result}")
            runs.append(result)
        kind = "lines_per_s" if all(r["lines_per_s"] for r in runs) else "lines_per_s_from_start"
        for run in runs:
            run["speedup"] = round(run[kind] / runs[0][kind], 2)
        note = (
            f"{os.cpu_count()} cores are shared by the consumers, the broker and PostgreSQL, "
            "so extra processes add parallel decoding but compete for the same CPUs."
        )
        return {"lines": lines, "partitions": 6, "runs": runs, "note": note}

    def run_all(self) -> dict[str, dict]:
        """Every selected scenario for every selected peer; errors are kept, not raised."""
        results = {
            p.name: {
                "label": p.label, "writes": p.writes, "delivery": p.delivery, "wire": p.wire,
                "settings": p.settings,
            }
            for p in self.peers
        }  # fmt: skip
        wanted = self.args.scenarios.split(",")
        for scenario in ("throughput", "latency", "kill9"):
            if scenario not in wanted:
                continue
            rounds = self.args.rounds if scenario == "throughput" else 1
            for n in range(1, rounds + 1):
                print(f"== {scenario}" + (f", round {n} of {rounds}" if rounds > 1 else ""))
                for peer in self.peers:
                    entry = results[peer.name]
                    _attempt(entry, scenario, partial(getattr(self, scenario), peer))
                    if rounds > 1:
                        error = entry.get("errors", {}).get(scenario)
                        done = entry.pop(scenario, None) or {"error": error}
                        entry.setdefault("throughput_rounds", []).append(done)
            if rounds > 1:
                for entry in results.values():
                    _keep_median(entry)
        return results


def _keep_median(entry: dict) -> None:
    """The throughput of a peer's median round (`median_run`), failed rounds left out."""
    done = [r for r in entry["throughput_rounds"] if "error" not in r]
    if not done:
        return
    kind = "lines_per_s" if all(r["lines_per_s"] for r in done) else "lines_per_s_from_start"
    entry["throughput"] = median_run(done, kind)
    entry.get("errors", {}).pop("throughput", None)  # a failed round is kept in the rounds


def _attempt(entry: dict, scenario: str, action: Callable[[], dict]) -> None:
    """Run one scenario of one peer; a failure is recorded and the benchmark goes on."""
    started = time.monotonic()
    print(f"  {entry['label']} ...")
    try:
        entry[scenario] = action()
        print(f"    {entry[scenario]} ({time.monotonic() - started:.0f}s)")
    except Exception as exc:
        entry.setdefault("errors", {})[scenario] = f"{type(exc).__name__}: {exc}"[:600]
        print(f"    FAILED: {entry['errors'][scenario]}")
