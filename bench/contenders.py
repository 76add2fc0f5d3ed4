"""The dashboards to compare, each served by its own code in its own process.

``ours`` is this checkout (the running interpreter); ``previous`` is another
checkout with its own venv (``--previous /work/prev-main``: the main before
the dashboards were rebuilt), so its code, its static pages and its installed
packages are all its own. Both are started the same way, through the API
both versions share (`load_settings`, `web_config`, `serve`), from the same
environment: the same PostgreSQL database and a copy each of the same
DuckDB warehouse file (a DuckDB file admits one writing process, and the
previous version opens it for writing).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["Contender", "checkout_commit", "serving"]

ROOT = Path(__file__).resolve().parents[1]

# Works with both versions: result cache size from argv (0 = every answer computed).
_LAUNCH = """
import dataclasses, sys
from superstore.settings import load_settings
from superstore.web.config import web_config
from superstore.web.server import serve
config = dataclasses.replace(web_config(load_settings()), result_cache=int(sys.argv[2]))
serve(config, "127.0.0.1", int(sys.argv[1]), announce=lambda url: print(url, flush=True))
"""


@dataclass(frozen=True)
class Contender:
    """A checkout to serve: its root and its interpreter."""

    name: str
    root: Path
    python: Path

    @classmethod
    def ours(cls) -> Contender:
        return cls("ours", ROOT, Path(sys.executable))

    @classmethod
    def previous(cls, root: Path) -> Contender:
        python = root / ".venv" / "bin" / "python"
        if not python.exists():
            raise SystemExit(
                f"{python} not found: create it with `cd {root} && python3.11 -m venv .venv && "
                ".venv/bin/pip install -e '.[dev]'`"
            )
        return cls("previous", root, python)


def checkout_commit(root: Path) -> str:
    """The checked-out commit of a checkout (its first 12 hex digits), or '?'."""
    out = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/analytics/options", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def serving(
    who: Contender, warehouse: Path, pg_dsn: str, work: Path, cache: int = 2048
) -> Iterator[str]:
    """Serve `who` on a free port until the block ends; yields its base URL once it answers.

    The warehouse is copied under `work` first. Ready means /api/analytics/options
    answers 200: the pre-aggregates are built.
    """
    work.mkdir(parents=True, exist_ok=True)
    own = work / f"{who.name}-{warehouse.name}"
    if not own.exists():
        shutil.copyfile(warehouse, own)
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SUPERSTORE_")},
        "SUPERSTORE_CONFIG": os.devnull,  # an empty file: no settings from a file
        "SUPERSTORE_DATA_DIR": str(work / f"{who.name}-data"),
        "SUPERSTORE_PG_DSN": pg_dsn,
        "SUPERSTORE_WAREHOUSE": "duckdb",
        "SUPERSTORE_WAREHOUSE_PATH": str(own),
        "PYTHONPATH": "",
    }
    log = (work / f"{who.name}-serve-{port}.log").open("w")
    proc = subprocess.Popen(
        [str(who.python), "-c", _LAUNCH, str(port), str(cache)],
        cwd=who.root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while not _ready(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                tail = Path(log.name).read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{who.name} did not serve at {url}:\n{tail}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
