"""Running the consumer in a test, and reading what it wrote."""

from __future__ import annotations

from decimal import Decimal

from superstore.clients import KafkaConfig, PgConfig
from superstore.ingest import IngestOptions, Ingestor, IngestStats

__all__ = ["run_ingest", "totals"]


def totals(pg: PgConfig) -> tuple[int, Decimal, int]:
    """(lines, exact sales sum, rejected) in the OLTP database."""
    with pg.connect(autocommit=True) as conn:
        lines, sales = conn.execute(
            "SELECT count(*), coalesce(sum(sales), 0) FROM order_lines"
        ).fetchone()
        rejected = conn.execute("SELECT count(*) FROM rejected_lines").fetchone()[0]
    return int(lines), Decimal(sales), int(rejected)


def run_ingest(kafka: KafkaConfig, pg: PgConfig, **options: object) -> IngestStats:
    """Run the consumer in-process until the topic is idle."""
    opts = IngestOptions(**{"until_idle": 1.5, "progress_every": 60.0, **options})
    return Ingestor(kafka, pg, opts).run()
