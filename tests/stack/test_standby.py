"""Losing the PostgreSQL machine: a streaming standby, failover, and a DSN that follows the primary.

One stack for the module (a single broker, the embedded PostgreSQL and its
standby) in a data dir of its own. The tests run in order: replicate, kill -9
the primary and fail over, rebuild the old primary as a standby, switch over
back, then stop everything.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal

import psutil
import psycopg
import pytest

from superstore.clients import PgConfig
from superstore.oltp import migrate
from superstore.oltp.today import TodaySnapshot
from superstore.settings import Settings, load_settings
from superstore.stack import stack_down, stack_env, stack_status, stack_up
from superstore.stack.faults import kill_pg_primary
from superstore.stack.standby import SLOT, replication_lag, wait_for_replay
from superstore.stack.state import ServiceState, read_state
from superstore.stack.topology import read_topology
from superstore.web.live import LiveHub
from tests.support.ingest import Feed, flat, orders_of, snapshot

pytestmark = [pytest.mark.failover, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("standby"))
    started = time.monotonic()
    stack_up(settings, report=lambda m: print(m, file=sys.stderr), pg_standby=True)
    print(f"stack with standby up in {time.monotonic() - started:.1f}s", file=sys.stderr)
    try:
        yield settings
    finally:
        stack_down(settings, purge=True)


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUPERSTORE_DATA_DIR": str(settings.data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "superstore", *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _node(settings: Settings, number: int) -> ServiceState:
    state = read_state(settings.data_dir)
    nodes = [n for n in (state.postgres, state.pg_standby) if n and n.extra["node"] == number]
    assert nodes, f"no PostgreSQL node {number} recorded"
    return nodes[0]


def _count(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        return conn.execute("SELECT count(*) FROM failover_probe").fetchone()[0]


def _write(dsn: str, rows: int) -> int:
    """Insert `rows` rows through `dsn`; the port of the server that took them."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS failover_probe (id bigserial, at timestamptz)")
        conn.execute(
            "INSERT INTO failover_probe (at) SELECT now() FROM generate_series(1, %s)", [rows]
        )
        return conn.execute("SELECT inet_server_port()").fetchone()[0]


