"""What every peer shares: where a run reads and writes, and the process that runs it.

Each peer runs as its own OS process in its own session (process group), so
the benchmark can SIGKILL the whole peer (a Spark driver and its JVM, say)
exactly as a crash would, then start it again on the same group, checkpoint
or connector name, and see what the restart made of it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from superstore.clients import KafkaConfig, PgConfig

__all__ = ["ROOT", "Peer", "PeerProcess", "Target", "python_command", "resolve_jars"]

ROOT = Path(__file__).resolve().parents[2]  # the repository: `python -m bench...` runs here
RESOURCES = Path(__file__).resolve().parent / "resources"


@dataclass(frozen=True)
class Target:
    """Where one peer run reads and writes; `run_id` names its group/connector/checkpoint."""

    kafka: KafkaConfig
    pg: PgConfig
    work_dir: Path
    run_id: str

    @property
    def pg_params(self) -> dict[str, str]:
        """host, port, dbname, user of the run's database (for JDBC URLs)."""
        from psycopg.conninfo import conninfo_to_dict

        return {k: str(v) for k, v in conninfo_to_dict(self.pg.dsn).items()}

    def log_path(self, name: str) -> Path:
        """A new log file for one process of a peer (restarts and replicas get their own)."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return self.work_dir / f"{name}.{len(list(self.work_dir.glob(f'{name}.*.log')))}.log"


class PeerProcess:
    """A running peer: its own process group, log file and start time."""

    def __init__(self, name: str, cmd: list[str], log: Path, env: dict[str, str] | None = None):
        self.name = name
        self.log = log
        self.started = time.time()
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})}, cwd=ROOT, start_new_session=True,
            )  # fmt: skip

    @property
    def alive(self) -> bool:
        """True while the peer's main process runs."""
        return self.proc.poll() is None

    def kill9(self) -> None:
        """SIGKILL the whole process group: no shutdown hook, no flush, no commit."""
        self._signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the group, SIGKILL what is left after `timeout`."""
        if not self.alive:
            self._signal(signal.SIGKILL)  # orphans (a JVM child) of a peer that exited
            return
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.proc.wait(30)
        self._signal(signal.SIGKILL)

    def tail(self, lines: int = 5) -> str:
        """The end of the peer's log, for error messages."""
        text = self.log.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)


@dataclass
class Peer:
    """One contender: how to prepare its database and start (or restart) it.

    `wire` is the message format its topic must hold: "plain" (the project's
    schemaless JSON) or a peer-specific re-encoding (see `encode`).
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    wire: ClassVar[str] = "plain"
    table: ClassVar[str] = "order_lines"
    writes: ClassVar[str] = ""
    delivery: ClassVar[str] = ""
    settings: dict[str, object] = field(default_factory=dict)
    cache_dir: Path | None = None  # where Maven-resolved jars are cached

    def prepare(self, target: Target) -> None:
        """Create what the peer writes into (schema, table) in the run's fresh database."""
        raise NotImplementedError

    def start(self, target: Target) -> PeerProcess:
        """Start the peer (again, after a crash: same group/checkpoint/connector name)."""
        raise NotImplementedError

    def encode(self, value: bytes) -> bytes:
        """The message as this peer's topic carries it (identity for plain JSON)."""
        return value

    def versions(self) -> dict[str, str]:
        """Versions of what this peer runs, for the report."""
        return {}


def python_command(module: str, *args: str) -> list[str]:
    """Run a `bench.peers` module with this interpreter (cwd is the repository root)."""
    return [sys.executable, "-m", module, *args]


def resolve_jars(pom_name: str, cache_dir: Path, expect: str) -> Path:
    """Copy a pom's runtime dependencies from Maven into a cache dir keyed by the pom's hash.

    Resolved once, by the same code as the broker's jars; `expect` is a glob that must match.
    """
    from superstore.stack.tools import resolve_maven_jars

    return resolve_maven_jars(RESOURCES / pom_name, cache_dir, expect)[0]
