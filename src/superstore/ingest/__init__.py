"""Exactly-once ingestion Kafka -> PostgreSQL, with dead-letter handling."""

from superstore.ingest.load import load_lines_direct
from superstore.ingest.migrate import migrate

__all__ = ["load_lines_direct", "migrate"]
