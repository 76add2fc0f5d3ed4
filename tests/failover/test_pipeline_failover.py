"""The whole pipeline through the loss of a machine: exact in PostgreSQL, reconciled to the end.

One 3-node KRaft cluster and PostgreSQL pair (`stack up --brokers 3
--pg-standby`) for the module, in a data dir of its own. Each scenario gets a
new topic and a new database and runs the real consumer
(`superstore.ingest.Ingestor`, through the multi-host DSN) under a stream of
at least 200,000 lines from the project's producer (acks=all, idempotent) at
full speed, while a fault strikes. It ends with every acknowledged line in
PostgreSQL exactly once (lines, orders, exact sales per day), then export,
ETL and `check` green through the lake and the warehouse. The time from each
fault to the next committed batch and the throughput after it go to
bench/results/failover_stall.json (see bench/failover_stall.py).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psutil
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bench.failover_stall import record, summary
from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import OrderLine
from superstore.data import lines_between, load_lines
from superstore.ops.pipeline import check_step, etl_days_step, export_days_step
from superstore.settings import Settings, load_settings
from superstore.stack import kafka_config, pg_admin_config, pg_config, stack_down, stack_up
from superstore.stack.faults import (
    kill_node,
    kill_pg_primary,
    partition_leader,
    pause_node,
    resume_node,
    start_node,
    stop_node,
    wait_for_isr,
    wait_for_leader,
)
from superstore.stack.standby import failover, wait_for_replay
from superstore.stack.state import read_state
from tests.support.cluster import new_topic
from tests.support.faults import assert_ingested_exactly, stored_offsets
from tests.support.pipeline import (
    MIN_LINES,
    AckedStream,
    Fault,
    IngestRun,
    Watermarks,
    measure,
    walsender,
)

pytestmark = [pytest.mark.failover, pytest.mark.timeout(600)]

SESSION_TIMEOUT = 6.0  # broker.session.timeout.ms of cluster.properties.template
WINDOW = 30.0  # throughput is measured over this long after each fault
GENEROUS = 60.0  # the bound asserted on each stall (targets: 10 s Kafka, 20 s PostgreSQL)
FIRST, UNTIL = dt.date(2017, 10, 1), dt.date(2017, 12, 31)  # ~90 days: export and ETL stay quick
KILLS = 5
LIVE_RATE = 300.0  # lines/s between the full-speed bursts: a line follows any moment closely


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """3 Kafka nodes and a PostgreSQL primary + standby, in a data dir of their own."""
    settings = load_settings(data_dir=tmp_path_factory.mktemp("pipeline-failover"))
    started = time.monotonic()
    stack_up(settings, report=lambda m: print(m, file=sys.stderr), brokers=3, pg_standby=True)
    print(f"cluster and PostgreSQL pair up in {time.monotonic() - started:.1f}s", file=sys.stderr)
    try:
        yield settings
    finally:
        stack_down(settings, purge=True)


@pytest.fixture(scope="module")
def seed() -> list[OrderLine]:
    """The last quarter of the data set, replayed under new order ids to make the stream."""
    return lines_between(load_lines(), FIRST, UNTIL)


@dataclass
class Pipe:
    """One scenario's own topic, database, lake and warehouse on the shared cluster."""

    settings: Settings
    kafka: KafkaConfig
    pg: PgConfig


def _heal(settings: Settings) -> None:
    """Whatever a failed scenario left down comes back: paused, killed nodes, the standby."""
    state = read_state(settings.data_dir)
    for node in state.kafka_nodes if state else []:
        if psutil.pid_exists(node.pid) and node.alive():
            psutil.Process(node.pid).resume()
        else:
            start_node(settings, int(node.extra["node_id"]))
    state = read_state(settings.data_dir)
    if state and (not state.pg_standby or state.pg_standby.extra.get("role") != "standby"):
        stack_up(settings)  # rebuilds the former primary as the standby


