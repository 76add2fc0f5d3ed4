"""Peers of our ingest for side-by-side benchmarks (bench/ingest_peers.py).

Each peer module holds its `Peer` (how to prepare its database and start it as
a process) and, where it runs Python, the process's own `main`:
  ours     superstore's Ingestor (exactly once: batch + offsets in one transaction)
  connect  Kafka Connect standalone + Debezium JDBC sink (upsert, flat table);
           connect_defaults is the same with the default batch sizes
  spark    Spark Structured Streaming, foreachBatch into the OLTP schema
  naive    one message -> one upsert -> one commit (bench/ingest.py's run_naive)
"""

from __future__ import annotations

from .base import Peer
from .connect import ConnectDefaultsPeer, ConnectPeer
from .naive import NaivePeer
from .ours import OursPeer
from .spark import SparkPeer

__all__ = ["DEFAULT_PEERS", "PEERS", "Peer"]

PEERS: dict[str, type[Peer]] = {
    peer.name: peer for peer in (OursPeer, ConnectPeer, SparkPeer, NaivePeer, ConnectDefaultsPeer)
}
DEFAULT_PEERS = ("ours", "connect", "spark", "naive")  # connect_defaults: on request
