"""A streaming standby of the embedded PostgreSQL, and failover to it.

The standby is a `pg_basebackup` of the primary made with the same `pgserver`
binaries (Debian 12's own PostgreSQL is 15, which cannot follow a 16
primary), with its own data dir and port, hot_standby on, asynchronous
streaming through a physical replication slot, so the primary keeps every WAL
segment the standby has not received yet. This is what RDS Multi-AZ gives:
lose the primary, promote the standby. Asynchronous replication may lose the
last transactions of a primary that died; ingest is exactly once anyway,
because its offsets commit in the same transaction as its rows and it
re-reads from the offsets the new primary holds.

The two nodes live in `<data_dir>/postgres` and `<data_dir>/postgres-2`; the
topology file says which is primary. A former primary is never started as a
primary again: the next `stack up` rebuilds it as a standby of the new one.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import psutil

from superstore.clients import PgConfig, scalar
from superstore.errors import ConfigError, FatalError, SuperstoreError, TransientError
from superstore.settings import Settings
from superstore.stack.postgres import (
    admin_config,
    prepare_data_home,
    run_pg_tool,
    start_postgres,
)
from superstore.stack.state import (
    REPLICATION_ROLE,
    NodeHealth,
    ServiceState,
    StackState,
    free_port,
    pg_passwords,
    port_in_use,
    read_state,
    stack_lock,
    wait_gone,
    write_state,
)
from superstore.stack.topology import PG_NODES, Topology, read_topology, write_topology

__all__ = [
    "SLOT",
    "failover",
    "kill_server",
    "pg_health",
    "replication_lag",
    "start_pg_nodes",
    "stop_pg_node",
    "wait_for_replay",
]

Report = Callable[[str], None]
SLOT = "superstore_standby"  # replication slot on the primary, and the standby's application_name


def _node_number(home: Path) -> int:
    return PG_NODES.index(home.name) + 1


def _port(home: Path, wanted: int) -> int:
    """The configured port, else the node's last one when free (its DSN stays), else a free one."""
    if wanted:
        return wanted
    try:
        saved = int((home / "port").read_text())
    except (OSError, ValueError):
        saved = 0
    return saved if saved and not port_in_use(saved) else free_port()


def _admin(node: ServiceState) -> PgConfig:
    return admin_config(node)


def _replication_password(pgdata: Path) -> str:
    """The replication role's password (PG_PASSWORDS in the data dir above the node)."""
    return pg_passwords(pgdata.parent.parent, create=True)[REPLICATION_ROLE]


def _start(home: Path, port: int, role: str, report: Report) -> ServiceState:
    label = "PostgreSQL" if role == "primary" else "PostgreSQL standby"
    node = start_postgres(home, port, lambda msg: report(msg.replace("PostgreSQL", label, 1)))
    (home / "port").write_text(str(node.port))
    node.extra.update(node=_node_number(home), role=role)
    return node


def _ensure_slot(primary: ServiceState) -> None:
    """The standby's slot on the primary, reserving WAL from now on (idempotent)."""
    with _admin(primary).connect(autocommit=True) as conn:
        conn.execute(
            "SELECT pg_create_physical_replication_slot(%s, true) WHERE NOT EXISTS"
            " (SELECT 1 FROM pg_replication_slots WHERE slot_name = %s)",
            [SLOT, SLOT],
        )


def _follow(pgdata: Path, primary_port: int) -> None:
    """Point a standby at the primary's current port (ports can change across restarts)."""
    conf = pgdata / "postgresql.auto.conf"
    keep = [
        line
        for line in conf.read_text().splitlines()
        if not line.startswith(("primary_conninfo", "primary_slot_name"))
    ]
    keep += [
        # pgdata is 0700, the server's: the only other place this password is kept
        f"primary_conninfo = 'host=127.0.0.1 port={primary_port} user={REPLICATION_ROLE}"
        f" password={_replication_password(pgdata)} application_name={SLOT}'",
        f"primary_slot_name = '{SLOT}'",
    ]
    conf.write_text("\n".join(keep) + "\n")


def _rebuild(home: Path, primary: ServiceState, report: Report) -> None:
    """Replace the node's data with a fresh base backup of the primary, as a standby."""
    started = time.monotonic()
    pgdata = home / "pgdata"
    shutil.rmtree(pgdata, ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True)
    prepare_data_home(home)
    _ensure_slot(primary)
    run_pg_tool(
        "pg_basebackup",
        ["-h", "127.0.0.1", "-p", str(primary.port), "-U", REPLICATION_ROLE, "-D", str(pgdata),
         "-X", "stream", "-S", SLOT, "-c", "fast", "-R", "-w"],
        "pg_basebackup from the primary",
        timeout=900,
        env={"PGPASSWORD": _replication_password(pgdata)},
    )  # fmt: skip
    report(f"PostgreSQL standby: base backup of the primary in {time.monotonic() - started:.1f}s")


