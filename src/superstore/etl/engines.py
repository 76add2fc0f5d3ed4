"""Engines that run the one transformation, and the config each is built from.

An engine takes the verified partitions' ``orders.parquet`` URLs and returns
the five star tables as Arrow, conformed to the warehouse schema. It runs the
SELECTs of ``superstore.etl.transform`` rendered for its dialect and nothing
else, so engines cannot drift apart. DuckDB (default, in process) is here;
Spark lives in ``superstore.etl.spark``; both are registered by name in
``superstore.etl.registry``, each as an `EngineConfig` that builds its engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ClassVar, Self

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec import AbstractFileSystem

from superstore.dialects import render
from superstore.errors import FatalError
from superstore.etl.transform import INPUT_COLUMNS, TRANSFORM
from superstore.lifecycle import Closeable
from superstore.settings import Settings
from superstore.storage import LakeConfig
from superstore.warehouse import TABLES, conform

__all__ = [
    "DuckDBEngine",
    "DuckDBEngineConfig",
    "Engine",
    "EngineConfig",
    "EngineOptions",
    "empty_star",
]


class Engine(Closeable, ABC):
    """Runs the transformation over a set of lake files."""

    name: str

    @abstractmethod
    def transform(self, files: Sequence[str]) -> dict[str, pa.Table]:
        """The star tables of the order lines in ``files`` (orders.parquet URLs)."""


@dataclass(frozen=True)
class EngineOptions:
    """What a command adds to the settings: the lake read, and Spark overrides from flags."""

    lake: LakeConfig | None = None
    master: str | None = None
    conf: Mapping[str, str] = field(default_factory=dict)


class EngineConfig(ABC):
    """One engine's settings; it builds the engine (``with config.open() as engine``)."""

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings, options: EngineOptions) -> Self:
        """This engine as configured, with the command's options on top."""

    @abstractmethod
    def open(self) -> Engine:
        """The engine, ready to transform (a Spark session starts on first use)."""


def empty_star() -> dict[str, pa.Table]:
    """The transformation's output for no input lines."""
    return {t.name: t.arrow_schema.empty_table() for t in TABLES}


class DuckDBEngine(Engine):
    """An in-memory DuckDB: local Parquet read directly, remote files fetched via fsspec."""

    name = "duckdb"

    def __init__(self, filesystem: AbstractFileSystem | None = None, threads: int | None = None):
        self.filesystem = filesystem
        self.threads = threads

    def _fetch(self, files: Sequence[str]) -> pa.Table:
        """Remote files as one Arrow table, fetched a few at a time."""
        if self.filesystem is None:
            raise FatalError("the DuckDB engine needs the lake's filesystem to read remote files")
        fs = self.filesystem
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="fetch") as pool:
            return pa.concat_tables(pool.map(lambda url: _fetch_one(fs, url), files))

    def transform(self, files: Sequence[str]) -> dict[str, pa.Table]:
        """Each output is one DuckDB query over a view of the files' columns."""
        if not files:
            return empty_star()
        con = duckdb.connect(":memory:")
        try:
            # Row order is meaningless to a star table; letting DuckDB drop it parallelises
            # the scans and the Arrow hand-over.
            con.execute("SET preserve_insertion_order = false")
            if self.threads:
                con.execute(f"SET threads = {int(self.threads)}")
            if any("://" in f for f in files):  # object store: fetched through fsspec
                con.register("lines_arrow", self._fetch(files))
                con.sql(f"SELECT {', '.join(INPUT_COLUMNS)} FROM lines_arrow").create_view("lines")
            else:  # local files: DuckDB's own parallel Parquet reader
                con.read_parquet(list(files)).select(", ".join(INPUT_COLUMNS)).create_view("lines")
            by_name = {t.name: t for t in TABLES}
            return {
                name: conform(_to_arrow(con.sql(render(sql, "duckdb"))), by_name[name])
                for name, sql in TRANSFORM.items()
            }
        except duckdb.Error as exc:
            raise FatalError(f"DuckDB transform failed: {exc}") from exc
        finally:
            con.close()


def _fetch_one(fs: AbstractFileSystem, url: str) -> pa.Table:
    with fs.open(url, "rb") as data:
        return pq.read_table(data, columns=list(INPUT_COLUMNS))


def _to_arrow(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    # DuckDB 1.4 names it fetch_arrow_table, later versions to_arrow_table.
    fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    table: pa.Table = fetch()
    return table


@dataclass(frozen=True)
class DuckDBEngineConfig(EngineConfig):
    """``--engine duckdb`` (the default): in process, on all cores of this machine."""

    name: ClassVar[str] = "duckdb"
    filesystem: AbstractFileSystem | None = None

    @classmethod
    def from_settings(cls, settings: Settings, options: EngineOptions) -> Self:
        """Remote lakes are read through the lake's own filesystem (fsspec)."""
        lake = options.lake
        return cls(filesystem=lake.fs() if lake and not lake.is_local else None)

    def open(self) -> DuckDBEngine:
        """An engine; each transform opens its own in-memory database."""
        return DuckDBEngine(filesystem=self.filesystem)
