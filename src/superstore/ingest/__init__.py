"""Exactly-once ingestion Kafka -> PostgreSQL, with dead-letter handling.

`consumer.Ingestor` is one consumer-group member (decode, validate, hand a
batch to the writer thread); `committer.BatchCommitter` commits each batch
through the OLTP store's transaction, retrying until it lands; `dlq` publishes
rejects; `workers` runs several members from one command.
"""

from superstore.ingest.consumer import BatchReport, IngestOptions, Ingestor, IngestStats
from superstore.ingest.workers import WorkersResult, run_member, run_workers

__all__ = [
    "BatchReport",
    "IngestOptions",
    "IngestStats",
    "Ingestor",
    "WorkersResult",
    "run_member",
    "run_workers",
]
