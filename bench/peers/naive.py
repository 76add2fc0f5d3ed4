"""Naive: one message -> one set of upserts -> one commit, then an async Kafka commit.

The consumer is `bench/ingest.py`'s `run_naive` (the original project's shape),
run here in its own process until stopped.

    python -m bench.peers.naive --bootstrap H:P --topic T --dsn DSN
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from superstore.clients import KafkaConfig, PgConfig
from superstore.oltp import migrate

from .base import Peer, PeerProcess, Target, python_command

__all__ = ["NaivePeer"]


@dataclass
class NaivePeer(Peer):
    """Per-message upsert + PostgreSQL commit, Kafka offset committed after it."""

    name = "naive"
    label = "naive per-message consumer"
    writes = "OLTP schema: customers, products, orders, order_lines (4 upserts per message)"
    delivery = "at least once: PostgreSQL commit, then async Kafka offset commit"

    def prepare(self, target: Target) -> None:
        migrate(target.pg)

    def start(self, target: Target) -> PeerProcess:
        cmd = python_command(
            "bench.peers.naive", "--bootstrap", target.kafka.bootstrap,
            "--topic", target.kafka.topic, "--dsn", target.pg.dsn,
        )  # fmt: skip
        return PeerProcess(self.name, cmd, target.log_path(self.name))


def main() -> None:
    from ingest import run_naive  # bench/ingest.py (cwd is bench/)

    parser = argparse.ArgumentParser()
    for flag in ("--bootstrap", "--topic", "--dsn"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    kafka = KafkaConfig(args.bootstrap, args.topic, f"{args.topic}.dlq")
    run_naive(kafka, PgConfig(args.dsn), seconds=float("inf"))


if __name__ == "__main__":
    main()
