"""The command line: --help everywhere, clear one-line errors, no tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from superstore.cli.app import app


def _all_commands() -> list[list[str]]:
    root = typer.main.get_command(app)
    found: list[list[str]] = [[]]

    def walk(group, prefix: list[str]) -> None:
        for name, cmd in getattr(group, "commands", {}).items():
            found.append([*prefix, name])
            walk(cmd, [*prefix, name])

    walk(root, [])
    return found


def test_every_command_is_listed() -> None:
    names = {" ".join(c) for c in _all_commands()}
    assert {"stack up", "stack down", "stack status", "stack env", "data fetch", "produce"} <= names


@pytest.mark.parametrize("command", _all_commands(), ids=lambda c: " ".join(c) or "root")
def test_help_on_every_command(bare_cli, command: list[str]) -> None:
    result = bare_cli(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
    assert len(result.stdout.strip().splitlines()) > 3


def test_missing_file(bare_cli, tmp_path: Path) -> None:
    result = bare_cli("data", "fetch", "--from", str(tmp_path / "nope.csv"))
    assert result.returncode == 2
    assert "not found" in result.stderr and "Traceback" not in result.stderr


def test_wrong_csv_header(bare_cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    result = bare_cli("data", "fetch", "--from", str(bad))
    assert result.returncode == 2
    assert "missing columns" in result.stderr and "Traceback" not in result.stderr


def test_produce_needs_exactly_one_mode(cli) -> None:
    result = cli("produce")
    assert result.returncode == 2
    assert "choose exactly one of --replay, --live, or --cancel/--return" in result.stderr
    result = cli("produce", "--replay", "--live")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_bad_option_value_is_a_usage_error(bare_cli) -> None:
    result = bare_cli("produce", "--replay", "--since", "yesterday")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_invalid_setting_is_named(bare_cli) -> None:
    result = bare_cli("stack", "status", env={"SUPERSTORE_TIMEZONE": "Nowhere/Land"})
    assert result.returncode == 2
    assert "timezone" in result.stderr and "Traceback" not in result.stderr


def test_version(bare_cli) -> None:
    result = bare_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("superstore ")


def test_cli_starts_single_threaded_so_workers_fork() -> None:
    """`ingest --workers N` forks only from a single-threaded process.

    numpy and pyarrow start thread pools when imported; if the CLI imported them
    at start-up, every worker would be a fresh interpreter (~0.5 s more per launch).
    """
    code = (
        "import os, sys\n"
        "import superstore.cli\n"
        "from superstore.ingest.workers import _context\n"
        "heavy = sorted(m for m in ('numpy', 'pyarrow', 'duckdb', 'sqlglot') if m in sys.modules)\n"
        "print(_context().get_start_method(), len(os.listdir('/proc/self/task')), heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[:2] == ["fork", "1"], out.stdout
