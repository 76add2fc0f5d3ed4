"""Least privilege on the real stack: PostgreSQL roles and passwords, private files.

The whole pipeline (`superstore run`: ingest, sync, ETL, dashboards) runs on
the session stack with the roles it hands out, then an unprivileged local
user (`nobody`) tries to read what it left behind and to sign in to
PostgreSQL; each pipeline role tries what it must not do.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from superstore.clients import KafkaConfig, PgConfig
from superstore.data import lines_between, load_lines
from superstore.oltp import migrate
from superstore.produce import produce_records, to_records
from superstore.settings import Settings
from superstore.stack import kafka_config, pg_config
from superstore.stack.kafka import create_topics
from superstore.stack.postgres import _bin
from superstore.stack.state import (
    ADMIN_ROLE,
    APP_ROLES,
    INGEST_ROLE,
    OWNER_ROLE,
    PG_PASSWORDS,
    READER_ROLE,
    WEB_ROLE,
    free_port,
    pg_passwords,
    read_state,
)

DAY = dt.date(2016, 11, 8)
AS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT, reason="switching to `nobody` needs root")


def as_nobody(command: str) -> subprocess.CompletedProcess[str]:
    """Run a shell command as the unprivileged `nobody` (from a directory it may enter)."""
    return subprocess.run(
        ["su", "nobody", "-s", "/bin/sh", "-c", command],
        capture_output=True, text=True, timeout=60, check=False, cwd="/",
    )  # fmt: skip


@pytest.fixture(scope="module")
def schema(stack_settings: Settings) -> Settings:
    """The OLTP schema in the stack's database, migrated by its owner (not the superuser)."""
    migrate(pg_config(stack_settings, OWNER_ROLE))
    return stack_settings


