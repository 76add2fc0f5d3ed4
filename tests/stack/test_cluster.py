"""Losing a Kafka machine: a real 3-node KRaft cluster (RF 3, min ISR 2) loses and doubles nothing.

One cluster for the module, in its own data dir. Each test produces numbered
messages with the project's producer (acks=all, idempotent) while it kills,
stops or pauses a node, then reads the topic back: every acknowledged number
exactly once.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest
from confluent_kafka.admin import ConfigResource

from superstore.clients import KafkaConfig
from superstore.settings import Settings, load_settings
from superstore.stack import kafka_config, stack_down, stack_status, stack_up
from superstore.stack.cluster import stack_partitions
from superstore.stack.faults import (
    kafka_node,
    kill_node,
    node_pid,
    partition_leader,
    pause_node,
    resume_node,
    rolling_restart,
    start_node,
    wait_for_isr,
    wait_for_leader,
)
from superstore.stack.state import read_state
from tests.support.cluster import (
    Traffic,
    assert_exactly_once,
    new_topic,
    wait_until,
)

pytestmark = [pytest.mark.failover, pytest.mark.timeout(300)]

SESSION_TIMEOUT = 6.0  # broker.session.timeout.ms of cluster.properties.template


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A 3-node cluster (and the single PostgreSQL) in a data dir of its own."""
    settings = load_settings(data_dir=tmp_path_factory.mktemp("cluster"))
    started = time.monotonic()
    stack_up(settings, report=lambda m: print(m, file=sys.stderr), brokers=3)
    print(f"cluster stack up in {time.monotonic() - started:.1f}s", file=sys.stderr)
    try:
        yield settings
    finally:
        stack_down(settings, purge=True)


@pytest.fixture
def topic(cluster: Settings) -> KafkaConfig:
    """A new 3-partition topic on the cluster, with full ISR."""
    config = new_topic(kafka_config(cluster))
    wait_for_isr(config, [config.topic], timeout=60)
    return config


def _heal(settings: Settings) -> None:
    """Start any node a failed test left down, so the next test gets three."""
    state = read_state(settings.data_dir)
    for node in state.kafka_nodes if state else []:
        if psutil.pid_exists(node.pid) and node.alive():
            psutil.Process(node.pid).resume()
        else:
            start_node(settings, int(node.extra["node_id"]))


@pytest.fixture(autouse=True)
def healed(cluster: Settings) -> Iterator[None]:
    yield
    _heal(cluster)


def test_cluster_is_three_jvms_with_rf3_and_full_isr(cluster: Settings, topic: KafkaConfig) -> None:
    state = read_state(cluster.data_dir)
    assert state and state.kafka is None and len(state.kafka_nodes) == 3
    pids = {node_pid(cluster, n) for n in (1, 2, 3)}
    assert len(pids) == 3, "each node is its own process"
    homes = set()
    for n in (1, 2, 3):
        proc = psutil.Process(node_pid(cluster, n))
        assert "kafka.Kafka" in proc.cmdline() and "-Xmx384m" in proc.cmdline()
        homes.add(proc.cwd())
        print(f"node {n}: rss {proc.memory_info().rss / 2**20:.0f} MiB", file=sys.stderr)
    assert len(homes) == 3, "each node has its own storage directory"
    rows = {row.name: row for row in stack_status(cluster)}
    assert rows["kafka"].detail == "3 broker(s)"
    assert all(rows[f"kafka node {n}"].healthy for n in (1, 2, 3)), rows
    config = kafka_config(cluster)
    assert config.bootstrap.count(",") == 2
    admin = config.admin()
    meta = admin.list_topics(timeout=10)
    for name in (config.topic, config.dlq_topic, "__consumer_offsets", topic.topic):
        for part in meta.topics[name].partitions.values():
            assert len(part.replicas) == 3 and len(part.isrs) == 3, (name, part)
    for name in (config.topic, config.dlq_topic, "__consumer_offsets"):
        res = ConfigResource("topic", name)
        conf = admin.describe_configs([res])[res].result()
        assert conf["min.insync.replicas"].value == "2", name
        assert conf["unclean.leader.election.enable"].value == "false", name
    assert not [p for p in stack_partitions(cluster) if p.under_replicated]
    again = stack_up(cluster)  # no flag: the recorded 3-node shape, the same processes
    assert {int(n.pid) for n in again.kafka_nodes} == pids


