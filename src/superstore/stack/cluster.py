"""A local Kafka cluster: three KRaft nodes on loopback, from the same Maven jars as one broker.

Each node is its own JVM with its own storage (`<data_dir>/kafka/node-N`),
ports and log; all are broker and controller, with a static 3-voter quorum,
formatted once with one cluster id. It exists to prove what a managed
cluster (MSK) promises: losing one machine loses and doubles nothing. The
nodes must start together (a controller needs a majority of voters before any
broker registers), so `start_cluster` spawns every missing node, then waits.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from confluent_kafka import KafkaException

from superstore.clients import KafkaConfig
from superstore.errors import ConfigError, FatalError
from superstore.settings import Settings
from superstore.stack.kafka import format_storage, new_cluster_id, spawn_broker
from superstore.stack.resolve import kafka_config
from superstore.stack.state import (
    NodeHealth,
    ServiceState,
    StackState,
    free_port,
    port_in_use,
    read_state,
    wait_gone,
)
from superstore.stack.tools import find_java, resolve_kafka_jars, resource_path
from superstore.stack.topology import CLUSTER_SIZE

__all__ = [
    "NODE_HEAP",
    "PartitionState",
    "cluster_health",
    "node_home",
    "partition_states",
    "registered_nodes",
    "stack_partitions",
    "start_cluster",
    "start_nodes",
    "stop_nodes",
]

Report = Callable[[str], None]
NODE_HEAP = ("128m", "384m")  # three of them on 2 cores next to PostgreSQL
START_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class PartitionState:
    """Where one partition lives: its leader (-1 when none), replicas and in-sync replicas."""

    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def under_replicated(self) -> bool:
        """Fewer replicas in sync than assigned: one more loss may stop writes."""
        return len(self.isr) < len(self.replicas)


def node_home(data_dir: Path, node_id: int) -> Path:
    """Storage, configuration and log directory of one node."""
    return (data_dir / "kafka" / f"node-{node_id}").resolve()


def _layout_path(data_dir: Path) -> Path:
    return data_dir / "kafka" / "cluster.json"


def _read_layout(data_dir: Path) -> dict[str, Any]:
    try:
        layout = json.loads(_layout_path(data_dir).read_text())
    except (OSError, ValueError):
        return {}
    return layout if isinstance(layout, dict) else {}


def _choose_ports(data_dir: Path, first_port: int) -> dict[int, tuple[int, int]]:
    """Broker and controller port of each node: last run's when free, else new distinct ones.

    Only while the whole cluster is down: a running node knows the others'
    controller ports, so a partial restart keeps them (see `start_cluster`).
    """
    saved = {int(k): tuple(v) for k, v in _read_layout(data_dir).get("ports", {}).items()}
    ports: dict[int, tuple[int, int]] = {}
    taken: set[int] = set()

    def pick(candidate: int) -> int:
        port = candidate
        while not port or port in taken or port_in_use(port):
            port = free_port()
        taken.add(port)
        return port

    for node_id in range(1, CLUSTER_SIZE + 1):
        broker_saved, controller_saved = saved.get(node_id, (0, 0))
        if first_port:
            broker = first_port + node_id - 1
            if port_in_use(broker):
                raise ConfigError(
                    f"port {broker} on 127.0.0.1 is already in use, Kafka node {node_id}"
                    " cannot bind it",
                    hint=f"the cluster's brokers use SUPERSTORE_KAFKA_PORT and the next"
                    f" {CLUSTER_SIZE - 1}; set a free range, or 0 to pick ports",
                )
            taken.add(broker)
        else:
            broker = pick(broker_saved)
        ports[node_id] = (broker, pick(controller_saved))
    return ports


def _write_configs(data_dir: Path, ports: dict[int, tuple[int, int]], cluster_id: str) -> None:
    template = resource_path("cluster.properties.template").read_text()
    voters = ",".join(f"{n}@127.0.0.1:{c}" for n, (_, c) in sorted(ports.items()))
    for node_id, (broker, controller) in ports.items():
        home = node_home(data_dir, node_id)
        home.mkdir(parents=True, exist_ok=True)
        text = (
            template.replace("${NODE_ID}", str(node_id))
            .replace("${VOTERS}", voters)
            .replace("${BROKER_PORT}", str(broker))
            .replace("${CONTROLLER_PORT}", str(controller))
            .replace("${DATA_DIR}", str(home / "logs"))
        )
        (home / "server.properties").write_text(text)
    layout = {"cluster_id": cluster_id, "ports": {str(k): list(v) for k, v in ports.items()}}
    _layout_path(data_dir).write_text(json.dumps(layout, indent=2))


def _node_state(data_dir: Path, node_id: int, pid: int, ports: tuple[int, int]) -> ServiceState:
    home = node_home(data_dir, node_id)
    return ServiceState(
        pid=pid, port=ports[0], address=f"127.0.0.1:{ports[0]}", log=str(home / "broker.log"),
        marker=str(home / "server.properties"),
        extra={"node_id": node_id, "controller_port": ports[1]},
    )  # fmt: skip


def registered_nodes(bootstrap: str, timeout: float = 2.0) -> set[int]:
    """Ids of the nodes the cluster reports as live brokers (registered and not fenced)."""
    config = KafkaConfig(bootstrap=bootstrap, topic="", dlq_topic="")
    try:
        meta = config.admin(log_level=0).list_topics(timeout=timeout)
    except KafkaException:
        return set()
    return {broker.id for broker in meta.brokers.values()}


def start_nodes(settings: Settings, state: StackState, node_ids: Iterable[int]) -> float:
    """Spawn the given nodes from their written configs, wait until each is a live broker.

    Updates `state.kafka_nodes` in place; returns the seconds it took. The
    caller holds the stack lock and writes the state.
    """
    wanted = sorted(node_ids)
    java = find_java(settings.java_home)
    libs, _ = resolve_kafka_jars(settings.cache_dir)
    ports = {int(k): tuple(v) for k, v in _read_layout(settings.data_dir)["ports"].items()}
    started = time.monotonic()
    procs = {}
    for node_id in wanted:
        home = node_home(settings.data_dir, node_id)
        props = home / "server.properties"
        procs[node_id] = spawn_broker(java.path, libs, props, home / "broker.log", NODE_HEAP)
        node = _node_state(settings.data_dir, node_id, procs[node_id].pid, ports[node_id])
        others = [n for n in state.kafka_nodes if n.extra.get("node_id") != node_id]
        state.kafka_nodes = sorted([*others, node], key=lambda n: int(n.extra["node_id"]))
    bootstrap = state.kafka_bootstrap or ""
    while True:
        for node_id, proc in procs.items():
            if proc.poll() is not None:
                log = node_home(settings.data_dir, node_id) / "broker.log"
                tail = log.read_text(errors="replace").strip().splitlines()[-5:]
                stop_nodes([n for n in state.kafka_nodes if n.extra["node_id"] in procs])
                raise FatalError(
                    f"Kafka node {node_id} exited with code {proc.returncode}: " + " | ".join(tail),
                    hint=f"see {log}",
                )
        if set(wanted) <= registered_nodes(bootstrap):
            return time.monotonic() - started
        if time.monotonic() - started > START_TIMEOUT:
            stop_nodes([n for n in state.kafka_nodes if n.extra["node_id"] in procs])
            raise FatalError(
                f"Kafka nodes {wanted} did not register within {START_TIMEOUT:.0f}s",
                hint=f"see the broker.log files under {settings.data_dir / 'kafka'}",
            )
        time.sleep(0.5)


def start_cluster(settings: Settings, state: StackState, report: Report) -> bool:
    """Start every node of the cluster that is not running; True when any was started."""
    data_dir = settings.data_dir
    running = {int(n.extra["node_id"]) for n in state.kafka_nodes if n.alive()}
    missing = [n for n in range(1, CLUSTER_SIZE + 1) if n not in running]
    if not missing:
        report(f"Kafka: cluster already running at {state.kafka_bootstrap}")
        return False
    java = find_java(settings.java_home)
    libs, resolve_seconds = resolve_kafka_jars(settings.cache_dir)
    if resolve_seconds:
        report(f"resolved Kafka jars from Maven Central in {resolve_seconds:.1f}s (cached)")
    layout = _read_layout(data_dir)
    if running:  # the running nodes know the others' ports: keep them
        for node_id in missing:
            broker, controller = layout["ports"][str(node_id)]
            for port in (broker, controller):
                if port_in_use(port):
                    raise FatalError(
                        f"port {port} of Kafka node {node_id} is taken by another process",
                        hint="free it, or `superstore stack down` and up to pick new ports",
                    )
    else:
        cluster_id = layout.get("cluster_id") or new_cluster_id()
        ports = _choose_ports(data_dir, settings.kafka_port)
        _write_configs(data_dir, ports, cluster_id)
        homes = [node_home(data_dir, n) for n in range(1, CLUSTER_SIZE + 1)]
        with ThreadPoolExecutor(len(homes)) as pool:  # one JVM each, ~3 s: side by side
            list(
                pool.map(
                    lambda h: format_storage(
                        java.path, libs, h / "server.properties", h, cluster_id
                    ),
                    homes,
                )
            )
    seconds = start_nodes(settings, state, missing)
    report(
        f"Kafka: {len(missing)} of {CLUSTER_SIZE} nodes started in {seconds:.1f}s,"
        f" cluster at {state.kafka_bootstrap}"
    )
    return True


def stop_nodes(nodes: Iterable[ServiceState], timeout: float = STOP_TIMEOUT) -> int:
    """SIGTERM the running nodes at once (controlled shutdown), SIGKILL after `timeout`.

    All together rather than one by one: the last node alone has no
    controller quorum and would wait in controlled shutdown until killed.
    Returns how many were running.
    """
    procs = [psutil.Process(n.pid) for n in nodes if n.alive()]
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.resume()  # a paused (SIGSTOP) node cannot act on SIGTERM
            proc.terminate()
    alive = wait_gone(procs, timeout)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    wait_gone(alive, 10)
    return len(procs)


def partition_states(
    config: KafkaConfig, topics: Iterable[str] | None = None, timeout: float = 5.0
) -> list[PartitionState]:
    """Leader, replicas and ISR of every partition of `topics` (default: all topics)."""
    meta = config.admin(log_level=0).list_topics(timeout=timeout)
    names = sorted(meta.topics) if topics is None else list(topics)
    out = []
    for name in names:
        topic = meta.topics.get(name)
        if topic is None:
            continue
        for pid, part in sorted(topic.partitions.items()):
            out.append(
                PartitionState(name, pid, part.leader, tuple(part.replicas), tuple(part.isrs))
            )
    return out


def stack_partitions(settings: Settings) -> list[PartitionState]:
    """For `stack status` of a local cluster: every partition of the lines topic and its
    DLQ, and any under-replicated partition of another topic (internal ones included).

    Empty when the stack runs no local cluster or the cluster answers no metadata.
    """
    state = read_state(settings.data_dir)
    if settings.kafka_bootstrap or not state or not state.kafka_nodes:
        return []
    config = kafka_config(settings)
    try:
        parts = partition_states(config, timeout=3.0)
    except Exception:  # no quorum, no metadata: the node lines already say why
        return []
    ours = {config.topic, config.dlq_topic}
    return [p for p in parts if p.topic in ours or p.under_replicated]


def cluster_health(state: StackState, config: KafkaConfig) -> list[NodeHealth]:
    """One line per node: its id, address, pid, and whether it is a live broker."""
    live = registered_nodes(config.bootstrap, timeout=3.0)
    try:
        leaders = [p.leader for p in partition_states(config, timeout=3.0)]
    except Exception:  # a cluster without quorum answers no metadata: nodes still listed
        leaders = []
    out = []
    for node in state.kafka_nodes:
        node_id = int(node.extra["node_id"])
        name = f"kafka node {node_id}"
        if not node.alive():
            out.append(NodeHealth(name, node.address, False, f"pid {node.pid} gone"))
            continue
        if psutil.Process(node.pid).status() == psutil.STATUS_STOPPED:
            out.append(NodeHealth(name, node.address, False, f"pid {node.pid} paused (SIGSTOP)"))
            continue
        if node_id not in live:
            detail = f"pid {node.pid}, not a live broker (starting, or fenced)"
            out.append(NodeHealth(name, node.address, False, detail))
            continue
        led = leaders.count(node_id)
        out.append(NodeHealth(name, node.address, True, f"pid {node.pid}, leads {led} partitions"))
    return out
