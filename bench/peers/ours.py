"""Ours: `superstore ingest --workers N`, the command users run, in its own process group."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from superstore.oltp import migrate

from .base import Peer, PeerProcess, Target

__all__ = ["OursPeer"]


@dataclass
class OursPeer(Peer):
    """The project's exactly-once consumer; workers, batch size and wait from `settings`."""

    name = "ours"
    label = "ours (superstore ingest)"
    writes = "OLTP schema: customers, products, orders, order_lines (multi-table upsert)"
    delivery = "exactly once: batch + per-partition offsets in one PostgreSQL transaction"

    def __post_init__(self) -> None:
        # workers=2: one consumer process per core, as Kafka Connect gets tasks.max=2.
        self.settings = {"workers": 2, "batch_size": 20_000, "max_wait_ms": 50, **self.settings}

    def prepare(self, target: Target) -> None:
        migrate(target.pg)

    def start(self, target: Target) -> PeerProcess:
        s = self.settings
        cmd = [
            sys.executable, "-m", "superstore", "ingest", "--group", target.run_id,
            "--workers", str(s["workers"]), "--batch-size", str(s["batch_size"]),
            "--max-wait-ms", str(s["max_wait_ms"]),
        ]  # fmt: skip
        env = {
            "SUPERSTORE_KAFKA_BOOTSTRAP": target.kafka.bootstrap,
            "SUPERSTORE_TOPIC": target.kafka.topic,
            "SUPERSTORE_DLQ_TOPIC": f"{target.kafka.topic}.dlq",
            "SUPERSTORE_PG_DSN": target.pg.dsn,
        }
        return PeerProcess(self.name, cmd, target.log_path(self.name), env)