@pytest.fixture
def pipe(cluster: Settings, tmp_path: Path) -> Iterator[Pipe]:
    """A new 3-partition topic (full ISR) and a new database reached by the multi-host DSN."""
    kafka = new_topic(kafka_config(cluster))
    wait_for_isr(kafka, [kafka.topic], timeout=60)
    base = pg_config(cluster)
    name = f"failover_{uuid.uuid4().hex[:8]}"
    admin = PgConfig(make_conninfo(pg_admin_config(cluster).dsn, dbname="postgres"))
    with admin.connect(autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{conninfo_to_dict(base.dsn)["user"]}"')
    pg = PgConfig(make_conninfo(base.dsn, dbname=name))
    assert "target_session_attrs=read-write" in pg.dsn and pg.dsn.count("127.0.0.1") == 2
    settings = load_settings(
        data_dir=cluster.data_dir,
        topic=kafka.topic,
        dlq_topic=kafka.dlq_topic,
        pg_dsn=pg.dsn,
        lake_url=str(tmp_path / "lake"),
        warehouse_path=tmp_path / "warehouse.duckdb",
    )
    try:
        yield Pipe(settings, kafka, pg)
    finally:
        _heal(cluster)
        with admin.connect(autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        kafka.admin().delete_topics([kafka.topic, kafka.dlq_topic])


class Scenario:
    """A stream and the consumer running while faults strike; then the exactness checks."""

    def __init__(self, name: str, order: int, lost: str, pipe: Pipe, seed: list[OrderLine]):
        self.name, self.order, self.lost, self.pipe = name, order, lost, pipe
        self.ingest = IngestRun(pipe.kafka, pipe.pg)
        self.stream = AckedStream(pipe.kafka, seed, rate=LIVE_RATE)
        self.marks = Watermarks(pipe.kafka)
        self.faults: list[Fault] = []
        self.started = time.monotonic()

    def __enter__(self) -> Scenario:
        self.ingest.start()
        self.stream.start()
        self.ingest.wait_committed(1_000, 120, "the first lines through the pipeline")
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:  # the test failed: stop the threads, keep its error
            self.stream.abort()
            self.ingest.abort()
        self.marks.close()

    def burst(self, lines: int, rng: random.Random) -> None:
        """Put `lines` on the stream at full speed, then wait a random moment into the burst."""
        self.stream.burst(lines)
        time.sleep(rng.uniform(0.2, 3.0))

    def fault(self, kind: str, partitions: list[int], **detail: object) -> Fault:
        """Note a fault about to strike: its time and the partitions it touches."""
        fault = Fault(kind, time.monotonic(), partitions, dict(detail))
        self.faults.append(fault)
        return fault

    def busiest(self) -> tuple[int, int]:
        """(partition holding the most lines, its leader node)."""
        ends = self.marks.read()
        partition = max(ends, key=lambda p: ends[p])
        return partition, partition_leader(self.pipe.kafka, self.pipe.kafka.topic, partition)

    def led_by(self, node: int) -> list[int]:
        """Partitions of the topic whose leader is `node` now."""
        kafka = self.pipe.kafka
        return [
            p for p in range(kafka.partitions) if partition_leader(kafka, kafka.topic, p) == node
        ]

    def until_after_last_fault(self, seconds: float = WINDOW + 2) -> None:
        """Let the stream run on until `seconds` after the last fault (its throughput window)."""
        wait = self.faults[-1].at + seconds - time.monotonic()
        deadline = time.monotonic() + max(wait, 0)
        while time.monotonic() < deadline:
            assert self.ingest.alive(), "ingest stopped by itself"
            time.sleep(0.2)

    def finish(self) -> dict[str, object]:
        """End the stream, let ingest catch up, check exactness and every layer; the stalls."""
        sent = self.stream.finish(MIN_LINES)
        ends = self.marks.read()
        assert sum(ends.values()) == sent, f"topic holds {sum(ends.values()):,} of {sent:,} sent"
        self.ingest.wait_caught_up(ends, timeout=240)
        stats = self.ingest.stop()
        seconds = time.monotonic() - self.started
        took: dict[str, float] = {}
        clock = time.monotonic()

        def step(name: str) -> None:
            nonlocal clock
            took[name] = round(time.monotonic() - clock, 1)
            clock = time.monotonic()

        expected = self.stream.expected()
        lines, sales = assert_ingested_exactly(self.pipe.pg, expected)
        assert lines == sent and sales == expected.sales
        _assert_orders(self.pipe.pg, expected.keys)
        assert stored_offsets(self.pipe.pg, self.pipe.kafka.topic) == ends
        step("exact")
        days = sorted(expected.per_day)
        exported = export_days_step(days, self.pipe.settings)
        assert sum(m.lines for m in exported) == sent
        step("export")
        assert etl_days_step(days, self.pipe.settings) == sent
        step("etl")
        check_step(UNTIL, self.pipe.settings)  # raises naming any layer that disagrees
        step("check")
        print(f"{self.name}: verified in {took}", file=sys.stderr)
        results = [
            measure(f, self.ingest.commits, self.stream.first_after(f.at, f.partitions), WINDOW)
            for f in self.faults
        ]
        scenario = {
            "name": self.name,
            "order": self.order,
            "lost": self.lost,
            "window_s": WINDOW,
            "lines": sent,
            "seconds": round(seconds, 1),
            "live_rate": LIVE_RATE,
            "verify_s": took,
            "batches": stats.batches,
            "fenced": stats.fenced,
            "retries": stats.retries,
            "faults": results,
        }
        record(scenario)
        print(summary(scenario), file=sys.stderr)
        for r in results:
            assert r["to_next_commit_s"] is not None, f"no commit after {r}"
            assert r["to_next_commit_s"] <= GENEROUS, f"stalled over {GENEROUS:.0f}s: {r}"
        return scenario


def _assert_orders(pg: PgConfig, keys: set[tuple[str, int]]) -> None:
    """Every order of an acknowledged line, once, with its line count and exact sales."""
    lines_per_order: dict[str, int] = {}
    for order_id, _ in keys:
        lines_per_order[order_id] = lines_per_order.get(order_id, 0) + 1
    with pg.connect(autocommit=True) as conn:
        rows = conn.execute(
            "SELECT o.order_id, count(l.line_number) FROM orders o"
            " LEFT JOIN order_lines l USING (order_id) GROUP BY o.order_id"
        ).fetchall()
        total = conn.execute("SELECT coalesce(sum(sales), 0) FROM order_lines").fetchone()[0]
    got = {order_id: int(n) for order_id, n in rows}
    wrong = [o for o in set(got) | set(lines_per_order) if got.get(o) != lines_per_order.get(o)]
    assert not wrong, f"{len(wrong)} orders differ (lines per order), e.g. {sorted(wrong)[:5]}"
    assert len(got) == len(lines_per_order) and isinstance(total, Decimal)


def _isr_back(scenario: Scenario, fault: Fault) -> float:
    """Wait for 3 in-sync replicas everywhere the pipeline writes; seconds since the fault."""
    kafka = scenario.pipe.kafka
    wait_for_isr(kafka, [kafka.topic, kafka.dlq_topic, "__consumer_offsets"], timeout=180)
    return round(time.monotonic() - fault.at, 1)


def test_leader_of_the_busiest_partition_killed_five_times(
    cluster: Settings, pipe: Pipe, seed: list[OrderLine]
) -> None:
    seed_no = random.randrange(2**32)
    rng = random.Random(seed_no)
    print(f"random moments from seed {seed_no}", file=sys.stderr)
    with Scenario("kill -9 partition leader x5", 1, "kafka", pipe, seed) as sc:
        victims = []
        for kill in range(1, KILLS + 1):
            sc.burst(MIN_LINES // KILLS, rng)
            partition, victim = sc.busiest()
            fault = sc.fault("kill -9 leader", sc.led_by(victim), node=victim, kill=kill)
            kill_node(cluster, victim)
            leader = wait_for_leader(pipe.kafka, pipe.kafka.topic, partition, avoid=victim)
            fault.detail["new_leader"] = leader
            fault.detail["elected_s"] = round(time.monotonic() - fault.at, 1)
            sc.ingest.wait_committed(5_000, 90, f"commits after kill {kill}")
            start_node(cluster, victim)
            fault.detail["isr_back_s"] = _isr_back(sc, fault)
            victims.append((victim, leader))
            print(f"kill {kill}: node {victim} (led {partition}) -> {leader}", file=sys.stderr)
        sc.until_after_last_fault()
        result = sc.finish()
    assert all(old != new for old, new in victims), victims
    assert len(result["faults"]) == KILLS


def test_rolling_restart_of_all_three_brokers(
    cluster: Settings, pipe: Pipe, seed: list[OrderLine]
) -> None:
    rng = random.Random()
    state = read_state(cluster.data_dir)
    before = {int(n.extra["node_id"]): n.pid for n in state.kafka_nodes}
    with Scenario("rolling restart", 2, "kafka", pipe, seed) as sc:
        for node in sorted(before):
            sc.burst(MIN_LINES // len(before) + 1, rng)
            fault = sc.fault("clean stop + start", sc.led_by(node), node=node)
            stop_node(cluster, node)
            start_node(cluster, node)
            fault.detail["isr_back_s"] = _isr_back(sc, fault)
            sc.ingest.wait_committed(5_000, 90, f"commits after restarting node {node}")
        sc.until_after_last_fault()
        sc.finish()
    after = {int(n.extra["node_id"]): n.pid for n in read_state(cluster.data_dir).kafka_nodes}
    assert all(before[n] != after[n] for n in before), "every node got a new process"


def test_postgres_primary_killed_and_the_standby_promoted(
    cluster: Settings, pipe: Pipe, seed: list[OrderLine]
) -> None:
    """Replication is held back (the primary's WAL sender stopped) while ingest commits on,
    then the primary is killed: the promoted standby lacks those commits, rows and offsets
    alike, and the consumer, fenced, re-reads them from Kafka."""
    old = read_state(cluster.data_dir).postgres
    with Scenario("kill -9 PostgreSQL primary, promote standby", 3, "postgres", pipe, seed) as sc:
        wait_for_replay(read_state(cluster.data_dir), timeout=60)
        sc.stream.burst(MIN_LINES)
        sender = walsender(cluster)
        sender.suspend()
        try:
            sc.ingest.wait_committed(20_000, 60, "commits the standby does not receive")
            seen = dict(sc.ingest.position)
            fault = sc.fault("kill -9 primary", list(range(pipe.kafka.partitions)))
            kill_pg_primary(cluster)  # the stopped sender with it: its WAL is never sent
        finally:
            if sender.is_running():
                sender.kill()
        failover(cluster, report=lambda m: print(m, file=sys.stderr))
        fault.detail["promoted_s"] = round(time.monotonic() - fault.at, 1)
        held = stored_offsets(pipe.pg, pipe.kafka.topic)
        lost = sum(seen.values()) - sum(held.values())
        fault.detail["lost_commits_lines"] = lost
        print(f"the new primary lacks {lost:,} committed lines: {seen} vs {held}", file=sys.stderr)
        sc.ingest.wait_committed(5_000, 90, "commits on the new primary")
        sc.until_after_last_fault()
        result = sc.finish()
    assert lost > 0, "the promoted standby lacked none of the commits: nothing was re-read"
    assert result["fenced"] >= 1, "the consumer was fenced by the offsets the new primary lacks"
    state = read_state(cluster.data_dir)
    assert state.postgres.extra["node"] != old.extra["node"], "the standby is the primary now"
    rebuilt = time.monotonic()
    state = stack_up(cluster)  # the former primary comes back as the new standby
    assert state.pg_standby and state.pg_standby.extra["role"] == "standby"
    wait_for_replay(state, timeout=60)
    print(
        f"former primary rebuilt as standby in {time.monotonic() - rebuilt:.1f}s", file=sys.stderr
    )


def test_broker_paused_past_its_session_timeout(
    cluster: Settings, pipe: Pipe, seed: list[OrderLine]
) -> None:
    with Scenario("SIGSTOP broker past session timeout", 4, "kafka", pipe, seed) as sc:
        sc.burst(MIN_LINES, random.Random())
        partition, victim = sc.busiest()
        fault = sc.fault("SIGSTOP leader", sc.led_by(victim), node=victim)
        pause_node(cluster, victim)
        try:
            leader = wait_for_leader(pipe.kafka, pipe.kafka.topic, partition, avoid=victim)
            fault.detail["new_leader"] = leader
            fault.detail["elected_s"] = round(time.monotonic() - fault.at, 1)
            while time.monotonic() - fault.at < SESSION_TIMEOUT + 8:
                assert sc.ingest.alive(), "ingest stopped by itself"
                time.sleep(0.2)
        finally:
            resume_node(cluster, victim)
        fault.detail["paused_s"] = round(time.monotonic() - fault.at, 1)
        fault.detail["isr_back_s"] = _isr_back(sc, fault)
        sc.until_after_last_fault()
        sc.finish()
    assert fault.detail["elected_s"] >= SESSION_TIMEOUT * 0.5, "moved only once heartbeats stopped"