def test_standby_replicates_what_the_primary_commits(pair: Settings) -> None:
    state = read_state(pair.data_dir)
    primary, standby = state.postgres, state.pg_standby
    assert (primary.extra["node"], primary.extra["role"]) == (1, "primary")
    assert (standby.extra["node"], standby.extra["role"]) == (2, "standby")
    dsn = stack_env(pair)["SUPERSTORE_PG_DSN"]
    assert f"port={primary.port},{standby.port}" in dsn
    assert "host=127.0.0.1,127.0.0.1" in dsn and "target_session_attrs=read-write" in dsn
    assert _cli(pair, "stack", "env", "--show-secrets").stdout.count(dsn) == 1
    assert _cli(pair, "stack", "env").stdout.count(PgConfig(dsn).display) == 1, "masked"
    assert _write(dsn, 1000) == primary.port, "read-write goes to the primary"
    took = wait_for_replay(state, timeout=30)
    assert _count(standby.address) == 1000
    with psycopg.connect(standby.address, autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        assert conn.execute("SHOW server_version").fetchone()[0].startswith("16")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO failover_probe (at) VALUES (now())")
    with psycopg.connect(primary.address, autocommit=True) as conn:
        slot = conn.execute(
            "SELECT slot_type, active FROM pg_replication_slots WHERE slot_name = %s", [SLOT]
        ).fetchone()
        sync = conn.execute("SELECT sync_state FROM pg_stat_replication").fetchone()
    assert slot == ("physical", True) and sync == ("async",)
    gap, _ = replication_lag(state)
    rows = {row.name: row for row in stack_status(pair)}
    assert rows["postgres node 1"].detail.startswith("primary")
    assert (
        rows["postgres node 2"].detail.startswith("standby")
        and "lag" in rows["postgres node 2"].detail
    )
    print(
        f"1000 rows replayed on the standby {took:.2f}s after commit; lag now {gap} B",
        file=sys.stderr,
    )


def test_today_pushes_from_the_standby_without_listen(pair: Settings) -> None:
    """Dashboards reading the standby: LISTEN is refused there, pushes follow its replay."""
    state = read_state(pair.data_dir)
    primary = PgConfig(stack_env(pair)["SUPERSTORE_PG_DSN"])
    migrate(primary)
    day = dt.date(2017, 11, 8)
    orders = orders_of(day, 3, seed=7)

    async def scenario() -> tuple[str, TodaySnapshot, TodaySnapshot]:
        hub = LiveHub(state.pg_standby.address, lambda d: d or day, "UTC", replay_poll=0.2)
        await hub.start()
        try:
            async with hub.subscribe(day) as queue:
                deadline = time.monotonic() + 30
                while hub.source != "replay" and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                source = hub.source
                first = await asyncio.wait_for(queue.get(), 30)
                assert first is not None
                feed = Feed(primary)
                try:
                    feed.write(flat(orders))
                finally:
                    feed.close()
                pushed = first
                while pushed is not None and pushed.lines < first.lines + len(flat(orders)):
                    pushed = await asyncio.wait_for(queue.get(), 30)
                assert pushed is not None
                return source, first, pushed
        finally:
            await hub.stop()

    source, before, after = asyncio.run(scenario())
    assert source == "replay"
    expected = sum((line.sales for line in flat(orders)), Decimal(0))
    assert after.lines - before.lines == len(flat(orders))
    assert after.orders - before.orders == len(orders)
    assert after.sales - before.sales == expected
    assert snapshot(primary, day).sales == after.sales, "the standby shows what the primary holds"


def test_kill_primary_then_failover_and_the_same_dsn_writes_to_the_new_primary(
    pair: Settings,
) -> None:
    dsn = stack_env(pair)["SUPERSTORE_PG_DSN"]  # as a client configured before the failure
    _write(dsn, 500)
    wait_for_replay(read_state(pair.data_dir))
    before = _count(dsn)
    old, new = _node(pair, 1), _node(pair, 2)
    killed_at = time.monotonic()
    kill_pg_primary(pair)
    assert not old.alive()
    result = _cli(pair, "stack", "failover")
    assert result.returncode == 0, result.stderr
    assert "no longer primary" in result.stderr
    port = _write(dsn, 10)
    recovered = time.monotonic() - killed_at
    assert port == new.port, "libpq skipped the dead node and found the promoted one"
    assert _count(dsn) == before + 10
    state = read_state(pair.data_dir)
    assert state.postgres.extra["node"] == 2 and state.postgres.extra["role"] == "primary"
    assert state.pg_standby.extra["role"] == "former primary"
    assert read_topology(pair.data_dir).pg_primary == "postgres-2"
    assert stack_env(pair)["SUPERSTORE_PG_DSN"] == dsn, "the DSN is the same after failover"
    rows = {row.name: row for row in stack_status(pair)}
    assert (
        not rows["postgres node 1"].healthy and "former primary" in rows["postgres node 1"].detail
    )
    assert rows["postgres node 2"].detail.startswith("primary")
    print(f"kill -9 primary -> failover CLI -> first write: {recovered:.1f}s", file=sys.stderr)


def test_up_rebuilds_the_former_primary_as_a_standby_and_switchover_loses_nothing(
    pair: Settings,
) -> None:
    dsn = stack_env(pair)["SUPERSTORE_PG_DSN"]
    started = time.monotonic()
    state = stack_up(pair)  # no flag: the recorded shape, a standby wanted
    rebuilt = time.monotonic() - started
    assert state.pg_standby.extra["node"] == 1 and state.pg_standby.extra["role"] == "standby"
    assert stack_env(pair)["SUPERSTORE_PG_DSN"] == dsn, "the rebuilt node kept its port"
    _write(dsn, 100)
    wait_for_replay(state)
    expected = _count(dsn)
    assert _count(state.pg_standby.address) == expected
    # Switchover: the primary is alive, so failover shuts it down first and its
    # last WAL reaches the standby; rows committed just before are all there.
    _write(dsn, 2000)
    result = _cli(pair, "stack", "failover")
    assert result.returncode == 0, result.stderr
    assert _write(dsn, 1) == _node(pair, 1).port
    assert _count(dsn) == expected + 2000 + 1
    state = stack_up(pair)
    assert state.postgres.extra["node"] == 1 and state.pg_standby.extra["role"] == "standby"
    print(f"former primary rebuilt as a standby by stack up in {rebuilt:.1f}s", file=sys.stderr)


def test_failover_without_a_standby_is_one_clear_line(tmp_path) -> None:
    result = _cli(load_settings(data_dir=tmp_path / "none"), "stack", "failover")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--pg-standby" in result.stderr


def test_down_leaves_no_process_and_up_restores_the_roles(pair: Settings) -> None:
    state = read_state(pair.data_dir)
    procs = []
    for node in (state.postgres, state.pg_standby):
        root = psutil.Process(node.pid)
        procs += [root, *root.children(recursive=True)]
    procs.append(psutil.Process(state.kafka.pid))
    assert _cli(pair, "stack", "down").returncode == 0
    left = [p.pid for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, f"still running after stack down: {left}"
    state = stack_up(pair)
    assert state.postgres.extra["node"] == 1, "the primary of the last switchover stays primary"
    assert state.pg_standby.extra["role"] == "standby"
    with psycopg.connect(state.pg_standby.address, autocommit=True) as conn:
        assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
    state = stack_up(pair, pg_standby=False)  # and the standby can be dropped again
    assert state.pg_standby is None and not (pair.data_dir / "postgres-2").exists()
    assert PgConfig(stack_env(pair)["SUPERSTORE_PG_DSN"]).connect().close() is None
    with psycopg.connect(state.postgres.address, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0] == 0
