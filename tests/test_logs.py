"""Log lines: readable by default, one JSON object per line with SUPERSTORE_LOG_JSON."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from superstore.logs import JsonFormatter


def test_json_formatter_keeps_message_level_and_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "superstore.x", logging.ERROR, __file__, 1, "batch %d failed", (7,), sys.exc_info()
        )
    doc = json.loads(JsonFormatter().format(record))
    assert doc["level"] == "ERROR" and doc["logger"] == "superstore.x"
    assert doc["message"] == "batch 7 failed" and doc["pid"] == os.getpid()
    assert doc["ts"].endswith("+00:00") and "ValueError: boom" in doc["exception"]


def _ingest_stderr(tmp_path: Path, **env: str) -> str:
    """stderr of `ingest` until it logs its first retry of an unreachable PostgreSQL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "superstore", "--data-dir", str(tmp_path), "ingest"],
        env={**os.environ, "SUPERSTORE_PG_DSN": "postgresql://127.0.0.1:9/x?connect_timeout=1",
             "SUPERSTORE_KAFKA_BOOTSTRAP": "127.0.0.1:9",
             **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while not any("PostgreSQL unavailable" in x for x in lines):
        assert time.monotonic() < deadline, f"no retry logged in 60 s: {lines}"
        assert proc.poll() is None, f"ingest exited instead of retrying: {lines}"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    reader.join(timeout=10)
    return "".join(lines)


def test_commands_log_json_lines_when_asked(tmp_path: Path) -> None:
    lines = [x for x in _ingest_stderr(tmp_path, SUPERSTORE_LOG_JSON="1").splitlines() if x]
    docs = [json.loads(x) for x in lines if x.startswith("{")]
    assert any("PostgreSQL unavailable" in d["message"] for d in docs), lines
    assert all({"ts", "level", "logger", "message", "pid"} <= d.keys() for d in docs)


def test_logs_are_readable_lines_by_default(tmp_path: Path) -> None:
    lines = _ingest_stderr(tmp_path).splitlines()
    assert any("WARNING" in x and "PostgreSQL unavailable" in x for x in lines), lines
    assert not any(x.startswith("{") for x in lines)