def start_pg_nodes(
    settings: Settings, state: StackState, topology: Topology, report: Report
) -> None:
    """Start the primary, then (when wanted) its standby, rebuilding a former primary as one.

    Updates `state`; the caller holds the stack lock and writes the state.
    """
    data_dir = settings.data_dir
    primary_home = (data_dir / topology.pg_primary).resolve()
    primary = state.postgres
    if primary and primary.alive() and Path(primary.marker) == primary_home / "pgdata":
        report(f"PostgreSQL: primary already running at 127.0.0.1:{primary.port}")
    else:
        if (primary_home / "pgdata" / "standby.signal").exists():
            raise FatalError(
                f"{primary_home} holds a standby, but the topology names it primary",
                hint="run `superstore stack failover` to promote it, or `stack down --purge`",
            )
        wanted = settings.pg_port if topology.pg_primary == PG_NODES[0] else 0
        primary = _start(primary_home, _port(primary_home, wanted), "primary", report)
    primary.extra.update(node=_node_number(primary_home), role="primary")
    (primary_home / "port").write_text(str(primary.port))  # kept when it is rebuilt later
    state.postgres = primary
    other_home = (data_dir / topology.pg_other).resolve()
    other = state.pg_standby
    if not topology.pg_standby:
        if other:
            stop_pg_node(other)
        _drop_slot(primary)
        shutil.rmtree(other_home, ignore_errors=True)
        state.pg_standby = None
        return
    if other and other.alive() and other.extra.get("role") == "standby":
        report(f"PostgreSQL: standby already running at 127.0.0.1:{other.port}")
        return
    if other and other.alive():  # a former primary that came back: fence it first
        kill_server(other)
    pgdata = other_home / "pgdata"
    if (pgdata / "standby.signal").exists():
        _ensure_slot(primary)
    else:
        _rebuild(other_home, primary, report)
    _follow(pgdata, primary.port)
    state.pg_standby = _start(other_home, _port(other_home, 0), "standby", report)


def _drop_slot(primary: ServiceState, timeout: float = 15.0) -> None:
    """Drop the standby's slot, or the primary keeps WAL for it forever.

    A stopped standby's walsender may hold the slot a moment longer: wait for it.
    """
    deadline = time.monotonic() + timeout
    with _admin(primary).connect(autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT active FROM pg_replication_slots WHERE slot_name = %s", [SLOT]
            ).fetchone()
            if row is None:
                return
            if not row[0]:
                conn.execute("SELECT pg_drop_replication_slot(%s)", [SLOT])
                return
            if time.monotonic() > deadline:
                raise TransientError(f"replication slot {SLOT} is still in use by a standby")
            time.sleep(0.2)


def kill_server(node: ServiceState) -> bool:
    """kill -9 the postmaster and every backend of it, as a lost machine would; False if down."""
    if not node.alive():
        return False
    root = psutil.Process(node.pid)
    procs = [root, *root.children(recursive=True)]
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    wait_gone(procs, timeout=10)
    return True


def stop_pg_node(node: ServiceState, timeout: float = 30) -> bool:
    """Fast shutdown of one node (a paused one is killed); False if it was not running."""
    if not node.alive():
        return False
    if psutil.Process(node.pid).status() == psutil.STATUS_STOPPED:
        return kill_server(node)
    prepare_data_home(Path(node.marker).parent)  # the server's user must reach it again
    try:
        run_pg_tool(
            "pg_ctl", ["-D", node.marker, "-m", "fast", "-w", "-t", str(int(timeout)), "stop"],
            "stopping PostgreSQL", timeout=timeout + 10,
        )  # fmt: skip
    except FatalError:
        kill_server(node)
    return True


