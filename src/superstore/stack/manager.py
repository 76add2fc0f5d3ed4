"""`stack up | down | status | env`: the local stack's lifecycle, idempotently.

Each service is either started here (recorded in the state file) or taken
from configuration (an existing Kafka cluster or PostgreSQL DSN), in which
case the stack never starts, stops or deletes anything for it.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from superstore.clients import PgConfig
from superstore.errors import ConfigError, SuperstoreError
from superstore.settings import Settings
from superstore.stack.cluster import cluster_health, start_cluster, stop_nodes
from superstore.stack.kafka import (
    create_topics,
    local_kafka_auth,
    start_kafka,
    stop_process,
    warm_group_coordinator,
)
from superstore.stack.postgres import start_postgres, stop_postgres
from superstore.stack.resolve import kafka_config, pg_config
from superstore.stack.standby import pg_health, start_pg_nodes, stop_pg_node
from superstore.stack.state import (
    StackState,
    clear_state,
    read_state,
    stack_lock,
    write_state,
)
from superstore.stack.topology import PG_NODES, clear_topology, resolve_topology, write_topology

__all__ = ["ServiceStatus", "stack_down", "stack_env", "stack_status", "stack_up"]

Report = Callable[[str], None]


@dataclass(frozen=True)
class ServiceStatus:
    """One line of `stack status`."""

    name: str
    origin: str  # "local" or "external"
    address: str
    healthy: bool
    detail: str


def _quiet(_: str) -> None:
    return None


def _private_files(start: Callable[..., StackState]) -> Callable[..., StackState]:
    """Start the services under umask 077 and leave their logs 0600 (older ones were 0644).

    The umask is inherited by the servers, so their data and logs are the
    owner's only; it is restored afterwards (we may run inside a test or `run`).
    """

    @functools.wraps(start)
    def wrapper(*args: Any, **kwargs: Any) -> StackState:
        previous = os.umask(0o077)
        try:
            state = start(*args, **kwargs)
        finally:
            os.umask(previous)
        services = [state.kafka, state.postgres, state.pg_standby, *state.kafka_nodes]
        for service in services:
            if service and service.log and Path(service.log).is_file():
                Path(service.log).chmod(0o600)
        return state

    return wrapper


@_private_files
def stack_up(
    settings: Settings,
    report: Report = _quiet,
    brokers: int | None = None,
    pg_standby: bool | None = None,
    kafka_secure: bool | None = None,
) -> StackState:
    """Start whatever is configured to run locally and is not running yet.

    `brokers` (1 or 3) and `pg_standby` choose the stack's shape; None keeps
    the shape recorded for this data dir (see `superstore.stack.topology`).
    `kafka_secure` starts the single local broker with SASL/SCRAM over TLS
    (`superstore.stack.broker_auth`); None keeps what its storage was formatted with.
    """
    with stack_lock(settings.data_dir):
        state = read_state(settings.data_dir) or StackState()
        external = bool(settings.kafka_bootstrap)
        topology = resolve_topology(settings.data_dir, brokers, pg_standby, external)
        if kafka_secure and (settings.kafka_bootstrap or topology.brokers > 1):
            raise ConfigError(
                "--kafka-secure secures the single local broker: "
                + ("SUPERSTORE_KAFKA_BOOTSTRAP names an external cluster"
                   if settings.kafka_bootstrap else "a local cluster runs PLAINTEXT only"),
                hint="configure the external cluster's security with SUPERSTORE_KAFKA_* settings"
                if settings.kafka_bootstrap else "use --brokers 1 with --kafka-secure",
            )  # fmt: skip
        write_topology(settings.data_dir, topology)
        started_kafka = False
        if settings.kafka_bootstrap:
            state.kafka = None
            state.kafka_nodes = []
            report(f"Kafka: using external cluster {settings.kafka_bootstrap}")
        elif topology.brokers > 1:
            started_kafka = start_cluster(settings, state, report)
            write_state(settings.data_dir, state)
        elif state.kafka and state.kafka.alive():
            if kafka_secure is not None and kafka_secure != (state.kafka_auth is not None):
                raise ConfigError(
                    f"the local broker runs {'SASL_SSL' if state.kafka_auth else 'PLAINTEXT'}; "
                    "a running broker's security cannot change",
                    hint="`superstore stack down --purge`, then `stack up` with the option again",
                )
            report(f"Kafka: already running at {state.kafka.address} (pid {state.kafka.pid})")
        else:
            started_kafka = True
            state.kafka = start_kafka(
                settings.data_dir / "kafka",
                settings.cache_dir,
                settings.java_home,
                settings.kafka_port,
                report,
                secure=kafka_secure,
            )
            state.kafka_auth = local_kafka_auth(settings.data_dir / "kafka")
            write_state(settings.data_dir, state)
        if settings.kafka_bootstrap or topology.brokers > 1:
            state.kafka_auth = None
        if settings.pg_dsn_value:
            state.postgres = state.pg_standby = None
            report("PostgreSQL: using external server from SUPERSTORE_PG_DSN")
        elif topology.pg_pair or (settings.data_dir / PG_NODES[1]).exists():
            start_pg_nodes(settings, state, topology, report)  # also removes an unwanted standby
        elif state.postgres and state.postgres.alive():
            report(f"PostgreSQL: already running at 127.0.0.1:{state.postgres.port}")
        else:
            state.postgres = start_postgres(
                settings.data_dir / "postgres", settings.pg_port, report
            )
        write_state(settings.data_dir, state)
        kafka = kafka_config(settings)
        create_topics(kafka, report)
        if started_kafka:
            warm_group_coordinator(kafka, report)
        return state


def stack_down(settings: Settings, purge: bool = False, report: Report = _quiet) -> None:
    """Stop exactly what `stack up` started; with `purge`, delete its data too."""
    with stack_lock(settings.data_dir):
        state = read_state(settings.data_dir)
        if state and state.kafka:
            stopped = stop_process(state.kafka.pid, state.kafka.marker)
            report("Kafka: stopped" if stopped else "Kafka: was not running")
        if state and state.kafka_nodes:
            count = stop_nodes(state.kafka_nodes)
            report(f"Kafka: stopped {count} running nodes of {len(state.kafka_nodes)}")
        if state and state.postgres:
            stopped = stop_postgres(state.postgres)
            report("PostgreSQL: stopped" if stopped else "PostgreSQL: was not running")
        if state and state.pg_standby:
            stopped = stop_pg_node(state.pg_standby)
            role = state.pg_standby.extra.get("role", "standby")
            report(f"PostgreSQL {role}: " + ("stopped" if stopped else "was not running"))
        if not state:
            report("nothing to stop: no local stack recorded in " + str(settings.data_dir))
        clear_state(settings.data_dir)
        if purge:
            for sub in ("kafka", *PG_NODES):
                shutil.rmtree(settings.data_dir / sub, ignore_errors=True)
            clear_topology(settings.data_dir)
            report(f"purged Kafka and PostgreSQL data under {settings.data_dir}")


def stack_status(settings: Settings) -> list[ServiceStatus]:
    """Health of each service, local or external."""
    state = read_state(settings.data_dir) or StackState()
    out: list[ServiceStatus] = []
    try:
        kafka = kafka_config(settings)
        origin = "external" if settings.kafka_bootstrap else "local"
        if origin == "local" and state.kafka and not state.kafka.alive():
            out.append(ServiceStatus("kafka", origin, kafka.bootstrap, False, "process gone"))
        else:
            # A secured listener says so ("1 broker(s), SASL_SSL SCRAM-SHA-512").
            protocol = kafka.security.get("security.protocol", "PLAINTEXT")
            if "sasl.mechanism" in kafka.security:
                protocol += f" {kafka.security['sasl.mechanism']}"
            shown = "" if protocol.upper() == "PLAINTEXT" else f", {protocol}"
            try:
                brokers = kafka.ping(timeout=3.0)
                out.append(
                    ServiceStatus(
                        "kafka", origin, kafka.bootstrap, True, f"{brokers} broker(s){shown}"
                    )
                )
            except SuperstoreError as exc:  # unreachable, or a setting librdkafka refuses
                out.append(ServiceStatus("kafka", origin, kafka.bootstrap, False, str(exc)))
        if origin == "local" and state.kafka_nodes:
            out += [ServiceStatus(n.name, origin, n.address, n.healthy, n.detail)
                    for n in cluster_health(state, kafka)]  # fmt: skip
    except SuperstoreError as exc:  # nothing configured, no local stack
        out.append(ServiceStatus("kafka", "local", "-", False, f"not started: {exc}"))
    try:
        pg = pg_config(settings)
        origin = "external" if settings.pg_dsn_value else "local"
        out.append(ServiceStatus("postgres", origin, pg.display, *_pg_answers(pg)))
        if origin == "local" and state.pg_standby:
            out += [ServiceStatus(n.name, origin, n.address, n.healthy, n.detail)
                    for n in pg_health(state)]  # fmt: skip
    except SuperstoreError as exc:
        out.append(ServiceStatus("postgres", "local", "-", False, f"not started: {exc}"))
    return out


def _pg_answers(pg: PgConfig) -> tuple[bool, str]:
    """Whether the server answers a query, and if not the driver's first line of why."""
    try:
        with pg.connect(autocommit=True, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except SuperstoreError as exc:
        return False, str(exc.__cause__ or exc).strip().splitlines()[0]
    return True, "ok"


def stack_env(settings: Settings) -> dict[str, str]:
    """Connection settings as environment variables, for other tools and scripts."""
    kafka = kafka_config(settings)
    pg = pg_config(settings)
    security = {
        f"SUPERSTORE_KAFKA_{key.upper().replace('.', '_')}": kafka.security[key]
        for key in (
            "security.protocol",
            "sasl.mechanism",
            "sasl.username",
            "sasl.password",
            "ssl.ca.location",
        )
        if kafka.security.get(key)
    }
    return {
        "SUPERSTORE_KAFKA_BOOTSTRAP": kafka.bootstrap,
        **security,
        "SUPERSTORE_PG_DSN": pg.dsn,
        "SUPERSTORE_TOPIC": kafka.topic,
        "SUPERSTORE_DLQ_TOPIC": kafka.dlq_topic,
        "SUPERSTORE_DATA_DIR": str(settings.data_dir.resolve()),
    }
