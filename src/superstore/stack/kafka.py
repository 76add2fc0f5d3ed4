"""The embedded Apache Kafka broker: one KRaft node on loopback.

Storage is formatted once per data directory; ports are kept across restarts
when still free, so clients configured from `stack env` keep working.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]  # exported, not in __all__ of its stubs

from superstore.clients import KafkaConfig
from superstore.errors import ConfigError, FatalError, TransientError
from superstore.stack.state import (
    ServiceState,
    free_port,
    port_in_use,
    process_alive,
    wait_gone,
)
from superstore.stack.tools import find_java, resolve_kafka_jars, resource_path

__all__ = [
    "create_topics",
    "format_storage",
    "new_cluster_id",
    "replication_for",
    "spawn_broker",
    "start_kafka",
    "stop_process",
]

Report = Callable[[str], None]
START_TIMEOUT = 120.0


def _ports(home: Path, wanted: int) -> tuple[int, int]:
    """Broker and controller ports: the configured one, else last run's, else free ones."""
    saved_path = home / "ports.json"
    saved = json.loads(saved_path.read_text()) if saved_path.exists() else {}
    if wanted:
        if port_in_use(wanted):
            raise ConfigError(
                f"port {wanted} on 127.0.0.1 is already in use, the Kafka broker cannot bind it",
                hint="set SUPERSTORE_KAFKA_PORT to a free port, or 0 to pick one",
            )
        broker = wanted
    else:
        broker = saved.get("broker", 0)
        if not broker or port_in_use(broker):
            broker = free_port()
    controller = saved.get("controller", 0)
    if not controller or controller == broker or port_in_use(controller):
        controller = free_port()
        while controller == broker:
            controller = free_port()
    saved_path.write_text(json.dumps({"broker": broker, "controller": controller}))
    return broker, controller


def _write_properties(home: Path, broker: int, controller: int) -> Path:
    template = resource_path("server.properties.template").read_text()
    text = (
        template.replace("${BROKER_PORT}", str(broker))
        .replace("${CONTROLLER_PORT}", str(controller))
        .replace("${DATA_DIR}", str(home / "logs"))
    )
    path = home / "server.properties"
    path.write_text(text)
    return path


def new_cluster_id() -> str:
    """A random KRaft cluster id (16 bytes, URL-safe base64, as kafka-storage random-uuid)."""
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


def format_storage(
    java: str, libs: Path, props: Path, home: Path, cluster_id: str | None = None
) -> None:
    """Format `home/logs` for the node in `props` once; every node of a cluster shares one id."""
    if (home / "logs" / "meta.properties").exists():
        return
    # "--cluster-id=" form: a random id may start with "-", which would parse as an option.
    cluster_id = cluster_id or new_cluster_id()
    cmd = [
        java, f"-Dlog4j2.configurationFile={resource_path('log4j2.properties')}",
        "-cp", f"{libs}/*", "kafka.tools.StorageTool", "format",
        f"--cluster-id={cluster_id}", "-c", str(props), "--ignore-formatted",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise FatalError(f"formatting Kafka storage failed: {proc.stderr.strip()[-400:]}")


def spawn_broker(
    java: str, libs: Path, props: Path, log_path: Path, heap: tuple[str, str]
) -> subprocess.Popen[bytes]:
    """Start one broker JVM in its own session (it outlives the command), logging to `log_path`.

    `heap` is (-Xms, -Xmx); the process runs in the directory of `props`.
    """
    cmd = [
        java, f"-Xms{heap[0]}", f"-Xmx{heap[1]}", "-XX:+UseG1GC",
        f"-Dlog4j2.configurationFile={resource_path('log4j2.properties')}",
        "-cp", f"{libs}/*", "kafka.Kafka", str(props),
    ]  # fmt: skip
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=props.parent,
        )  # fmt: skip


