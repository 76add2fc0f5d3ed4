"""The local stack: real broker and PostgreSQL, idempotent up, clean down, clear errors."""

from __future__ import annotations

import socket
from pathlib import Path

import psutil
import pytest

from superstore.clients import KafkaConfig, PgConfig
from superstore.settings import Settings, load_settings
from superstore.stack import stack_down, stack_env, stack_status, stack_up
from superstore.stack.state import read_state


def test_session_stack_is_real_and_healthy(
    stack_settings: Settings, kafka: KafkaConfig, pg: PgConfig
) -> None:
    rows = {row.name: row for row in stack_status(stack_settings)}
    assert rows["kafka"].healthy and rows["postgres"].healthy
    assert kafka.ping() == 1
    meta = kafka.admin().list_topics(timeout=10)
    assert len(meta.topics["sales.lines"].partitions) == 3
    assert "sales.lines.dlq" in meta.topics
    with pg.connect() as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
    assert version.startswith("16")
    state = read_state(stack_settings.data_dir)
    assert state and state.kafka and state.postgres
    java = psutil.Process(state.kafka.pid)
    assert "kafka.Kafka" in java.cmdline(), "a real Apache Kafka broker JVM"


def test_env_lines_are_usable(stack_settings: Settings, kafka: KafkaConfig, pg: PgConfig) -> None:
    env = stack_env(stack_settings)
    assert env["SUPERSTORE_KAFKA_BOOTSTRAP"] == kafka.bootstrap
    assert env["SUPERSTORE_PG_DSN"] == pg.dsn
    assert PgConfig(env["SUPERSTORE_PG_DSN"]).connect().close() is None


def test_up_twice_reuses_the_running_services(stack_settings: Settings, cli) -> None:
    before = read_state(stack_settings.data_dir)
    again = stack_up(stack_settings)
    assert again.kafka.pid == before.kafka.pid
    assert again.postgres.pid == before.postgres.pid
    result = cli("stack", "up")
    assert result.returncode == 0, result.stderr
    assert "already running" in result.stderr
    assert read_state(stack_settings.data_dir).kafka.pid == before.kafka.pid


def test_full_lifecycle_leaves_no_process(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "own")
    state = stack_up(settings)
    pids = [state.kafka.pid, state.postgres.pid]
    assert all(psutil.pid_exists(pid) for pid in pids)
    stack_down(settings)
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert read_state(settings.data_dir) is None
    assert (settings.data_dir / "kafka").exists(), "down without --purge keeps data"
    restarted = stack_up(settings)  # restart on the same storage, same topics
    assert KafkaConfig(restarted.kafka.address, "sales.lines", "").ping() == 1
    stack_down(settings, purge=True)
    assert not (settings.data_dir / "kafka").exists()
    assert not (settings.data_dir / "postgres").exists()


def test_external_services_are_never_started(
    tmp_path: Path, kafka: KafkaConfig, pg: PgConfig
) -> None:
    settings = load_settings(data_dir=tmp_path, kafka_bootstrap=kafka.bootstrap, pg_dsn=pg.dsn)
    state = stack_up(settings)
    assert state.kafka is None and state.postgres is None
    rows = stack_status(settings)
    assert [(r.origin, r.healthy) for r in rows] == [("external", True), ("external", True)]
    stack_down(settings)  # stops nothing it did not start
    assert kafka.ping() == 1


def _assert_clean_error(result, *needles: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_port_in_use_is_one_clear_line(bare_cli) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = bare_cli("stack", "up", env={"SUPERSTORE_KAFKA_PORT": str(port)})
    _assert_clean_error(result, f"port {port}", "SUPERSTORE_KAFKA_PORT")
    assert result.returncode == 2


def test_missing_java_says_what_to_install(bare_cli, tmp_path: Path) -> None:
    result = bare_cli("stack", "up", env={"SUPERSTORE_JAVA_HOME": str(tmp_path / "nojdk")})
    _assert_clean_error(result, "Java not found", "apt-get install openjdk-17")


@pytest.mark.parametrize("command", [["stack", "env"], ["produce", "--replay"], ["topic", "stats"]])
def test_commands_without_a_stack_explain(bare_cli, command: list[str]) -> None:
    _assert_clean_error(bare_cli(*command), "stack up")


def test_status_without_stack_exits_non_zero(bare_cli) -> None:
    result = bare_cli("stack", "status")
    assert result.returncode == 1
    assert "not started" in result.stdout


def test_data_dir_is_private(stack_settings: Settings) -> None:
    import stat

    mode = stack_settings.data_dir.stat().st_mode
    assert mode & (stat.S_IRWXG | stat.S_IRWXO) & ~(stat.S_IXGRP | stat.S_IXOTH) == 0, oct(mode)
    state_mode = (stack_settings.data_dir / "stack.json").stat().st_mode
    assert state_mode & 0o077 == 0, oct(state_mode)