def failover(settings: Settings, report: Report) -> StackState:
    """Promote the standby; the old primary is fenced (stopped, or killed) and recorded as former.

    A running primary gets a fast shutdown first, which streams the rest of
    its WAL to the standby (a switchover: nothing lost); a dead one loses
    what the standby had not received (asynchronous replication).
    """
    with stack_lock(settings.data_dir):
        state = read_state(settings.data_dir)
        topology = read_topology(settings.data_dir)
        standby = state.pg_standby if state else None
        if not state or not topology or not standby or standby.extra.get("role") != "standby":
            raise ConfigError(
                "no PostgreSQL standby to promote",
                hint="start one with `superstore stack up --pg-standby`",
            )
        if not standby.alive():
            raise FatalError(
                f"the PostgreSQL standby (pid {standby.pid}) is not running",
                hint="`superstore stack up` starts it again",
            )
        started = time.monotonic()
        old = state.postgres
        was_running = bool(old and stop_pg_node(old, timeout=20))
        prepare_data_home(Path(standby.marker).parent)
        run_pg_tool("pg_ctl", ["-D", standby.marker, "-w", "-t", "60", "promote"], "promote")
        with _admin(standby).connect(autocommit=True) as conn:
            if scalar(conn, "SELECT pg_is_in_recovery()"):
                raise FatalError("the standby did not leave recovery after pg_ctl promote")
        standby.extra["role"] = "primary"
        if old:
            old.extra["role"] = "former primary"
        state.postgres, state.pg_standby = standby, old
        write_state(settings.data_dir, state)
        write_topology(
            settings.data_dir, replace(topology, pg_primary=Path(standby.marker).parent.name)
        )
        fate = "stopped first (its WAL reached the standby)" if was_running else "was down"
        report(
            f"PostgreSQL: standby at 127.0.0.1:{standby.port} promoted in"
            f" {time.monotonic() - started:.1f}s; the old primary {fate} and is no longer primary"
        )
        return state


def _lsn_gap(primary: ServiceState, standby: ServiceState) -> int:
    with _admin(standby).connect(autocommit=True, connect_timeout=2) as conn:
        replayed = scalar(conn, "SELECT pg_last_wal_replay_lsn()::text")
    with _admin(primary).connect(autocommit=True, connect_timeout=2) as conn:
        gap = scalar(conn, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)", [replayed])
    return max(0, int(gap or 0))


def replication_lag(state: StackState) -> tuple[int, float | None]:
    """Bytes of WAL the standby has not replayed yet, and the primary's replay_lag in seconds.

    Seconds are None while idle (PostgreSQL clears replay_lag when nothing
    is in flight). Raises TransientError when either node does not answer.
    """
    if not state.postgres or not state.pg_standby:
        raise ConfigError("no PostgreSQL standby is recorded")
    gap = _lsn_gap(state.postgres, state.pg_standby)
    with _admin(state.postgres).connect(autocommit=True, connect_timeout=2) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM replay_lag)::float8 FROM pg_stat_replication"
            " WHERE application_name = %s",
            [SLOT],
        ).fetchone()
    return gap, (row[0] if row else None)


def wait_for_replay(state: StackState, timeout: float = 30.0) -> float:
    """Wait until the standby replayed all WAL the primary had written; the seconds it took."""
    if not state.postgres or not state.pg_standby:
        raise ConfigError("no PostgreSQL standby is recorded")
    started = time.monotonic()
    with _admin(state.postgres).connect(autocommit=True) as conn:
        target = scalar(conn, "SELECT pg_current_wal_lsn()::text")
    while True:
        with _admin(state.pg_standby).connect(autocommit=True) as conn:
            done = scalar(conn, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])
        if done:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TransientError(f"the standby did not replay up to {target} in {timeout:.0f}s")
        time.sleep(0.1)


def _role(node: ServiceState) -> str | None:
    try:
        with _admin(node).connect(autocommit=True, connect_timeout=2) as conn:
            standby = scalar(conn, "SELECT pg_is_in_recovery()")
    except TransientError:
        return None
    return "standby" if standby else "primary"


def pg_health(state: StackState) -> list[NodeHealth]:
    """One line per PostgreSQL node: role as the server reports it, and replication lag."""
    nodes = [n for n in (state.postgres, state.pg_standby) if n]
    roles = {int(n.extra["node"]): _role(n) if n.alive() else None for n in nodes}
    split = list(roles.values()).count("primary") > 1
    out = []
    for node in sorted(nodes, key=lambda n: int(n.extra["node"])):
        name = f"postgres node {node.extra['node']}"
        address = f"127.0.0.1:{node.port}"
        role = roles[int(node.extra["node"])]
        if role is None:
            recorded = node.extra.get("role")
            detail = f"{recorded}, down"
            if recorded == "former primary":
                detail += "; `stack up` rebuilds it as a standby"
            out.append(NodeHealth(name, address, False, detail))
        elif split:
            out.append(NodeHealth(name, address, False, "primary: TWO PRIMARIES, fence one"))
        elif role == "primary":
            out.append(NodeHealth(name, address, True, f"primary, pid {node.pid}"))
        else:
            try:
                gap, seconds = replication_lag(state)
                lag = f"lag {gap} B" + (f", {seconds:.2f} s" if seconds is not None else "")
            except SuperstoreError as exc:
                lag = f"lag unknown ({exc})"
            out.append(NodeHealth(name, address, True, f"standby, pid {node.pid}, {lag}"))
    return out
