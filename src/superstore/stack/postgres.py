"""The embedded PostgreSQL: the real server binaries shipped by the `pgserver` wheel.

We drive initdb/pg_ctl ourselves instead of `pgserver.get_server`, so the
server listens on a loopback TCP port (Java clients and other tools need TCP)
and outlives the command that started it. PostgreSQL refuses to run as root,
so as root the server runs as a dedicated system user, as pgserver does.

Least privilege: every connection needs a password (scram-sha-256, no
`trust`), generated per role and kept 0600 in the data dir (PG_PASSWORDS).
The superuser only sets the server up; each component signs in as its own
role (superstore.stack.state), whose table rights the migrations grant.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psycopg import sql

from superstore.clients import PgConfig
from superstore.errors import ConfigError, FatalError, TransientError
from superstore.stack.kafka import stop_process
from superstore.stack.state import (
    ADMIN_ROLE,
    APP_ROLES,
    INGEST_ROLE,
    OWNER_ROLE,
    READER_ROLE,
    REPLICATION_ROLE,
    WEB_ROLE,
    ServiceState,
    ensure_private_dir,
    free_port,
    pg_passwords,
    port_in_use,
    process_alive,
)

__all__ = [
    "DATABASE",
    "admin_config",
    "pg_healthy",
    "prepare_data_home",
    "run_pg_tool",
    "start_postgres",
    "stop_postgres",
]

Report = Callable[[str], None]
DATABASE = "superstore"
_SYSTEM_USER = "pgserver"
_UMASK = 0o077  # the server's files and logs: readable by their owner only
# Rewritten before every start: a password for everyone, over loopback TCP only.
_HBA = f"""# Written by superstore at each start (edits are lost): no trust, passwords only.
host    all          all                  127.0.0.1/32  scram-sha-256
host    all          all                  ::1/128       scram-sha-256
host    replication  {REPLICATION_ROLE}  127.0.0.1/32  scram-sha-256
"""


def _pgserver() -> Any:
    """The pgserver wheel's helpers, imported quietly (platformdirs warns about XDG_RUNTIME_DIR)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # lazy and quiet: importing pgserver warns when XDG_RUNTIME_DIR is unset
        import pgserver._commands
        import pgserver.utils

    return pgserver


def _bin(name: str) -> str:
    return str(_pgserver()._commands.POSTGRES_BIN_PATH / name)


def _run_as() -> dict[str, Any]:
    """subprocess kwargs for PostgreSQL's tools: umask 077, and as root the server's user.

    As root the tools run as the system user AND its own group (not root's),
    so the group bits granted on the data dir below are the only way in.
    """
    if os.geteuid() != 0:
        return {"umask": _UMASK}
    _pgserver().utils.ensure_user_exists(_SYSTEM_USER)
    entry = pwd.getpwnam(_SYSTEM_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": [], "umask": _UMASK}


def _prepare_dirs(home: Path) -> None:
    """As root: let the server user own its data and traverse the path to it.

    The data dir (home's parent, root's) is made 0710 with the server's group:
    search permission for that one user, nothing for anyone else, and no
    listing. Directories above it that the server could not traverse get o+x
    (search only; we do not own them, so we do not change their group).
    """
    if os.geteuid() != 0:
        return
    pgs = _pgserver()
    _run_as()  # creates the system user on first use
    entry = pwd.getpwnam(_SYSTEM_USER)
    data_dir = home.parent
    ensure_private_dir(data_dir)
    os.chown(data_dir, -1, entry.pw_gid)
    data_dir.chmod(0o710)
    _allow_traverse(data_dir)
    pgs.utils.ensure_prefix_permissions(pgs._commands.POSTGRES_BIN_PATH)
    home.chmod(0o700)
    for path in [home, *home.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _allow_traverse(path: Path) -> None:
    """Let the server's system user reach `path` (o+x on each parent), without read access."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & stat.S_IXOTH != stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _private_file(path: Path, owner: Path | None = None) -> None:
    """Create (or tighten) `path` as 0600; as root owned like `owner` (the server's files)."""
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    if owner is not None and os.geteuid() == 0:
        info = owner.stat()
        os.chown(path, info.st_uid, info.st_gid)


def _pg(args: list[str], what: str, timeout: float = 60, env: dict[str, str] | None = None) -> str:
    try:
        proc = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, check=False,
            env={**os.environ, **env} if env else None, **_run_as(),
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise FatalError(f"{what} timed out after {timeout:.0f}s") from exc
    if proc.returncode != 0:
        raise FatalError(f"{what} failed: {(proc.stderr or proc.stdout).strip()[-500:]}")
    return str(proc.stdout)


def run_pg_tool(
    tool: str, args: list[str], what: str, timeout: float = 60, env: dict[str, str] | None = None
) -> str:
    """Run one of the wheel's PostgreSQL programs (as the server's user when root); its stdout.

    `env` adds variables (PGPASSWORD for a client tool: never on its command line).
    """
    return _pg([_bin(tool), *args], what, timeout, env)


def admin_config(node: ServiceState) -> PgConfig:
    """The superuser's connection to one local node: stack set-up and failover only."""
    return PgConfig(dsn=node.address)


def _initdb(home: Path, pgdata: Path, password: str) -> None:
    """A new cluster whose superuser has `password` from the first moment (never trust)."""
    pwfile = home / "initdb-password"
    _private_file(pwfile, owner=home)
    pwfile.write_text(password + "\n")
    try:
        _pg(
            [_bin("initdb"), "-D", str(pgdata), "--auth=scram-sha-256", f"--pwfile={pwfile}",
             "-U", ADMIN_ROLE, "--encoding=UTF8", "--no-locale"],
            "initdb",
        )  # fmt: skip
    finally:
        pwfile.unlink(missing_ok=True)


def _set_up_roles(admin: PgConfig, passwords: dict[str, str]) -> None:
    """Roles and the database, idempotently; passwords follow the password file.

    No role but the superuser may create anything outside the schema the owner
    owns; PUBLIC loses CONNECT on our database; the dashboards' role defaults
    to read-only sessions (defence in depth: it has no write grant anyway).
    """
    attributes = {
        OWNER_ROLE: "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION",
        INGEST_ROLE: "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION",
        READER_ROLE: "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION",
        WEB_ROLE: "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION",
        REPLICATION_ROLE: "LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE",
    }
    with admin.connect(autocommit=True) as conn:
        for role, attrs in attributes.items():
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
            verb = "ALTER" if exists else "CREATE"
            conn.execute(
                sql.SQL(verb + " ROLE {} " + attrs + " PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(passwords[role])
                )
            )
        conn.execute(
            sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(
                sql.Identifier(WEB_ROLE)
            )
        )
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(ADMIN_ROLE), sql.Literal(passwords[ADMIN_ROLE])
            )
        )
        db, owner = sql.Identifier(DATABASE), sql.Identifier(OWNER_ROLE)
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(db, owner))
        else:
            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, owner))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
        conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE postgres FROM PUBLIC"))
        for role in APP_ROLES:
            rights = "CONNECT" if role == WEB_ROLE else "CONNECT, TEMPORARY"
            grant = sql.SQL("GRANT " + rights + " ON DATABASE {} TO {}")
            conn.execute(grant.format(db, sql.Identifier(role)))


