"""Running the consumer in a test, writing batches as it would, and reading what it wrote."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal

import psycopg

from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import OrderEvent, OrderLine, encode_event
from superstore.data import load_lines
from superstore.ingest import IngestOptions, Ingestor, IngestStats
from superstore.oltp import Batch, BatchResult, StagedEvent, StagedLine, write_batch
from superstore.oltp.today import TodaySnapshot, read_today
from superstore.produce import LineSynthesizer

__all__ = ["Feed", "flat", "orders_of", "run_ingest", "snapshot", "totals"]


class Feed:
    """Writes batches as one consumer of one partition would (offsets move on)."""

    def __init__(self, pg: PgConfig, partition: int = 0) -> None:
        self.conn = pg.connect(autocommit=True)
        self.partition = partition
        self.stored: int | None = None

    def write(self, lines: list[OrderLine], events: list[OrderEvent] | None = None) -> BatchResult:
        """One transaction: the lines, then the events, at the next offsets of this partition."""
        start = self.stored or 0
        batch = Batch(
            lines=[
                StagedLine.from_line(line, "t", self.partition, start + i)
                for i, line in enumerate(lines)
            ]
        )
        at = start + len(lines)
        for i, event in enumerate(events or []):
            staged = StagedEvent(event, encode_event(event), "t", self.partition, at + i)
            batch.events.append(staged)
        end = at + len(events or [])
        batch.offsets[("t", self.partition)] = (self.stored, end)
        result = write_batch(self.conn, "g", batch)
        self.stored = end
        return result

    def close(self) -> None:
        self.conn.close()


def orders_of(day: dt.date, count: int, seed: int = 1) -> list[list[OrderLine]]:
    """`count` synthetic orders dated `day`, each a list of its lines."""
    synth = LineSynthesizer(load_lines(), seed=seed)
    return [synth.order(day) for _ in range(count)]


def flat(orders: list[list[OrderLine]]) -> list[OrderLine]:
    """The lines of some orders, in order."""
    return [line for order in orders for line in order]


def snapshot(pg: PgConfig, day: dt.date) -> TodaySnapshot:
    """/today's snapshot of a day, read as the live hub reads it."""

    async def read() -> TodaySnapshot:
        async with await psycopg.AsyncConnection.connect(pg.dsn, autocommit=True) as conn:
            return await read_today(conn, day, "UTC")

    return asyncio.run(read())


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
