"""Ours: `superstore.ingest.consumer.Ingestor` in its own process, as `superstore ingest` runs it.

python -m peers.ours --bootstrap H:P --topic T --dsn DSN --group G [--batch-size N]
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass

from superstore.clients import KafkaConfig, PgConfig
from superstore.ingest import migrate
from superstore.ingest.consumer import IngestOptions, Ingestor

from .base import Peer, PeerProcess, Target, python_command

__all__ = ["OursPeer"]


@dataclass
class OursPeer(Peer):
    """The project's exactly-once consumer, batch size from `settings`."""

    name = "ours"
    label = "ours (superstore ingest)"
    writes = "OLTP schema: customers, products, orders, order_lines (multi-table upsert)"
    delivery = "exactly once: batch + per-partition offsets in one PostgreSQL transaction"

    def __post_init__(self) -> None:
        self.settings = {"batch_size": 20_000, "batch_timeout_s": 0.2, **self.settings}

    def prepare(self, target: Target) -> None:
        migrate(target.pg)

    def start(self, target: Target) -> PeerProcess:
        cmd = python_command(
            "peers.ours", "--bootstrap", target.kafka.bootstrap, "--topic", target.kafka.topic,
            "--dsn", target.pg.dsn, "--group", target.run_id,
            "--batch-size", str(self.settings["batch_size"]),
        )  # fmt: skip
        return PeerProcess(self.name, cmd, target.log_path(self.name))


def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--bootstrap", "--topic", "--dsn", "--group"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--batch-size", type=int, default=20_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    kafka = KafkaConfig(args.bootstrap, args.topic, f"{args.topic}.dlq")
    options = IngestOptions(group_id=args.group, batch_size=args.batch_size)
    ingestor = Ingestor(kafka, PgConfig(args.dsn), options)
    ingestor.install_signal_handlers()
    ingestor.run()


if __name__ == "__main__":
    main()
