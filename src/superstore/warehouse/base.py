"""The one interface every warehouse target implements, and the batch it merges.

A target needs only a handful of operations: create the schema, merge a
batch of star rows in ONE transaction (with the data-quality checks run
inside it, so a failed check leaves the warehouse as it was), and answer
queries. DuckDB, PostgreSQL and Redshift implement it; the ETL pipeline and
the dashboards see nothing else.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import pyarrow as pa

from superstore.errors import FatalError
from superstore.warehouse.schema import TABLES, StarTable

__all__ = ["Closeable", "Query", "StarBatch", "Warehouse", "conform", "time_key"]

Query = Callable[[str], list[tuple[Any, ...]]]
"""Runs one statement authored in PostgreSQL's dialect; returns its rows."""


def time_key(day: dt.date) -> int:
    """The surrogate key of a date: ``yyyymmdd`` (stable, readable, sortable)."""
    return day.year * 10000 + day.month * 100 + day.day


def conform(data: pa.Table, table: StarTable) -> pa.Table:
    """An engine's output with exactly the warehouse's columns and Arrow types.

    Engines differ in string and integer widths; casting here makes their
    batches byte-for-byte comparable. A missing column is a bug in the
    transformation, reported as such.
    """
    missing = [n for n in table.names if n not in data.column_names]
    if missing:
        raise FatalError(f"transform output {table.name} lacks columns {missing}")
    try:
        return data.select(table.names).cast(table.arrow_schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise FatalError(f"transform output {table.name} does not fit the schema: {exc}") from exc


@dataclass
class StarBatch:
    """The star rows of some lake days, ready to merge.

    ``days`` are every day the batch replaces, including days whose partition
    holds no lines: merging deletes those days' facts first.
    """

    days: tuple[dt.date, ...]
    tables: dict[str, pa.Table] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for star in TABLES:
            if star.name not in self.tables:
                self.tables[star.name] = star.arrow_schema.empty_table()
            else:
                self.tables[star.name] = conform(self.tables[star.name], star)

    @property
    def time_keys(self) -> list[int]:
        """The batch's days as ``time_key`` values, sorted."""
        return sorted(time_key(d) for d in self.days)

    @property
    def lines(self) -> int:
        """Fact rows in the batch."""
        return self.tables["sales_fact"].num_rows


class Closeable:
    """``with x:`` closes ``x`` at the end; engines and warehouses hold connections."""

    def close(self) -> None:
        """Release what the object holds (default: nothing)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Warehouse(Closeable, ABC):
    """A star-schema target. Use as a context manager; ``close`` releases connections."""

    dialect: str
    schema: str

    @abstractmethod
    def create_schema(self) -> None:
        """Create the schema and tables if missing (idempotent)."""

    @abstractmethod
    def merge(self, batch: StarBatch, check: Callable[[Query], None] | None = None) -> None:
        """Replace the batch's days and upsert its dimensions, in one transaction.

        ``check`` runs inside the transaction after the writes; if it raises,
        everything is rolled back and the error propagates.
        """

    @abstractmethod
    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of one statement authored in PostgreSQL's dialect (rendered here)."""

    @property
    @abstractmethod
    def display(self) -> str:
        """Where the warehouse is, safe to print (no password)."""
