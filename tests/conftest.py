"""Session fixtures: ONE real Kafka broker and ONE real PostgreSQL for the whole run.

Tests that need a clean topic create their own (unique name) instead of
restarting services, which keeps the suite fast and the services real.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from superstore.clients import KafkaConfig, PgConfig
from superstore.settings import Settings, load_settings
from superstore.stack import kafka_config, pg_admin_config, pg_config, stack_down, stack_up
from superstore.stack.kafka import create_topics
from tests.support.pgadmin import register_admin

# A config file or env in the developer's shell must not leak into tests.
for _key in [k for k in os.environ if k.startswith("SUPERSTORE_")]:
    del os.environ[_key]
os.environ["SUPERSTORE_CONFIG"] = os.devnull  # an empty file: no settings from a file


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of a real local stack started once for the session, stopped at the end."""
    data_dir = tmp_path_factory.mktemp("stack")
    settings = load_settings(data_dir=data_dir)
    stack_up(settings, report=lambda msg: print(msg, file=sys.stderr))
    register_admin(pg_admin_config(settings).dsn)  # tests' own databases are made by it
    try:
        yield settings
    finally:
        stack_down(settings, purge=True)


@pytest.fixture(scope="session")
def kafka(stack_settings: Settings) -> KafkaConfig:
    """The session broker with the default topics."""
    return kafka_config(stack_settings)


@pytest.fixture(scope="session")
def pg(stack_settings: Settings) -> PgConfig:
    """The session PostgreSQL server (database `superstore`), as the schema's owner."""
    return pg_config(stack_settings)


@pytest.fixture(scope="session")
def pg_admin(stack_settings: Settings) -> PgConfig:
    """The session server's superuser: set-up and assertions the pipeline's roles cannot make."""
    return pg_admin_config(stack_settings)


@pytest.fixture
def fresh_kafka(kafka: KafkaConfig) -> KafkaConfig:
    """The session broker with a new, empty lines topic and DLQ for this test."""
    suffix = uuid.uuid4().hex[:8]
    config = KafkaConfig(
        bootstrap=kafka.bootstrap,
        topic=f"t{suffix}.lines",
        dlq_topic=f"t{suffix}.lines.dlq",
        partitions=kafka.partitions,
        security=kafka.security,
    )
    create_topics(config, report=lambda _: None)
    return config


@pytest.fixture
def fresh_pg(pg: PgConfig, pg_admin: PgConfig) -> Iterator[PgConfig]:
    """A new, empty database (owned by `pg`'s role) for this test, dropped afterwards."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = f"t_{uuid.uuid4().hex[:10]}"
    admin = PgConfig(make_conninfo(pg_admin.dsn, dbname="postgres"))
    owner = conninfo_to_dict(pg.dsn)["user"]
    with admin.connect(autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    params = conninfo_to_dict(pg.dsn) | {"dbname": name}
    yield PgConfig(make_conninfo(**params))
    with admin.connect(autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def cli_env(stack_settings: Settings) -> dict[str, str]:
    """Environment for running the CLI as a subprocess against the session stack."""
    env = dict(os.environ)
    env["SUPERSTORE_DATA_DIR"] = str(stack_settings.data_dir)
    return env


def _run_cli(args: list[str], env: dict[str, str], timeout: float = 180):
    return subprocess.run(
        [sys.executable, "-m", "superstore", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m superstore ARGS` against the session stack; extra env via `env=`."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 180):
        return _run_cli(list(args), {**cli_env, **(env or {})}, timeout)

    return run


@pytest.fixture
def bare_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the CLI with an empty data dir and no stack: for error paths and --help."""
    base = {**os.environ, "SUPERSTORE_DATA_DIR": str(tmp_path / "data")}

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 180):
        return _run_cli(list(args), {**base, **(env or {})}, timeout)

    return run
