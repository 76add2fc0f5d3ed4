"""What the local stack started, persisted under the data directory.

The state file is the single record of processes this project owns, so
`stack down` stops exactly those and nothing else, and other commands find
the local services without extra configuration.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import socket
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from superstore.errors import ConfigError

__all__ = [
    "ADMIN_ROLE",
    "APP_ROLES",
    "INGEST_ROLE",
    "OWNER_ROLE",
    "PG_PASSWORDS",
    "READER_ROLE",
    "REPLICATION_ROLE",
    "WEB_ROLE",
    "KafkaAuth",
    "NodeHealth",
    "ServiceState",
    "StackState",
    "clear_state",
    "ensure_private_dir",
    "free_port",
    "pg_passwords",
    "port_in_use",
    "process_alive",
    "read_state",
    "stack_lock",
    "wait_gone",
    "write_state",
]

STATE_FILE = "stack.json"
PG_PASSWORDS = "pg-passwords.json"  # one generated password per role, mode 0600

# The embedded PostgreSQL's roles (least privilege, see README "Security"):
ADMIN_ROLE = "postgres"  # superuser: stack set-up only (roles, database, slots, failover)
OWNER_ROLE = "superstore"  # owns the schema, runs migrations; the default for other commands
INGEST_ROLE = "superstore_ingest"  # DML on the OLTP tables the ingest writes, nothing else
READER_ROLE = "superstore_reader"  # export, check, ETL: SELECT, plus the export bookkeeping
WEB_ROLE = "superstore_web"  # SELECT on exactly what /today reads
REPLICATION_ROLE = "superstore_replication"  # the standby's streaming connection
APP_ROLES = (OWNER_ROLE, INGEST_ROLE, READER_ROLE, WEB_ROLE)


@dataclass
class ServiceState:
    """One process the stack started: its pid, port and a token in its command line."""

    pid: int
    port: int
    address: str
    log: str
    marker: str
    extra: dict[str, int | str] = field(default_factory=dict)

    def alive(self) -> bool:
        """True when the pid is running and is still our process (not a reused pid)."""
        return process_alive(self.pid, self.marker)


@dataclass(frozen=True)
class KafkaAuth:
    """How clients authenticate to a secure local broker (`stack up --kafka-secure`).

    The password itself stays in its own 0600 file (`sasl_password_file`), so the
    state file never holds it and a copy of `stack.json` leaks no credential.
    """

    security_protocol: str
    sasl_mechanism: str
    sasl_username: str
    ssl_ca_location: str
    sasl_password_file: str

    def librdkafka(self) -> dict[str, str]:
        """librdkafka security properties, the password read from its file (never log them)."""
        try:
            password = Path(self.sasl_password_file).read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"the local broker's client password file {self.sasl_password_file} is "
                f"unreadable ({exc.strerror})",
                hint="run superstore as the user who ran `stack up`",
            ) from None
        return {
            "security.protocol": self.security_protocol,
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": password,
            "ssl.ca.location": self.ssl_ca_location,
        }


@dataclass(frozen=True)
class NodeHealth:
    """One node of a replicated service (a Kafka node, a PostgreSQL node) for `stack status`."""

    name: str
    address: str
    healthy: bool
    detail: str


@dataclass
class StackState:
    """Services started by `stack up`; None for a service configured externally."""

    kafka: ServiceState | None = None
    postgres: ServiceState | None = None
    # A local cluster's nodes (then `kafka` is None); extra["node_id"] is the Kafka node id.
    kafka_nodes: list[ServiceState] = field(default_factory=list)
    # The PostgreSQL node that is not the primary: a standby, or a former primary
    # after a failover (extra["role"]); extra["node"] orders the nodes in the DSN.
    pg_standby: ServiceState | None = None
    # Set when the local broker runs SASL_SSL (`stack up --kafka-secure`); None: PLAINTEXT.
    kafka_auth: KafkaAuth | None = None

    @property
    def kafka_bootstrap(self) -> str | None:
        """Bootstrap servers of the local broker or cluster, if one was started."""
        if self.kafka_nodes:
            return ",".join(node.address for node in self.kafka_nodes)
        return self.kafka.address if self.kafka else None

    def pg_role_dsn(self, role: str, password: str) -> str | None:
        """`pg_dsn` signed in as `role` (the pipeline never gets the superuser's DSN)."""
        dsn = self.pg_dsn
        if dsn is None:
            return None
        return make_conninfo(dsn, user=role, password=password)

    @property
    def pg_dsn(self) -> str | None:
        """DSN of the local PostgreSQL, if one was started.

        With a standby it names both nodes, always in the same order, with
        target_session_attrs=read-write: libpq connects to whichever is primary,
        so a DSN taken before a failover still works after it.
        """
        if self.postgres and self.pg_standby:
            nodes = sorted([self.postgres, self.pg_standby], key=lambda s: int(s.extra["node"]))
            params = conninfo_to_dict(self.postgres.address)
            params["host"] = ",".join("127.0.0.1" for _ in nodes)
            params["port"] = ",".join(str(node.port) for node in nodes)
            params["target_session_attrs"] = "read-write"
            return make_conninfo("", **params)
        return self.postgres.address if self.postgres else None


def read_state(data_dir: Path) -> StackState | None:
    """The recorded stack, or None when nothing was started here."""
    path = data_dir / STATE_FILE
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    return StackState(
        kafka=ServiceState(**raw["kafka"]) if raw.get("kafka") else None,
        postgres=ServiceState(**raw["postgres"]) if raw.get("postgres") else None,
        kafka_nodes=[ServiceState(**node) for node in raw.get("kafka_nodes", [])],
        pg_standby=ServiceState(**raw["pg_standby"]) if raw.get("pg_standby") else None,
        kafka_auth=KafkaAuth(**raw["kafka_auth"]) if raw.get("kafka_auth") else None,
    )


def pg_passwords(data_dir: Path, create: bool = False) -> dict[str, str]:
    """The generated PostgreSQL passwords of this data dir, by role ({} when none yet).

    With `create`, missing ones are generated and the file (re)written 0600:
    it is the one place the passwords live besides the DSNs in the state file.
    """
    path = data_dir / PG_PASSWORDS
    try:
        found = {str(k): str(v) for k, v in json.loads(path.read_text()).items()}
    except FileNotFoundError:
        found = {}
    except (OSError, ValueError):
        found = {}
    if not create:
        return found
    wanted = (ADMIN_ROLE, *APP_ROLES, REPLICATION_ROLE)
    missing = [role for role in wanted if role not in found]
    if missing:
        found |= {role: secrets.token_urlsafe(24) for role in missing}
        ensure_private_dir(data_dir)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(found, handle, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    return found


def ensure_private_dir(data_dir: Path) -> None:
    """Create the data dir readable by its owner only (it holds DSNs, data, logs).

    An existing one loses any access for others (older versions left it 0711);
    as root the group bits stay: the PostgreSQL server's group traverses it
    (superstore.stack.postgres sets them).
    """
    if not data_dir.exists():
        data_dir.mkdir(parents=True, mode=0o700)
        data_dir.chmod(0o700)  # mkdir's mode is filtered by the umask
        return
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    loose = 0o007 if os.geteuid() == 0 else 0o077
    if mode & loose:
        data_dir.chmod(mode & ~loose)


def write_state(data_dir: Path, state: StackState) -> None:
    """Record the stack atomically (write a temp file, then rename)."""
    ensure_private_dir(data_dir)
    path = data_dir / STATE_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds DSNs with passwords
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(asdict(state), indent=2))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def clear_state(data_dir: Path) -> None:
    """Forget the stack (after everything in it stopped)."""
    (data_dir / STATE_FILE).unlink(missing_ok=True)


@contextmanager
def stack_lock(data_dir: Path) -> Iterator[None]:
    """Serialise `stack up`/`down` on one data directory across processes."""
    ensure_private_dir(data_dir)
    with open(data_dir / "stack.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def process_alive(pid: int, marker: str) -> bool:
    """True if `pid` runs and its command line mentions `marker`."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return any(marker in part for part in proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until the processes exit; those still running after `timeout`.

    A zombie counts as gone: a process started by another (a test, `run`) is
    reaped only by that parent, and waiting for it here would never end.
    """
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for proc in procs:
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    """True if something already listens on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
