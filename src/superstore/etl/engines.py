"""Engines that run the one transformation: DuckDB (default) in process.

An engine takes the verified partitions' ``orders.parquet`` URLs and returns
the five star tables as Arrow, conformed to the warehouse schema. It runs the
SELECTs of ``superstore.etl.transform`` rendered for its dialect and nothing
else, so engines cannot drift apart. Spark lives in ``superstore.etl.spark``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from superstore.errors import FatalError
from superstore.etl.transform import INPUT_COLUMNS, TRANSFORM
from superstore.warehouse.base import Closeable, conform
from superstore.warehouse.dialects import render
from superstore.warehouse.schema import TABLES

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = ["DuckDBEngine", "Engine"]


class Engine(Closeable, ABC):
    """Runs the transformation over a set of lake files."""

    name: str

    @abstractmethod
    def transform(self, files: Sequence[str]) -> dict[str, pa.Table]:
        """The star tables of the order lines in ``files`` (orders.parquet URLs)."""


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
        import duckdb

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


def _to_arrow(relation: object) -> pa.Table:
    fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table  # type: ignore[attr-defined]
    return fetch()