def test_killing_a_leader_elects_another_and_acks_all_keeps_working(
    cluster: Settings, topic: KafkaConfig
) -> None:
    victim = partition_leader(topic, topic.topic, 0)
    with Traffic(topic) as traffic:
        traffic.wait_acked(200)
        killed_at = time.monotonic()
        kill_node(cluster, victim)
        leader = wait_for_leader(topic, topic.topic, 0, avoid=victim, timeout=60)
        elected = time.monotonic() - killed_at
        stalled = traffic.wait_acked(500)  # acks=all with 2 replicas in sync: writes go on
        down = {row.name: row for row in stack_status(cluster)}
        assert not down[f"kafka node {victim}"].healthy
        assert [p for p in stack_partitions(cluster) if p.under_replicated]
        rejoin_started = time.monotonic()
        start_node(cluster, victim)
        rejoined = wait_for_isr(topic, [topic.topic], timeout=120)
        rejoin = time.monotonic() - rejoin_started
        traffic.wait_acked(200)
    count = assert_exactly_once(traffic, topic)
    print(
        f"kill -9 node {victim}: new leader {leader} after {elected:.1f}s, 500 acks"
        f" {stalled:.1f}s later; restarted, ISR 3 again after {rejoin:.1f}s"
        f" ({rejoined:.1f}s after it was a live broker); {count} messages exactly once",
        file=sys.stderr,
    )
    assert leader != victim


def test_rolling_restart_loses_and_doubles_nothing(cluster: Settings, topic: KafkaConfig) -> None:
    config = kafka_config(cluster)
    before = {n: node_pid(cluster, n) for n in (1, 2, 3)}
    with Traffic(topic) as traffic:
        traffic.wait_acked(200)
        took = rolling_restart(cluster, config, [topic.topic, config.topic, "__consumer_offsets"])
        traffic.wait_acked(200)
    after = {n: node_pid(cluster, n) for n in (1, 2, 3)}
    assert all(before[n] != after[n] for n in before), "every node got a new process"
    count = assert_exactly_once(traffic, topic)
    print(
        "rolling restart, per node stop->ISR 3: "
        + ", ".join(f"{t:.1f}s" for t in took)
        + f"; {count} messages exactly once",
        file=sys.stderr,
    )


def test_paused_broker_is_fenced_then_rejoins(cluster: Settings, topic: KafkaConfig) -> None:
    victim = partition_leader(topic, topic.topic, 0)
    with Traffic(topic) as traffic:
        traffic.wait_acked(200)
        paused_at = time.monotonic()
        pause_node(cluster, victim)
        try:
            leader = wait_for_leader(topic, topic.topic, 0, avoid=victim, timeout=60)
            moved = time.monotonic() - paused_at
            assert moved >= SESSION_TIMEOUT * 0.5, "fenced only once heartbeats stopped"
            stopped = {row.name: row for row in stack_status(cluster)}[f"kafka node {victim}"]
            assert not stopped.healthy and "paused" in stopped.detail
            wait_until(lambda: time.monotonic() - paused_at > SESSION_TIMEOUT + 8, 60, "pause")
            traffic.wait_acked(300)
        finally:
            resume_node(cluster, victim)
        resumed_at = time.monotonic()
        rejoined = wait_for_isr(topic, [topic.topic], timeout=120)
        traffic.wait_acked(200)
    assert kafka_node(cluster, victim).alive(), "the paused node lives on"
    count = assert_exactly_once(traffic, topic)
    print(
        f"SIGSTOP node {victim} for {resumed_at - paused_at:.1f}s: leader {leader} after"
        f" {moved:.1f}s; after SIGCONT, ISR 3 again in {rejoined:.1f}s;"
        f" {count} messages exactly once",
        file=sys.stderr,
    )


def test_other_sizes_are_refused_in_one_line(cluster: Settings) -> None:
    env = {"SUPERSTORE_DATA_DIR": str(cluster.data_dir), "PATH": "/usr/bin:/bin"}
    for flag, needle in (("1", "3-broker stack"), ("2", "--brokers takes 1 or 3")):
        result = subprocess.run(
            [sys.executable, "-m", "superstore", "stack", "up", "--brokers", flag],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert needle in result.stderr and "Traceback" not in result.stderr


def test_down_stops_every_node_and_up_brings_the_same_cluster_back(cluster: Settings) -> None:
    state = read_state(cluster.data_dir)
    pids = [n.pid for n in state.kafka_nodes] + [state.postgres.pid]
    bootstrap = state.kafka_bootstrap
    stack_down(cluster)
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    started = time.monotonic()
    restarted = stack_up(cluster)  # no flag: the recorded shape
    print(f"cluster restarted on its storage in {time.monotonic() - started:.1f}s", file=sys.stderr)
    assert len(restarted.kafka_nodes) == 3 and restarted.kafka_bootstrap == bootstrap
    config = kafka_config(cluster)
    assert config.ping() == 3
    wait_for_isr(config, [config.topic], timeout=60)
