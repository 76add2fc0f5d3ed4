"""Where the dashboards listen and which Host headers they answer (DNS rebinding guard)."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from superstore.clients import PgConfig
from superstore.errors import ConfigError
from superstore.web.access import AuthConfig
from superstore.web.config import WebConfig
from superstore.web.hosts import _host_name, allowed_hosts, check_bind, is_loopback
from superstore.web.server import DashboardServer


def test_loopback_names() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.8.9.10")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5")
    assert not is_loopback("example.com")


def test_binds_refused_without_sign_in() -> None:
    check_bind("127.0.0.1", "none")
    check_bind("0.0.0.0", "token")
    with pytest.raises(ConfigError, match="SUPERSTORE_WEB_HOST is empty"):
        check_bind("", "token")
    with pytest.raises(ConfigError, match="without sign-in") as exc:
        check_bind("0.0.0.0", "none")
    assert "SUPERSTORE_WEB_AUTH" in (exc.value.hint or "")


def test_host_header_names() -> None:
    assert _host_name("Example.COM:8000") == "example.com"
    assert _host_name("[::1]:8000") == "::1"
    assert _host_name("127.0.0.1") == "127.0.0.1"
    names = allowed_hosts("0.0.0.0", ["dash.example.com", " "])
    assert names == {"localhost", "127.0.0.1", "::1", "dash.example.com"}
    assert "10.1.2.3" in allowed_hosts("10.1.2.3")


def test_a_rebound_name_is_refused_by_the_running_server() -> None:
    """The real server on loopback: its own address answers, a hostile Host gets 400."""
    config = WebConfig(pg=PgConfig("postgresql://nobody@127.0.0.1:1/none"), warehouse=None)
    with DashboardServer(config, "127.0.0.1", 0) as server:
        ok = httpx.get(f"{server.url}/static/style.css", timeout=10)
        assert ok.status_code == 200
        named = httpx.get(
            f"{server.url}/static/style.css", headers={"Host": "localhost"}, timeout=10
        )
        assert named.status_code == 200
        hostile = httpx.get(
            f"{server.url}/api/today", headers={"Host": "attacker.example"}, timeout=10
        )
        assert hostile.status_code == 400  # the request's fault, not a connection to retry
        assert hostile.headers["content-type"] == "application/problem+json"
        assert "SUPERSTORE_WEB_ALLOWED_HOSTS" in hostile.json()["detail"]
    allowed = WebConfig(
        pg=config.pg, warehouse=None, allowed_hosts=("dash.example.com",), auth=AuthConfig()
    )
    with DashboardServer(allowed, "127.0.0.1", 0) as server:
        got = httpx.get(
            f"{server.url}/static/style.css", headers={"Host": "dash.example.com"}, timeout=10
        )
        assert got.status_code == 200


@pytest.mark.parametrize(
    ("env", "expect"),
    [
        ({"SUPERSTORE_WEB_HOST": ""}, "SUPERSTORE_WEB_HOST is empty"),
        ({"SUPERSTORE_WEB_HOST": "0.0.0.0"}, "without sign-in"),
    ],
)
def test_serve_refuses_in_one_line(
    env: dict[str, str], expect: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SUPERSTORE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SUPERSTORE_PG_DSN", "postgresql://nobody@127.0.0.1:1/none")
    done = subprocess.run(
        [sys.executable, "-m", "superstore", "serve"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert expect in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_stack_env_masks_the_password(tmp_path: object) -> None:
    """`stack env` of a configured server: the password only with --show-secrets."""
    env = {
        "SUPERSTORE_DATA_DIR": str(tmp_path),
        "SUPERSTORE_PG_DSN": "host=db.example port=5432 user=app password=Secret-Part2 dbname=s",
        "SUPERSTORE_KAFKA_BOOTSTRAP": "kafka.example:9092",
        "PATH": "/usr/bin:/bin",
    }
    masked = subprocess.run(
        [sys.executable, "-m", "superstore", "stack", "env"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert masked.returncode == 0, masked.stderr
    assert "Secret" not in masked.stdout + masked.stderr
    assert "password=***" in masked.stdout
    shown = subprocess.run(
        [sys.executable, "-m", "superstore", "stack", "env", "--show-secrets"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert "password=Secret-Part2" in shown.stdout
