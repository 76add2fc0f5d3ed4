"""The embedded PostgreSQL: the real server binaries shipped by the `pgserver` wheel.

We drive initdb/pg_ctl ourselves instead of `pgserver.get_server`, so the
server listens on a loopback TCP port (Java clients and other tools need TCP)
and outlives the command that started it. PostgreSQL refuses to run as root,
so as root the server runs as a dedicated system user, as pgserver does.
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

from superstore.clients import PgConfig
from superstore.errors import ConfigError, FatalError, TransientError
from superstore.stack.kafka import stop_process
from superstore.stack.state import ServiceState, free_port, port_in_use, process_alive

__all__ = [
    "DATABASE",
    "pg_healthy",
    "prepare_data_home",
    "run_pg_tool",
    "start_postgres",
    "stop_postgres",
]

Report = Callable[[str], None]
DATABASE = "superstore"
_SYSTEM_USER = "pgserver"


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
    """subprocess kwargs that drop root privileges for PostgreSQL's tools."""
    if os.geteuid() != 0:
        return {}
    _pgserver().utils.ensure_user_exists(_SYSTEM_USER)
    return {"user": _SYSTEM_USER}


def _prepare_dirs(home: Path) -> None:
    """As root: let the server user own its data and traverse the path to it."""
    if os.geteuid() != 0:
        return
    pgs = _pgserver()
    _run_as()  # creates the system user on first use
    entry = pwd.getpwnam(_SYSTEM_USER)
    _allow_traverse(home)  # search permission only: the data dir stays unreadable to others
    pgs.utils.ensure_prefix_permissions(pgs._commands.POSTGRES_BIN_PATH)
    for path in [home, *home.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _allow_traverse(path: Path) -> None:
    """Let the server's system user reach `path` (x on each parent), without read access.

    Group x too: subprocess(user=...) keeps root's group, so group bits apply.
    """
    needed = stat.S_IXOTH | stat.S_IXGRP
    for parent in path.parents:
        mode = parent.stat().st_mode
        if mode & needed != needed:
            parent.chmod(mode | needed)


def _pg(args: list[str], what: str, timeout: float = 60) -> str:
    try:
        proc = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, check=False, **_run_as()
        )
    except subprocess.TimeoutExpired as exc:
        raise FatalError(f"{what} timed out after {timeout:.0f}s") from exc
    if proc.returncode != 0:
        raise FatalError(f"{what} failed: {(proc.stderr or proc.stdout).strip()[-500:]}")
    return str(proc.stdout)


def run_pg_tool(tool: str, args: list[str], what: str, timeout: float = 60) -> str:
    """Run one of the wheel's PostgreSQL programs (as the server's user when root); its stdout."""
    return _pg([_bin(tool), *args], what, timeout)


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
    _prepare_dirs(home)
    started = time.monotonic()
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(exist_ok=True)
        _prepare_dirs(home)
        _pg(
            [_bin("initdb"), "-D", str(pgdata), "--auth=trust", "-U", "postgres",
             "--encoding=UTF8", "--no-locale"],
            "initdb",
        )  # fmt: skip
    log_path.touch()
    _prepare_dirs(home)
    # Sized for ingest bursts: with the default 128MB of buffers, backends wrote
    # dirty pages themselves during a 1M-line load; 1GB of WAL between
    # checkpoints meant full-page images every few hundred thousand lines.
    # The log names each session's database, so an ERROR can be traced to its owner.
    options = (
        f"-h 127.0.0.1 -p {port} -k '' -c max_connections=200"
        " -c shared_buffers=512MB -c max_wal_size=4GB"
        " -c log_line_prefix='%m [%p] %q%u@%d '"
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
    admin = PgConfig(dsn=f"postgresql://postgres@127.0.0.1:{port}/postgres")
    with admin.connect(autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    report(f"PostgreSQL up at 127.0.0.1:{port} in {time.monotonic() - started:.1f}s")
    return ServiceState(
        pid=pid, port=port, address=f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}",
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
