"""Which Kafka and which PostgreSQL a command talks to: a setting, else the local stack.

Resolution order for both services: an explicit setting
(``SUPERSTORE_KAFKA_BOOTSTRAP``, ``SUPERSTORE_PG_DSN``), else the running local
stack recorded under the data directory, else a clear error saying how to
get one. The configs returned build their own clients (`superstore.clients`).
"""

from __future__ import annotations

from superstore.clients import KafkaConfig, PgConfig
from superstore.errors import ConfigError
from superstore.settings import Settings
from superstore.stack.state import ADMIN_ROLE, OWNER_ROLE, pg_passwords, read_state

__all__ = ["kafka_config", "kafka_security", "pg_admin_config", "pg_config"]


def kafka_security(settings: Settings) -> dict[str, str]:
    """librdkafka security properties from the settings (the password in clear: never log it)."""
    conf: dict[str, str] = {"security.protocol": settings.kafka_security_protocol}
    if settings.kafka_sasl_mechanism:
        conf["sasl.mechanism"] = settings.kafka_sasl_mechanism
    if settings.kafka_sasl_username:
        conf["sasl.username"] = settings.kafka_sasl_username
    if settings.kafka_sasl_password:
        conf["sasl.password"] = settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_ssl_ca_location:
        conf["ssl.ca.location"] = settings.kafka_ssl_ca_location
    conf.update(settings.kafka_config)
    return conf


def _local(settings: Settings, service: str, setting: str) -> str:
    """What the running local stack says for a service; a clear error when none runs."""
    state = read_state(settings.data_dir)
    value = (state.kafka_bootstrap if service == "Kafka" else state.pg_dsn) if state else None
    if not value:
        raise ConfigError(
            f"no {service} configured and no local stack is running",
            hint=f"run `superstore stack up`, or set {setting}",
        )
    return value


def kafka_config(settings: Settings) -> KafkaConfig:
    """The Kafka to talk to: the configured cluster, else the running local broker.

    A local broker started with `stack up --kafka-secure` brings its own
    security (SASL_SSL, SCRAM user, CA, password from its 0600 file), recorded
    in the stack state, so every command reaches it without extra settings;
    SUPERSTORE_KAFKA_CONFIG still applies on top.
    """
    if settings.kafka_bootstrap:
        bootstrap, security = settings.kafka_bootstrap, kafka_security(settings)
    else:
        bootstrap = _local(settings, "Kafka", "SUPERSTORE_KAFKA_BOOTSTRAP")
        state = read_state(settings.data_dir)
        auth = state.kafka_auth if state else None
        security = (
            {**auth.librdkafka(), **settings.kafka_config} if auth else kafka_security(settings)
        )
    return KafkaConfig(
        bootstrap=bootstrap,
        topic=settings.topic,
        dlq_topic=settings.dlq_topic,
        partitions=settings.topic_partitions,
        security=security,
    )


def pg_config(settings: Settings, role: str = OWNER_ROLE) -> PgConfig:
    """The PostgreSQL to talk to: the configured DSN, else the running local server as `role`.

    The local server has one role per component (superstore.stack.state): the
    ingest, the readers and the dashboards each get only the rights they need.
    A configured DSN is used as is, whatever the role: its owner chose its rights.
    """
    if settings.pg_dsn_value:
        return PgConfig(dsn=settings.pg_dsn_value)
    _local(settings, "PostgreSQL", "SUPERSTORE_PG_DSN")  # the clear error when none runs
    state = read_state(settings.data_dir)
    password = pg_passwords(settings.data_dir).get(role)
    dsn = state.pg_role_dsn(role, password) if state and password else None
    if not dsn:
        raise ConfigError(
            f"the local PostgreSQL has no password for role {role}",
            hint="it was set up by an older version: run `superstore stack down --purge`,"
            " then `stack up`",
        )
    return PgConfig(dsn=dsn)


def pg_admin_config(settings: Settings) -> PgConfig:
    """The local server's superuser: for stack set-up and tests' assertions, never the pipeline."""
    return pg_config(settings, ADMIN_ROLE)