def prepare_data_home(home: Path) -> None:
    """Make `home` (and all under it) the server's to use when running as root."""
    _prepare_dirs(home)


def _read_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def start_postgres(home: Path, port: int, report: Report) -> ServiceState:
    """initdb once, start the server on 127.0.0.1, create the `superstore` database."""
    home = home.resolve()
    pgdata = home / "pgdata"
    log_path = home / "postgres.log"
    home.mkdir(parents=True, exist_ok=True)
    if port and port_in_use(port):
        raise ConfigError(
            f"port {port} on 127.0.0.1 is already in use, PostgreSQL cannot bind it",
            hint="set SUPERSTORE_PG_PORT to a free port, or 0 to pick one",
        )
    port = port or free_port()
    ensure_private_dir(home.parent)
    passwords = pg_passwords(home.parent, create=True)
    _prepare_dirs(home)
    started = time.monotonic()
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(exist_ok=True)
        _prepare_dirs(home)
        _initdb(home, pgdata, passwords[ADMIN_ROLE])
    standby = (pgdata / "standby.signal").exists()
    (pgdata / "pg_hba.conf").write_text(_HBA)  # an older cluster's `trust` goes too
    _private_file(log_path)
    _prepare_dirs(home)
    # Sized for ingest bursts: with the default 128MB of buffers, backends wrote
    # dirty pages themselves during a 1M-line load; 1GB of WAL between
    # checkpoints meant full-page images every few hundred thousand lines.
    # The log names each session's database, so an ERROR can be traced to its owner.
    options = (
        f"-h 127.0.0.1 -p {port} -k '' -c max_connections=200"
        " -c shared_buffers=512MB -c max_wal_size=4GB"
        " -c log_line_prefix='%m [%p] %q%u@%d '"
        " -c password_encryption=scram-sha-256 -c log_file_mode=0600"
    )
    _pg(
        [_bin("pg_ctl"), "-D", str(pgdata), "-l", str(log_path), "-w", "-t", "60",
         "-o", options, "start"],
        "starting PostgreSQL",
        timeout=90,
    )  # fmt: skip
    pid = _read_pid(pgdata)
    if pid is None:
        raise FatalError("PostgreSQL started but wrote no postmaster.pid", hint=f"see {log_path}")
    secret = passwords[ADMIN_ROLE]  # token_urlsafe: nothing to quote in a URL
    try:
        if not standby:  # a standby follows the primary's roles (read-only until promoted)
            _set_up_roles(
                PgConfig(f"postgresql://{ADMIN_ROLE}:{secret}@127.0.0.1:{port}/postgres"),
                passwords,
            )
    except TransientError as exc:
        raise FatalError(
            f"cannot set up PostgreSQL's roles in {pgdata}: {exc}",
            hint="a cluster made by an older version has other passwords:"
            " run `superstore stack down --purge`, then `stack up`",
        ) from exc
    report(f"PostgreSQL up at 127.0.0.1:{port} in {time.monotonic() - started:.1f}s")
    return ServiceState(
        pid=pid, port=port,
        address=f"postgresql://{ADMIN_ROLE}:{secret}@127.0.0.1:{port}/{DATABASE}",
        log=str(log_path), marker=str(pgdata),
    )  # fmt: skip


def stop_postgres(state: ServiceState) -> bool:
    """Fast shutdown of our server; False if it was not running."""
    pgdata = Path(state.marker)
    if not process_alive(state.pid, state.marker):
        return False
    _prepare_dirs(pgdata.parent)  # a parent's mode may have changed since start (pytest's tmp)
    try:
        _pg([_bin("pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "-t", "60", "stop"], "stop")
    except FatalError:
        stop_process(state.pid, state.marker)
    return True


def pg_healthy(dsn: str) -> bool:
    """True when the server accepts a connection and answers a query."""
    try:
        with PgConfig(dsn=dsn).connect(autocommit=True, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except TransientError:
        return False
