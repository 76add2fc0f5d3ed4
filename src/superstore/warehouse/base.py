"""The interfaces every warehouse target implements, and the batch it merges.

A target is a config (`TargetConfig`) that builds both sides of its store:

- the loader (`Warehouse`) the ETL uses: create the schema, merge a batch of
  star rows in ONE transaction (with the data-quality checks run inside it,
  so a failed check leaves the warehouse as it was), answer queries;
- the reader (`WarehouseReader`) the dashboards use: a cheap version that
  changes with every load, and the pre-aggregates read in one snapshot.

DuckDB, PostgreSQL and Redshift implement them; the ETL pipeline and the
dashboards see nothing else.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import duckdb
import pyarrow as pa

from superstore.errors import FatalError, TransientError
from superstore.lifecycle import Closeable
from superstore.settings import Settings
from superstore.warehouse.schema import DAY_LOADS, TABLES, StarTable

__all__ = [
    "Query",
    "StarBatch",
    "TargetConfig",
    "Warehouse",
    "WarehouseReader",
    "conform",
    "time_key",
]

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
    holds no lines: merging deletes those days' facts first. ``marks`` are the
    days' change marks as their partitions hold them (recorded in
    ``day_loads`` by the merge).
    """

    days: tuple[dt.date, ...]
    tables: dict[str, pa.Table] = field(default_factory=dict)
    marks: dict[dt.date, int] = field(default_factory=dict)

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

    def staged(self) -> list[tuple[StarTable, pa.Table]]:
        """Every table the merge reads from a stage: the star tables and the days' marks."""
        days = sorted(self.marks)
        loads = pa.table(
            {
                "time_key": pa.array([time_key(d) for d in days], pa.int32()),
                "change_mark": pa.array([self.marks[d] for d in days], pa.int64()),
                "load_no": pa.array([0] * len(days), pa.int64()),  # set by the merge
            },
            schema=DAY_LOADS.arrow_schema,
        )
        return [(t, self.tables[t.name]) for t in TABLES] + [(DAY_LOADS, loads)]

    @property
    def lines(self) -> int:
        """Fact rows in the batch."""
        return int(self.tables["sales_fact"].num_rows)


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


class WarehouseReader(ABC):
    """The dashboards' read-only view of a warehouse; ``schema`` qualifies its tables."""

    schema: str

    @property
    @abstractmethod
    def display(self) -> str:
        """Where the warehouse is, safe to print."""

    @abstractmethod
    def version(self) -> str | None:
        """Fingerprint of the warehouse's current contents; None when there is none yet."""

    @abstractmethod
    def materialize(self, local: duckdb.DuckDBPyConnection, queries: dict[str, str]) -> None:
        """Run each ``name: SELECT`` (PostgreSQL dialect, ``{s}`` = the schema) in one snapshot.

        Each result is stored as table ``name`` in the ``local`` DuckDB; a
        warehouse that is busy or not built yet raises TransientError.
        """

    def rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows of one SELECT on the facts themselves (drill-through, long-tail breakdowns).

        ``sql`` is PostgreSQL dialect with ``{s}`` for the schema and
        ``%(name)s`` placeholders bound from ``params``; it runs read-only.
        Targets that cannot run it (no array parameters) raise TransientError.
        """
        raise TransientError(f"order lines cannot be read from {self.display}")


class TargetConfig(ABC):
    """One warehouse target's settings; it builds the loader and the reader of its store."""

    kind: ClassVar[str]
    schema: str

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings) -> Self:
        """This target as configured (``SUPERSTORE_WAREHOUSE_*``)."""

    @abstractmethod
    def open(self) -> Warehouse:
        """The loader the ETL writes through (connects lazily)."""

    @abstractmethod
    def reader(self) -> WarehouseReader:
        """The read-only side the dashboards read."""
