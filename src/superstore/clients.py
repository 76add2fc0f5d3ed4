"""Connection configs that build their own clients.

Tests and commands swap the config (a local stack, an existing cluster), never
monkeypatch modules. Which Kafka and PostgreSQL a command talks to is decided
by `superstore.stack.kafka_config` / `pg_config` (a setting, else the running
local stack); this module only knows how to connect once that is decided.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from superstore.errors import ConfigError, TransientError


class _RepeatFilter(logging.Filter):
    """One line per kind of librdkafka complaint every `window` seconds.

    While a broker is down librdkafka logs every reconnect attempt (~17 lines a
    second in a broker-restart test). The first line of a kind passes; repeats
    within the window are counted and the next one after it says how many were
    folded. A kind is the message with its digits removed (ports, timings).
    """

    def __init__(self, window: float = 30.0) -> None:
        super().__init__()
        self.window = window
        self._seen: dict[str, tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        kind = re.sub(r"\d+", "#", record.getMessage())
        first, folded = self._seen.get(kind, (0.0, 0))
        if record.created - first < self.window:
            self._seen[kind] = (first, folded + 1)
            return False
        if len(self._seen) > 1000:  # bounded: forget old kinds
            self._seen.clear()
        self._seen[kind] = (record.created, 0)
        if folded:
            record.msg = f"{record.getMessage()} ({folded} similar lines folded)"
            record.args = ()
        return True


# librdkafka's own log lines go through Python logging (the CLI sets the level).
_RDKAFKA_LOG = logging.getLogger("superstore.kafka.client")
_RDKAFKA_LOG.addFilter(_RepeatFilter())

__all__ = ["KafkaConfig", "PgConfig", "auth_failure", "scalar"]

# librdkafka retries these forever; none gets better by waiting: a wrong password,
# a mechanism the broker does not offer, a certificate that does not verify.
_AUTH_CODES = frozenset(
    {KafkaError._AUTHENTICATION, KafkaError._SSL, KafkaError.SASL_AUTHENTICATION_FAILED}
)
# librdkafka's own diagnosis when a plaintext client meets a TLS or SASL listener.
_PROTOCOL_MISMATCH = "incorrect security.protocol"


def auth_failure(err: KafkaError, bootstrap: str) -> ConfigError | None:
    """One clear line for an authentication or TLS failure; None for any other error.

    librdkafka reports these only through its error callback and keeps
    retrying, so without this a wrong password looks like a broker that is down.
    The text is librdkafka's (it never contains the password).
    """
    text = err.str()
    if err.code() == KafkaError._SSL:
        # A handshake cut short by a restarting broker is _SSL too: only a
        # certificate that does not verify is a setting to fix.
        if "certificate verify failed" not in text:
            return None
        what = "TLS"
    elif err.code() in _AUTH_CODES:
        what = "authentication"
    elif _PROTOCOL_MISMATCH in text:
        what = "security protocol"
    else:
        return None
    return ConfigError(
        f"Kafka at {bootstrap} refused the connection ({what}): {text}",
        hint="check SUPERSTORE_KAFKA_SECURITY_PROTOCOL, _SASL_MECHANISM, _SASL_USERNAME, "
        "_SASL_PASSWORD and _SSL_CA_LOCATION (`superstore stack env` for the local stack)",
    )


_READ_ONLY = "-c default_transaction_read_only=on"

# The setting a librdkafka property comes from, to name it when librdkafka refuses it.
_KAFKA_SETTING = {
    "security.protocol": "SUPERSTORE_KAFKA_SECURITY_PROTOCOL",
    "sasl.mechanism": "SUPERSTORE_KAFKA_SASL_MECHANISM",
    "sasl.mechanisms": "SUPERSTORE_KAFKA_SASL_MECHANISM",
    "sasl.username": "SUPERSTORE_KAFKA_SASL_USERNAME",
    "sasl.password": "SUPERSTORE_KAFKA_SASL_PASSWORD",
    "ssl.ca.location": "SUPERSTORE_KAFKA_SSL_CA_LOCATION",
    "bootstrap.servers": "SUPERSTORE_KAFKA_BOOTSTRAP",
}

_C = TypeVar("_C")


def _client(kind: Callable[[dict[str, Any]], _C], conf: dict[str, Any]) -> _C:
    """Build a librdkafka client; a property it refuses is a ConfigError naming the setting.

    librdkafka checks every property when the client is created and says
    ``No such configuration property: "bogus.key"`` or ``Invalid value for
    configuration property "acks"`` (never the value, so no secret leaks).
    """
    try:
        return kind(conf)
    except (KafkaException, ValueError, TypeError) as exc:
        # construction only fails on settings (a bogus key, SASL without a user)
        err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
        text = err.str() if err else str(exc)
        prop = re.search(r'property:? "([^"]+)"', text)
        if err is not None and err.code() == KafkaError._INVALID_ARG and prop is not None:
            name = prop[1]
            reason = "no such property" if text.startswith("No such") else "invalid value"
            setting = _KAFKA_SETTING.get(name, "SUPERSTORE_KAFKA_CONFIG")
            message = f"invalid librdkafka setting {name!r} in {setting}: {reason}"
            raise ConfigError(message) from None
        raise ConfigError(
            f"the Kafka client settings are not valid: {text}",
            hint="check the SUPERSTORE_KAFKA_* settings and SUPERSTORE_KAFKA_CONFIG",
        ) from None


@dataclass(frozen=True)
class KafkaConfig:
    """librdkafka settings shared by every client, plus topic names."""

    bootstrap: str
    topic: str
    dlq_topic: str
    partitions: int = 3
    security: dict[str, str] = field(default_factory=dict)

    def base(self) -> dict[str, Any]:
        """Settings common to producers, consumers and admin clients.

        The error callback turns authentication and TLS failures into a
        ConfigError raised from the client's next poll/flush/consume (one line
        from the CLI, and no endless retrying against a broker that says no);
        other errors stay librdkafka's to retry.
        """
        return {
            "bootstrap.servers": self.bootstrap,
            "logger": _RDKAFKA_LOG,
            "error_cb": self._on_error,
            **self.security,
        }

    def _on_error(self, err: KafkaError) -> None:
        failure = auth_failure(err, self.bootstrap)
        if failure is not None and err.code() in _AUTH_CODES:  # not a protocol mismatch guess
            raise failure
        _RDKAFKA_LOG.debug("librdkafka error: %s", err.str())

    def producer(self, **overrides: Any) -> Producer:
        """An idempotent, acks=all producer: retries never duplicate or reorder."""
        conf = {
            **self.base(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
            "batch.num.messages": 10000,
            "compression.type": "lz4",
            **overrides,
        }
        return _client(Producer, conf)

    def consumer(self, group_id: str, **overrides: Any) -> Consumer:
        """A consumer that never auto-commits: offsets live where the data lands."""
        conf = {
            **self.base(),
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            **overrides,
        }
        return _client(Consumer, conf)

    def admin(self, **overrides: Any) -> AdminClient:
        """An admin client for topic management and health checks."""
        return _client(AdminClient, {**self.base(), **overrides})

    def ping(self, timeout: float = 2.0) -> int:
        """Number of brokers that answered; raises TransientError when none did.

        A broker that refused our credentials or TLS is a ConfigError naming
        why (`auth_failure`), not "did not answer".
        """
        errors: list[KafkaError] = []
        admin = self.admin(log_level=0, error_cb=errors.append)
        try:
            meta = admin.list_topics(timeout=timeout)
        except KafkaException as exc:
            admin.poll(0)  # serves the error callback: why the broker did not answer
            for err in errors:
                failure = auth_failure(err, self.bootstrap)
                if failure is not None:
                    raise failure from None
            reason = errors[-1].str() if errors else str(exc)
            raise TransientError(f"Kafka at {self.bootstrap} did not answer: {reason}") from exc
        return len(meta.brokers)


def scalar(conn: psycopg.Connection, sql: str, params: Sequence[object] = ()) -> Any:
    """The first column of the one row a statement returns (None when it returns none)."""
    row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class PgConfig:
    """A libpq DSN; ``display`` is safe to print (password masked)."""

    dsn: str = field(repr=False)

    @property
    def display(self) -> str:
        """The DSN with any password replaced by ``***``."""
        try:
            parts = conninfo_to_dict(self.dsn)
        except Exception:
            return "<unparsable dsn>"
        if parts.get("password"):
            parts["password"] = "***"
        return make_conninfo("", **parts)

    def read_only(self, application_name: str = "superstore-web") -> PgConfig:
        """The same server, every transaction of its sessions READ ONLY by default.

        Defence in depth for readers (the dashboards): they never build SQL
        from input, and even if they did, PostgreSQL would refuse any write.
        """
        try:
            params = conninfo_to_dict(self.dsn)
        except Exception as exc:
            raise ConfigError("the PostgreSQL DSN for a read-only reader is not valid") from exc
        options = str(params.get("options") or "")
        if _READ_ONLY not in options:
            params["options"] = f"{options} {_READ_ONLY}".strip()
        params.setdefault("application_name", application_name)
        return PgConfig(make_conninfo("", **params))

    def connect(self, *, autocommit: bool = False, connect_timeout: int = 5) -> psycopg.Connection:
        """Open a connection; unreachable servers raise TransientError."""
        try:
            return psycopg.connect(self.dsn, autocommit=autocommit, connect_timeout=connect_timeout)
        except psycopg.OperationalError as exc:
            raise TransientError(f"PostgreSQL at {self.display} is unreachable: {exc}") from exc
        except psycopg.ProgrammingError:  # libpq's message quotes the DSN, maybe the password
            raise ConfigError("the PostgreSQL DSN is not a valid libpq connection string") from None
