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
from superstore.stack.broker_auth import (
    BrokerAuth,
    create_broker_auth,
    read_broker_auth,
    secure_properties,
)
from superstore.stack.state import (
    KafkaAuth,
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
    "local_kafka_auth",
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
    saved_path.chmod(0o600)
    return broker, controller


_LISTENER_KEYS = ("listeners=", "advertised.listeners=", "inter.broker.listener.name=",
                  "listener.security.protocol.map=")  # fmt: skip


def _write_properties(
    home: Path, broker: int, controller: int, auth: BrokerAuth | None = None
) -> Path:
    """server.properties from the template; with `auth`, SASL_SSL listeners replace PLAINTEXT."""
    template = resource_path("server.properties.template").read_text()
    text = (
        template.replace("${BROKER_PORT}", str(broker))
        .replace("${CONTROLLER_PORT}", str(controller))
        .replace("${DATA_DIR}", str(home / "logs"))
    )
    if auth:
        kept = [line for line in text.splitlines() if not line.startswith(_LISTENER_KEYS)]
        text = "\n".join(kept) + "\n" + secure_properties(auth, broker, controller)
    path = home / "server.properties"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)  # with auth it holds the broker's own passwords
    return path


def _broker_auth(home: Path, secure: bool | None) -> BrokerAuth | None:
    """The broker's SASL/SCRAM material: kept with formatted storage, made before a format.

    `secure` None keeps what the storage was formatted with. SCRAM users are
    created by the format, so switching a formatted storage either way is refused.
    """
    formatted = (home / "logs" / "meta.properties").exists()
    existing = read_broker_auth(home) if formatted else None
    if not formatted:
        return create_broker_auth(home) if secure else None
    if secure is not None and secure != (existing is not None):
        now = "SASL_SSL" if existing else "PLAINTEXT"
        raise ConfigError(
            f"the local broker's storage in {home} was formatted {now}; "
            f"--{'' if secure else 'no-'}kafka-secure cannot change that",
            hint="`superstore stack down --purge` deletes the broker's data, then `stack up` again",
        )
    return existing


def local_kafka_auth(home: Path) -> KafkaAuth | None:
    """What clients of the broker in `home` need to authenticate (None: PLAINTEXT)."""
    auth = read_broker_auth(home.resolve())
    return auth.client_auth() if auth else None


def new_cluster_id() -> str:
    """A random KRaft cluster id (16 bytes, URL-safe base64, as kafka-storage random-uuid)."""
    return base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")


def format_storage(
    java: str,
    libs: Path,
    props: Path,
    home: Path,
    cluster_id: str | None = None,
    auth: BrokerAuth | None = None,
) -> None:
    """Format `home/logs` for the node in `props` once; every node of a cluster shares one id.

    With `auth` the format also creates its SCRAM users. Their passwords go to
    the JVM in a 0600 argument file (`java @file`), never on a command line
    that any local user could read in /proc while the format runs.
    """
    if (home / "logs" / "meta.properties").exists():
        return
    # "--cluster-id=" form: a random id may start with "-", which would parse as an option.
    cluster_id = cluster_id or new_cluster_id()
    tool = [
        "kafka.tools.StorageTool", "format",
        f"--cluster-id={cluster_id}", "-c", str(props), "--ignore-formatted",
        *(auth.scram_arguments() if auth else []),
    ]  # fmt: skip
    argfile = home / "format.args"
    fd = os.open(argfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(f'"{arg}"' for arg in tool) + "\n")
    cmd = [
        java, f"-Dlog4j2.configurationFile={resource_path('log4j2.properties')}",
        "-cp", f"{libs}/*", f"@{argfile}",
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, umask=0o077)
    finally:
        argfile.unlink(missing_ok=True)
    if proc.returncode != 0:
        err = proc.stderr.strip()[-400:]
        for secret in (auth.broker_password, auth.client_password) if auth else ():
            err = err.replace(secret, "***")
        raise FatalError(f"formatting Kafka storage failed: {err}")


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
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as log:
        # umask 077: the broker's segments, checkpoints and logs are its owner's only.
        return subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=props.parent, umask=0o077,
        )  # fmt: skip


def start_kafka(
    home: Path,
    cache_dir: Path,
    java_home: Path | None,
    port: int,
    report: Report,
    secure: bool | None = None,
) -> ServiceState:
    """Start the broker (resolving jars on first use) and wait until it answers.

    `secure` True formats new storage for SASL/SCRAM over TLS (see
    `superstore.stack.broker_auth`); None keeps what the storage was formatted
    with; `local_kafka_auth(home)` then says how clients authenticate.
    """
    java = find_java(java_home)
    libs, resolve_seconds = resolve_kafka_jars(cache_dir)
    if resolve_seconds:
        report(f"resolved Kafka jars from Maven Central in {resolve_seconds:.1f}s (cached)")
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    auth = _broker_auth(home, secure)
    broker, controller = _ports(home, port)
    props = _write_properties(home, broker, controller, auth)
    format_storage(java.path, libs, props, home, auth=auth)
    log_path = home / "broker.log"
    started = time.monotonic()
    proc = spawn_broker(java.path, libs, props, log_path, heap=("256m", "768m"))
    state = ServiceState(
        pid=proc.pid, port=broker, address=f"127.0.0.1:{broker}", log=str(log_path),
        marker=str(props), extra={"controller_port": controller},
    )  # fmt: skip
    security = auth.client_auth().librdkafka() if auth else {}
    config = KafkaConfig(bootstrap=state.address, topic="", dlq_topic="", security=security)
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
    protocol = f" (SASL_SSL, {auth.client_auth().sasl_mechanism})" if auth else ""
    report(f"Kafka broker up at {state.address}{protocol} in {time.monotonic() - started:.1f}s")
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
