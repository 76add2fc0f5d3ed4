"""An ETL run: verify partitions, transform them in batches, merge, check.

Days are grouped into batches of about ``batch_lines`` lines; each batch is
one engine run and one warehouse transaction (merge + data-quality checks),
so a failure loses at most the batch in flight and a rerun repairs it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from superstore.etl.engines import Engine
from superstore.etl.quality import DayTotals, run_checks
from superstore.etl.source import Partition, verify_partitions
from superstore.storage import LakeConfig
from superstore.warehouse import Query, StarBatch, Warehouse

__all__ = ["EtlReport", "Progress", "run_etl"]

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: phase is "verify" (partitions) or "load" (days)."""


@dataclass
class EtlReport:
    """What a run loaded, and where the time went."""

    engine: str
    warehouse: str
    days: int = 0
    lines: int = 0
    sales: Decimal = Decimal(0)
    batches: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def add_time(self, phase: str, started: float) -> None:
        """Accumulate the time since ``started`` under ``phase``."""
        self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - started


def _batches(partitions: Sequence[Partition], batch_lines: int) -> Iterator[list[Partition]]:
    batch: list[Partition] = []
    lines = 0
    for partition in partitions:
        batch.append(partition)
        lines += partition.manifest.lines
        if lines >= batch_lines:
            yield batch
            batch, lines = [], 0
    if batch:
        yield batch


def _expected(partition: Partition) -> DayTotals:
    """What the warehouse must hold of a day: its manifest's figures."""
    m = partition.manifest
    return DayTotals(
        m.lines, m.sales, m.cancelled_lines, m.cancelled_sales, m.returned_lines, m.returned_sales
    )


def _checks(schema: str, expected: dict[dt.date, DayTotals]) -> Callable[[Query], None]:
    """The data-quality checks of one batch, to run inside its merge transaction."""
    return lambda query: run_checks(query, schema, expected)


def run_etl(
    lake: LakeConfig,
    engine: Engine,
    warehouse: Warehouse,
    days: Sequence[dt.date],
    full_verify: bool = False,
    batch_lines: int = 5_000_000,
    progress: Progress | None = None,
) -> EtlReport:
    """Load ``days`` from the lake into the warehouse; idempotent per day.

    Every partition is verified before the first write, so a bad partition
    stops the run with nothing loaded. Each batch's checks run inside its
    transaction: a failure rolls that batch back and raises.
    """
    report = EtlReport(engine=engine.name, warehouse=warehouse.display)
    report_progress = progress or (lambda phase, done, total: None)
    started = time.perf_counter()
    partitions = verify_partitions(
        lake, days, full=full_verify, on_verified=lambda d, n: report_progress("verify", d, n)
    )
    report.add_time("verify", started)
    started = time.perf_counter()
    warehouse.create_schema()
    report.add_time("merge", started)
    for batch in _batches(partitions, batch_lines):
        started = time.perf_counter()
        tables = engine.transform([p.orders_url for p in batch if p.manifest.lines])
        marks = {p.day: p.manifest.change_mark for p in batch}
        star = StarBatch(days=tuple(p.day for p in batch), tables=tables, marks=marks)
        report.add_time("transform", started)
        expected = {p.day: _expected(p) for p in batch}
        started = time.perf_counter()
        warehouse.merge(star, check=_checks(warehouse.schema, expected))
        report.add_time("merge", started)
        report.batches += 1
        report.days += len(batch)
        report.lines += star.lines
        report.sales += sum((p.manifest.sales for p in batch), Decimal(0))
        report_progress("load", report.days, len(partitions))
    return report
