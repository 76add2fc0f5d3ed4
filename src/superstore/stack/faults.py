"""What a failover test does to a machine of the local stack, by node id.

Each function acts on the processes recorded in the stack state of
`settings.data_dir` and keeps that record true (a restarted node's new pid is
written back), so tests and `stack status` agree on what runs:

- Kafka nodes: `node_pid`, `kill_node` (kill -9), `stop_node` / `start_node`
  (clean stop and start: a rolling restart is both for each node in turn, see
  `rolling_restart`), `pause_node` / `resume_node` (SIGSTOP / SIGCONT: a node
  that hangs without dying);
- partitions: `partition_leader`, `wait_for_leader`, `wait_for_isr`;
- PostgreSQL: `kill_pg_primary` (kill -9 of the postmaster and its backends);
  promotion is `superstore.stack.standby.failover`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import psutil

from superstore.clients import KafkaConfig
from superstore.errors import ConfigError, TransientError
from superstore.settings import Settings
from superstore.stack.cluster import partition_states, start_nodes, stop_nodes
from superstore.stack.standby import kill_server
from superstore.stack.state import ServiceState, read_state, stack_lock, wait_gone, write_state

__all__ = [
    "kafka_node",
    "kill_node",
    "kill_pg_primary",
    "node_pid",
    "partition_leader",
    "pause_node",
    "resume_node",
    "rolling_restart",
    "start_node",
    "stop_node",
    "wait_for_isr",
    "wait_for_leader",
]


def kafka_node(settings: Settings, node_id: int) -> ServiceState:
    """The recorded process of Kafka node `node_id` (1-based) of the local cluster."""
    state = read_state(settings.data_dir)
    for node in state.kafka_nodes if state else []:
        if int(node.extra["node_id"]) == node_id:
            return node
    raise ConfigError(
        f"no Kafka node {node_id} in the local stack of {settings.data_dir}",
        hint="start a cluster with `superstore stack up --brokers 3`",
    )


def node_pid(settings: Settings, node_id: int) -> int:
    """Pid of the node's JVM (whether or not it still runs: see `ServiceState.alive`)."""
    return kafka_node(settings, node_id).pid


def kill_node(settings: Settings, node_id: int) -> None:
    """kill -9 the node's JVM, as a lost machine: no controlled shutdown, no flush."""
    node = kafka_node(settings, node_id)
    if not node.alive():
        raise TransientError(f"Kafka node {node_id} (pid {node.pid}) is not running")
    proc = psutil.Process(node.pid)
    proc.kill()
    wait_gone([proc], timeout=10)


def stop_node(settings: Settings, node_id: int) -> None:
    """Stop the node cleanly (SIGTERM: controlled shutdown moves its leaders away first)."""
    if not stop_nodes([kafka_node(settings, node_id)]):
        raise TransientError(f"Kafka node {node_id} is not running")


def start_node(settings: Settings, node_id: int) -> float:
    """Start a stopped or killed node on its own ports and storage.

    Returns the seconds until it was a live broker again (not yet in sync).
    """
    with stack_lock(settings.data_dir):
        state = read_state(settings.data_dir)
        node = kafka_node(settings, node_id)
        if node.alive():
            raise TransientError(f"Kafka node {node_id} is already running (pid {node.pid})")
        assert state is not None  # kafka_node found it there
        seconds = start_nodes(settings, state, [node_id])
        write_state(settings.data_dir, state)
    return seconds


def pause_node(settings: Settings, node_id: int) -> None:
    """SIGSTOP the node: it holds its sockets but answers nothing, like a hung machine."""
    psutil.Process(kafka_node(settings, node_id).pid).suspend()


def resume_node(settings: Settings, node_id: int) -> None:
    """SIGCONT a paused node."""
    psutil.Process(kafka_node(settings, node_id).pid).resume()


def partition_leader(config: KafkaConfig, topic: str, partition: int = 0) -> int:
    """Node id leading the partition now (-1 while none is)."""
    for part in partition_states(config, [topic]):
        if part.partition == partition:
            return part.leader
    raise ConfigError(f"topic {topic} has no partition {partition}")


def wait_for_leader(
    config: KafkaConfig,
    topic: str,
    partition: int = 0,
    avoid: int | None = None,
    timeout: float = 60.0,
) -> int:
    """Wait until the partition has a leader other than `avoid`; its node id."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            leader = partition_leader(config, topic, partition)
        except Exception:  # metadata unavailable while the quorum re-forms
            leader = -1
        if leader >= 0 and leader != avoid:
            return leader
        if time.monotonic() > deadline:
            raise TransientError(
                f"{topic}/{partition} had no leader other than {avoid} after {timeout:.0f}s"
            )
        time.sleep(0.25)


def wait_for_isr(
    config: KafkaConfig, topics: Iterable[str], size: int = 3, timeout: float = 120.0
) -> float:
    """Wait until every partition of `topics` has `size` in-sync replicas; the seconds it took."""
    names = list(topics)
    started = time.monotonic()
    while True:
        try:
            parts = partition_states(config, names)
        except Exception:
            parts = []
        if parts and all(len(p.isr) >= size and p.leader >= 0 for p in parts):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            short = [
                f"{p.topic}/{p.partition} isr={list(p.isr)}" for p in parts if len(p.isr) < size
            ]
            raise TransientError(f"ISR not back to {size} after {timeout:.0f}s: {short}")
        time.sleep(0.5)


def rolling_restart(
    settings: Settings, config: KafkaConfig, topics: Iterable[str], timeout: float = 120.0
) -> list[float]:
    """Stop and start each node in turn, waiting for full ISR before the next one.

    Returns, per node, the seconds from its stop to the ISR being full again.
    """
    names = list(topics)
    took = []
    state = read_state(settings.data_dir)
    if state is None:
        raise ConfigError("no local stack is running", hint="run `superstore stack up --brokers 3`")
    for node_id in sorted(int(n.extra["node_id"]) for n in state.kafka_nodes):
        started = time.monotonic()
        stop_node(settings, node_id)
        start_node(settings, node_id)
        wait_for_isr(config, names, timeout=timeout)
        took.append(time.monotonic() - started)
    return took


def kill_pg_primary(settings: Settings) -> int:
    """kill -9 the PostgreSQL primary's postmaster and backends; the pid it had."""
    state = read_state(settings.data_dir)
    if not state or not state.postgres or not kill_server(state.postgres):
        raise TransientError("no running local PostgreSQL primary to kill")
    return state.postgres.pid
