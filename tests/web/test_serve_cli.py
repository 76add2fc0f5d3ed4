"""`superstore serve` as a user runs it: URLs printed, pages served, clear one-line errors."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable

import httpx
import pytest

from superstore.clients import PgConfig
from superstore.errors import ConfigError
from superstore.oltp import migrate
from superstore.settings import Settings
from superstore.web import serve_until
from superstore.web.server import bind


def test_serve_prints_urls_and_serves(stack_settings: Settings, pg: PgConfig) -> None:
    migrate(pg)  # the session database may not have been ingested into yet
    env = {**os.environ, "SUPERSTORE_DATA_DIR": str(stack_settings.data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "superstore", "serve", "--port", "0", "--date", "2016-09-05"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        while not any("/docs" in line for line in lines):
            line = proc.stderr.readline()
            assert line, f"serve exited: {''.join(lines)}"
            lines.append(line)
        text = "".join(lines)
        base = re.search(r"dashboards on (http://127\.0\.0\.1:\d+)", text).group(1)
        assert f"{base}/today?date=2016-09-05" in text and f"{base}/docs" in text
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.get("/api/today").json()["date"] == "2016-09-05"  # --date pins it
            assert "<title>Analytics" in client.get("/analytics").text
            assert client.get("/api/health").json()["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) in (0, 130)  # Ctrl-C: a clean stop, no traceback
        rest = proc.stderr.read()
        assert "Traceback" not in rest, rest


def test_serve_without_postgres_is_one_clear_line(bare_cli: Callable) -> None:
    result = bare_cli("serve", "--port", "0")
    assert result.returncode == 2
    assert result.stderr.startswith("error: no PostgreSQL configured")
    assert "Traceback" not in result.stderr


def test_busy_port_is_a_config_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind("127.0.0.1", port)


def test_serve_until_stops_with_the_event(stack_settings: Settings) -> None:
    """The hook `superstore run` uses: serves until its stop event is set."""
    settings = stack_settings.model_copy(update={"web_port": 0})
    stop = threading.Event()
    worker = threading.Thread(target=serve_until, args=(settings, stop))
    worker.start()
    stop.set()
    worker.join(timeout=20)
    assert not worker.is_alive()
