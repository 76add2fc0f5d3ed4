"""Several consumer-group members from one command: `superstore ingest --workers N`.

Decoding and validating JSON is Python work under one GIL; one process tops
out well below what PostgreSQL and the broker can take. N processes in the
same consumer group split the topic's partitions, each with its own
PostgreSQL connection, and exactly-once holds per partition as for one
process (offsets live with the lines; rebalances are fenced). The parent only
supervises: it forwards SIGINT/SIGTERM, waits, sums the children's counts and
fails if any child failed.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing as mp
import os
import signal
import sys
import time
from dataclasses import dataclass
from multiprocessing.queues import Queue
from typing import Any

import psycopg

from superstore.errors import SuperstoreError
from superstore.ingest.consumer import IngestOptions, Ingestor, IngestStats
from superstore.logs import setup_logging
from superstore.oltp import migrate
from superstore.settings import Settings
from superstore.stack import INGEST_ROLE, kafka_config, pg_config

__all__ = ["WorkersResult", "run_member", "run_workers", "tune_interpreter"]

log = logging.getLogger(__name__)

# How long a thread may hold the GIL while another waits for it (Python's default: 5 ms).
SWITCH_INTERVAL = 0.0005


def tune_interpreter() -> None:
    """Tune this process for ingest: fewer garbage collections, shorter GIL turns.

    GC: a process that builds ~40k dicts per batch ran a collection every 700
    allocations with the default thresholds, 13% of the ingest thread (sampled
    with py-spy). Batches hold no reference cycles; the raised gen-0 threshold
    still bounds memory.

    GIL: the writer thread waits on PostgreSQL many times per batch (each COPY
    buffer flush, each statement), and after each wait it needs the GIL back
    from the main thread, which is decoding. With the default 5 ms interval it
    queued up to 5 ms every time; at 0.5 ms, `ingest --workers 2` ran 9% faster
    (38.1k vs 34.9k lines/s, five alternating runs of 400k lines).
    """
    gc.freeze()  # start-up objects (modules, settings) are never garbage
    gc.set_threshold(50_000, 20, 100)
    sys.setswitchinterval(SWITCH_INTERVAL)


@dataclass(frozen=True)
class WorkersResult:
    """Counts summed over every worker, and how each exited."""

    lines: int
    rejected: int
    messages: int
    seconds: float
    exit_codes: list[int]

    @property
    def ok(self) -> bool:
        """True when every worker exited cleanly."""
        return all(code == 0 for code in self.exit_codes)


def run_member(settings: Settings, options: IngestOptions) -> IngestStats:
    """This process as one group member until stopped; SIGINT/SIGTERM end it cleanly."""
    tune_interpreter()
    # The schema's owner migrates; the ingest itself writes with its own role (DML only).
    with contextlib.suppress(SuperstoreError, psycopg.Error):  # the ingest retries and reports
        migrate(pg_config(settings))
    ingestor = Ingestor(kafka_config(settings), pg_config(settings, INGEST_ROLE), options)
    ingestor.install_signal_handlers()
    return ingestor.run()


def _worker(
    settings: Settings, options: IngestOptions, index: int, verbose: bool, results: Queue[Any]
) -> None:
    # A forked child inherits the parent's forwarding handlers: back to a fresh
    # interpreter's until run_member installs its own.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    setup_logging(verbose, json_lines=settings.log_json)
    log.info("worker %d of group %s starting", index, options.group_id)
    stats = run_member(settings, options)
    results.put((index, stats.lines, stats.rejected, stats.messages))


def _context() -> Any:
    """fork from a single-threaded process (the CLI): workers skip ~0.6 s of imports.

    Any other thread (a librdkafka client, a test's fixtures) could hold a lock
    at fork time, so a multi-threaded parent spawns fresh interpreters instead.
    """
    try:
        single = len(os.listdir("/proc/self/task")) == 1
    except OSError:  # no /proc: not Linux
        single = False
    return mp.get_context("fork" if single else "spawn")


def run_workers(
    settings: Settings, options: IngestOptions, workers: int, verbose: bool = False
) -> WorkersResult:
    """Run `workers` consumer processes in one group until they all stop."""
    ctx = _context()
    results: Queue[Any] = ctx.Queue()
    procs = [
        ctx.Process(
            target=_worker,
            args=(settings, options, i, verbose, results),
            name=f"ingest-worker-{i}",
        )
        for i in range(1, workers + 1)
    ]
    started = time.monotonic()

    def forward(signum: int, _frame: object) -> None:
        log.info("signal %d: asking %d workers to finish their batch and stop", signum, workers)
        for proc in procs:
            if proc.pid is not None and proc.exitcode is None:
                proc.terminate()  # SIGTERM: each worker stops after a whole batch

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for proc in procs:
            proc.start()
        log.info("started %d ingest workers in group %s", workers, options.group_id)
        counts: dict[int, tuple[int, int, int]] = {}
        while any(proc.is_alive() for proc in procs) or not results.empty():
            try:
                index, lines, rejected, messages = results.get(timeout=0.5)
            except Exception:  # queue.Empty: poll the processes again
                continue
            counts[index] = (lines, rejected, messages)
        for proc in procs:
            proc.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    codes = [proc.exitcode if proc.exitcode is not None else -1 for proc in procs]
    for proc, code in zip(procs, codes, strict=True):
        if code != 0:
            log.error("%s exited with code %d", proc.name, code)
    return WorkersResult(
        lines=sum(c[0] for c in counts.values()),
        rejected=sum(c[1] for c in counts.values()),
        messages=sum(c[2] for c in counts.values()),
        seconds=time.monotonic() - started,
        exit_codes=codes,
    )