def start_kafka(
    home: Path, cache_dir: Path, java_home: Path | None, port: int, report: Report
) -> ServiceState:
    """Start the broker (resolving jars on first use) and wait until it answers."""
    java = find_java(java_home)
    libs, resolve_seconds = resolve_kafka_jars(cache_dir)
    if resolve_seconds:
        report(f"resolved Kafka jars from Maven Central in {resolve_seconds:.1f}s (cached)")
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    broker, controller = _ports(home, port)
    props = _write_properties(home, broker, controller)
    format_storage(java.path, libs, props, home)
    log_path = home / "broker.log"
    started = time.monotonic()
    proc = spawn_broker(java.path, libs, props, log_path, heap=("256m", "768m"))
    state = ServiceState(
        pid=proc.pid, port=broker, address=f"127.0.0.1:{broker}", log=str(log_path),
        marker=str(props), extra={"controller_port": controller},
    )  # fmt: skip
    config = KafkaConfig(bootstrap=state.address, topic="", dlq_topic="")
    while True:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            raise FatalError(
                f"Kafka broker exited with code {proc.returncode}: " + " | ".join(tail),
                hint=f"see {log_path}",
            )
        try:
            config.ping(timeout=1.0)
            break
        except TransientError:
            if time.monotonic() - started > START_TIMEOUT:
                stop_process(state.pid, state.marker)
                raise FatalError(
                    f"Kafka broker did not answer within {START_TIMEOUT:.0f}s",
                    hint=f"see {log_path}",
                ) from None
            time.sleep(0.3)
    report(f"Kafka broker up at {state.address} in {time.monotonic() - started:.1f}s")
    return state


def replication_for(brokers: int) -> tuple[int, dict[str, str]]:
    """Replication factor and topic settings for a cluster of `brokers` brokers.

    From 3 brokers on: 3 replicas, and an acks=all write needs 2 of them
    (min.insync.replicas=2), so one broker can be lost without losing a
    write or refusing one; never an out-of-sync replica as leader.
    """
    if brokers >= 3:
        return 3, {"min.insync.replicas": "2", "unclean.leader.election.enable": "false"}
    return 1, {}


def create_topics(config: KafkaConfig, report: Report) -> None:
    """Create the lines topic and its dead-letter topic if they do not exist.

    Both keep every message (retention.ms=-1): `superstore check` reconciles
    PostgreSQL against the whole lines topic, and dead letters wait for a person.
    Their replication follows the cluster's size (`replication_for`).
    """
    admin = config.admin()
    meta = admin.list_topics(timeout=10)
    existing = set(meta.topics)
    replicas, topic_conf = replication_for(len(meta.brokers))
    topic_conf["retention.ms"] = "-1"
    wanted = [
        NewTopic(config.topic, config.partitions, replicas, config=topic_conf),
        NewTopic(config.dlq_topic, 1, replicas, config=topic_conf),
    ]
    missing = [t for t in wanted if t.topic not in existing]
    if not missing:
        return
    for topic, future in admin.create_topics(missing, operation_timeout=30).items():
        try:
            future.result()
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise TransientError(f"could not create topic {topic}: {exc}") from exc
        report(f"created topic {topic}")


def warm_group_coordinator(config: KafkaConfig, report: Report, timeout: float = 60.0) -> None:
    """Join a throwaway consumer group once, so the broker creates its offsets topic now.

    A new broker creates `__consumer_offsets` on the first group join, which
    took 3-4 s here; without this the first `superstore ingest` pays it.
    """
    started = time.monotonic()
    consumer = config.consumer(f"superstore-warmup-{uuid.uuid4().hex[:8]}")
    try:
        consumer.subscribe([config.topic])
        while not consumer.assignment():
            if time.monotonic() - started > timeout:
                raise TransientError(
                    f"no consumer group could join on the broker in {timeout:.0f}s"
                )
            consumer.poll(0.1)
    finally:
        consumer.close()
    report(f"consumer groups ready in {time.monotonic() - started:.1f}s")


def stop_process(pid: int, marker: str, timeout: float = 30.0) -> bool:
    """SIGTERM our process, SIGKILL after `timeout`; False if it was not running."""
    if not process_alive(pid, marker):
        return False
    proc = psutil.Process(pid)
    proc.terminate()
    if wait_gone([proc], timeout):
        proc.kill()
        wait_gone([proc], 10)
    return True