@pytest.fixture(scope="module")
def piped(schema: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`superstore run` on the session stack (its own roles) until every file exists.

    A fresh topic keeps other tests' data out; the lake, warehouse and
    run_state.json land in the stack's data dir, as for a user.
    """
    settings = schema
    base = kafka_config(settings)
    suffix = uuid.uuid4().hex[:8]
    kafka = KafkaConfig(base.bootstrap, f"p{suffix}.lines", f"p{suffix}.lines.dlq",
                        base.partitions, security=base.security)  # fmt: skip
    create_topics(kafka, report=lambda _: None)
    lines = lines_between(load_lines(), DAY - dt.timedelta(days=2), DAY)
    result = produce_records(kafka, to_records(lines))
    assert result.sent == len(lines) and not result.failed
    port = free_port()
    env = {**os.environ, "SUPERSTORE_DATA_DIR": str(settings.data_dir),
           "SUPERSTORE_TOPIC": kafka.topic, "SUPERSTORE_DLQ_TOPIC": kafka.dlq_topic,
           "SUPERSTORE_WEB_PORT": str(port), "SUPERSTORE_SYNC_INTERVAL": "1"}  # fmt: skip
    log = tmp_path_factory.mktemp("run") / "run.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "superstore", "run", "--metrics-port", "0"],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    data = settings.data_dir
    wanted = {
        "run_state": data / "run_state.json",
        "warehouse": data / "warehouse.duckdb",
    }
    today: dict = {}
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text(errors="replace")[-4000:]
            parquet = sorted((data / "lake").rglob("*.parquet")) if (data / "lake").exists() else []
            if parquet and all(p.exists() for p in wanted.values()):
                try:
                    answer = httpx.get(f"http://127.0.0.1:{port}/api/today",
                                       params={"date": str(DAY)}, timeout=5)  # fmt: skip
                except httpx.HTTPError:
                    answer = None
                if answer is not None and answer.status_code == 200:
                    body = answer.json()
                    if body.get("lines") or body.get("totals") or body:
                        today = body
                        break
            time.sleep(0.5)
        else:
            pytest.fail("run never wrote every file:\n" + log.read_text(errors="replace")[-4000:])
        yield {**wanted, "lake": parquet[0], "today": today, "log": log, "lines": len(lines)}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _conn(settings: Settings, role: str) -> psycopg.Connection:
    return pg_config(settings, role).connect(autocommit=True)


def test_the_pipeline_runs_with_its_roles(piped: dict, stack_settings: Settings) -> None:
    """Ingest (DML role), sync + ETL (reader), /today (web role): all the lines arrive."""
    assert piped["today"], "the dashboards' role answered /api/today"
    with _conn(stack_settings, READER_ROLE) as conn:
        row = conn.execute(
            "SELECT count(*) FROM order_lines l JOIN orders o USING (order_id)"
            " WHERE o.order_date BETWEEN %s AND %s",
            [DAY - dt.timedelta(days=2), DAY],
        ).fetchone()
    assert row is not None and row[0] >= piped["lines"]
    log = piped["log"].read_text(errors="replace")
    assert "permission denied" not in log, log[-4000:]


def test_no_trust_and_no_superuser_dsn(stack_settings: Settings) -> None:
    state = read_state(stack_settings.data_dir)
    assert state and state.postgres
    hba = (Path(state.postgres.marker) / "pg_hba.conf").read_text()
    rules = [line.split() for line in hba.splitlines() if line.strip() and line[0] != "#"]
    assert rules and all(rule[-1] == "scram-sha-256" for rule in rules), hba
    for role in APP_ROLES:
        dsn = pg_config(stack_settings, role).dsn
        assert ADMIN_ROLE not in psycopg.conninfo.conninfo_to_dict(dsn)["user"]
        with PgConfig(dsn).connect(autocommit=True) as conn:
            row = conn.execute(
                "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls"
                " FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
        assert row == (False, False, False, False, False), role
    wrong = psycopg.conninfo.make_conninfo(pg_config(stack_settings, WEB_ROLE).dsn, password="x")
    with pytest.raises(Exception, match="password authentication failed"):
        PgConfig(wrong).connect().close()


def test_private_modes(piped: dict, stack_settings: Settings) -> None:
    """Nothing under the data dir is open to others; group bits only to traverse (as root)."""
    data = stack_settings.data_dir
    mode = stat.S_IMODE(data.stat().st_mode)
    assert mode == (0o710 if AS_ROOT else 0o700), oct(mode)
    assert stat.S_IMODE((data / PG_PASSWORDS).stat().st_mode) == 0o600
    loose = []
    for path in [data, *data.rglob("*")]:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            continue
        bits = stat.S_IMODE(info.st_mode)
        allowed = 0o010 if path == data else 0
        if bits & 0o077 & ~allowed:
            loose.append(f"{oct(bits)} {path}")
    assert not loose, "\n".join(loose[:20])


@needs_root
def test_nobody_reads_no_data_file(piped: dict, stack_settings: Settings) -> None:
    state = read_state(stack_settings.data_dir)
    assert state and state.postgres and state.kafka
    data = stack_settings.data_dir
    # a published partition file now: the run's sync may have swapped the one seen at start
    published = (p for p in sorted((data / "lake").rglob("*.parquet")) if p.is_file())
    lake = next(p for p in published if not any(x.startswith(".tmp-") for x in p.parts))
    files = [lake, piped["warehouse"], piped["run_state"], data / PG_PASSWORDS,
             data / "stack.json", Path(state.postgres.log), Path(state.kafka.log)]  # fmt: skip
    assert as_nobody("cat /etc/passwd > /dev/null").returncode == 0, "su nobody works"
    for path in files:
        assert path.is_file(), path
        done = as_nobody(f"cat {shlex.quote(str(path))}")
        assert done.returncode != 0 and not done.stdout, f"nobody read {path}"
    assert as_nobody(f"ls {shlex.quote(str(data))}").returncode != 0, "nobody lists the data dir"


@needs_root
def test_nobody_cannot_sign_in_to_postgresql(stack_settings: Settings) -> None:
    state = read_state(stack_settings.data_dir)
    assert state and state.postgres
    psql = shlex.quote(_bin("psql"))
    assert as_nobody(f"{psql} --version").returncode == 0, "nobody can run psql"
    for role in (ADMIN_ROLE, *APP_ROLES):
        url = f"postgresql://{role}@127.0.0.1:{state.postgres.port}/superstore"
        done = as_nobody(f"{psql} -w {shlex.quote(url)} -Atc 'select rolsuper from pg_roles'")
        assert done.returncode != 0, f"{role}: {done.stdout}"
        assert "password" in done.stderr, done.stderr
    # with the password (from root's file) the superuser still gets in: the rule is the password
    password = pg_passwords(stack_settings.data_dir)[ADMIN_ROLE]
    url = f"postgresql://{ADMIN_ROLE}:{password}@127.0.0.1:{state.postgres.port}/superstore"
    done = subprocess.run([_bin("psql"), "-w", url, "-Atc", "select 1"],
                          capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert done.stdout.strip() == "1", done.stderr


def test_web_role_reads_only_what_today_reads(schema: Settings) -> None:
    with _conn(schema, WEB_ROLE) as conn:
        for table in ("orders", "order_lines", "products", "customers", "day_totals",
                      "day_product_sales"):  # fmt: skip
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        conn.execute("LISTEN sales_lines")
        for table in ("ingest_offsets", "rejected_lines", "order_events", "day_changes",
                      "lake_exports", "schema_migrations"):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT * FROM {table} LIMIT 1")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM orders WHERE false")
        conn.execute("SET default_transaction_read_only = off")
        for statement in ("DELETE FROM orders WHERE false",
                          "UPDATE products SET category = category WHERE false",
                          "INSERT INTO day_totals (order_date) VALUES ('1999-01-01')",
                          "CREATE TABLE stolen (x int)",
                          "CREATE TEMP TABLE stolen (x int)"):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_ingest_role_writes_only_its_tables(schema: Settings) -> None:
    with _conn(schema, INGEST_ROLE) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE stolen (x int)")
        for table in ("lake_exports",):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT * FROM {table} LIMIT 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DROP TABLE orders")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("TRUNCATE order_lines")
        conn.execute("CREATE TEMP TABLE stage_probe (x int)")  # its staging tables are TEMP
        with conn.transaction(force_rollback=True):
            conn.execute("DELETE FROM orders WHERE false")
            conn.execute("SELECT nextval('change_mark')")


def test_reader_role_writes_only_the_export_bookkeeping(schema: Settings) -> None:
    with _conn(schema, READER_ROLE) as conn:
        conn.execute("SELECT count(*) FROM orders").fetchone()
        with conn.transaction(force_rollback=True):
            conn.execute("DELETE FROM lake_exports WHERE false")
        for statement in ("DELETE FROM orders WHERE false", "CREATE TABLE stolen (x int)",
                          "UPDATE ingest_offsets SET next_offset = 0 WHERE false"):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_stack_env_masks_every_password(stack_settings: Settings, cli) -> None:
    secrets = pg_passwords(stack_settings.data_dir)
    masked = cli("stack", "env")
    assert masked.returncode == 0, masked.stderr
    assert not [role for role, pw in secrets.items() if pw in masked.stdout + masked.stderr]
    shown = cli("stack", "env", "--show-secrets")
    assert secrets[OWNER_ROLE] in shown.stdout
    assert secrets[ADMIN_ROLE] not in shown.stdout, "the superuser's password is never handed out"
    assert json.loads((stack_settings.data_dir / PG_PASSWORDS).read_text()).keys() >= set(APP_ROLES)
