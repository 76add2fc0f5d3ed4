"""Loading lines straight into PostgreSQL, without Kafka.

For tests, demos of later stages, and the benchmark's raw ceiling: the same
staging + upsert path as the consumer, minus the offsets.
"""

from __future__ import annotations

from collections.abc import Sequence

from superstore.clients import PgConfig
from superstore.contract import OrderLine
from superstore.oltp.batch import Batch, StagedLine, write_batch
from superstore.oltp.migrate import migrate

__all__ = ["load_lines_direct"]


def load_lines_direct(
    pg: PgConfig, lines: Sequence[OrderLine], chunk: int = 50_000, source: str = "direct"
) -> int:
    """Apply migrations and upsert `lines` (idempotent); returns lines written."""
    migrate(pg)
    total = 0
    with pg.connect(autocommit=True) as conn:
        for start in range(0, len(lines), chunk):
            part = lines[start : start + chunk]
            staged = [StagedLine.from_line(x, source, 0, start + i) for i, x in enumerate(part)]
            batch = Batch(lines=staged)
            total += write_batch(conn, "direct-load", batch).lines
    return total
