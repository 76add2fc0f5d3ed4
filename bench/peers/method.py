"""How a run was made: hardware, versions, sizes, and what each number means."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

import confluent_kafka
import psutil
import psycopg

from superstore.settings import Settings
from superstore.stack import pg_config
from superstore.stack.tools import find_java, resource_path

from .base import Peer

__all__ = ["NOTES", "method"]

NOTES = [
    "One broker (KRaft, single node, from Maven Central jars) and one PostgreSQL (pgserver "
    "wheel, 127.0.0.1 TCP, trust auth) started for the run; every peer reads the same lines "
    "(`synthetic_records`: the Sample Superstore seed replayed with new order ids) and "
    "writes into its own fresh database.",
    "Visibility time of a line = PostgreSQL's commit timestamp of its row "
    "(`track_commit_timestamp = on`, `pg_xact_commit_timestamp(xmin)`), for every peer.",
    "Throughput *steady* = lines committed after the first commit / (last commit - first "
    "commit); *from start* = all lines / (last commit - process start), so it includes JVM "
    "or Spark start-up and the consumer-group join. A peer that does not finish within its "
    "time box is a sample: the lines it committed in that time. With `--rounds N` the "
    "throughput runs N times, the peers taking turns in each round, and each peer's row "
    "is its median round (the lower of the two middle ones for even N); every round is "
    "listed under *Reading the numbers*. This machine's speed drifts by a third within "
    "minutes, and turns spread the drift over every peer.",
    "Latency: the peer first consumes a 200-line warm-up on an empty topic, then lines are "
    "produced at a fixed rate; latency = commit time - wall time of the producer's "
    "`produce()` call (same clock; includes the producer's 20 ms linger).",
    "kill -9: once 40% of the kill topic is committed, SIGKILL the peer's whole process "
    "group (JVMs included), restart it with the same group / connector name / checkpoint, "
    "wait until every line is visible, then 3 s more. *lost* = expected lines missing; "
    "*doubled* = rows beyond the expected lines or an exact sales sum above the expected "
    "one (a primary key on (order_id, line_number) makes both impossible for every peer "
    "here); *re-applied* = lines whose write was committed more than once, counted by a "
    "BEFORE INSERT trigger (it fires for every row an INSERT ... ON CONFLICT proposes) into "
    "a log table, installed for the kill -9 run only. Re-applied lines are at-least-once "
    "delivery made harmless by an idempotent upsert; they are not extra sales.",
    "Lines per CPU-second = lines committed between the first poll that sees data and the "
    "end, divided by the CPU time (user + system) the peer's processes, the broker and "
    "PostgreSQL (backends included) used in that window; in brackets that CPU per million "
    "lines, split by peer / PostgreSQL / broker. Unlike lines/s it does not depend "
    "on how much of the machine other work took; *machine CPU busy* is the share of both "
    "cores busy during the run, whoever used them.",
    "The trigger and the polling (`count(*)` every 0.2-2 s) run for every peer alike.",
]


def _java_version() -> str:
    java = find_java(None).path
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "([^"]+)"', out.stderr + out.stdout)
    return match.group(1) if match else "?"


def _cpu() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "?"


def method(settings: Settings, peers: list[Peer], sizes: dict, load_at_start: float) -> dict:
    """Hardware, versions, data sizes and the measurement notes for the report."""
    with pg_config(settings).connect(autocommit=True) as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
    kafka = re.search(r"<kafka.version>([^<]+)<", resource_path("pom.xml").read_text()).group(1)
    versions = {
        "Kafka broker": kafka,
        "PostgreSQL": pg_version,
        "Java": _java_version(),
        "Python": platform.python_version(),
        "confluent-kafka": confluent_kafka.__version__,
        "librdkafka": confluent_kafka.libversion()[0],
        "psycopg": psycopg.__version__,
    }
    for peer in peers:
        try:
            versions.update(peer.versions())
        except Exception as exc:  # a peer that cannot resolve is reported in its errors
            versions[peer.name] = f"unavailable ({exc})"[:120]
    hardware = {
        "nproc": psutil.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": _cpu(),
        "load_average_1m_at_start": round(load_at_start, 2),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }
    return {"hardware": hardware, "versions": versions, "sizes": sizes, "notes": NOTES}
