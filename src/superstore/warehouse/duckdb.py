"""The default warehouse: one DuckDB file under the data directory.

The batch's Arrow tables are registered as views (zero copy), and the shared
merge statements run against them in one DuckDB transaction. DuckDB allows
one writing process per file: readers (the dashboards) open it read-only
between loads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from superstore.errors import FatalError, TransientError
from superstore.warehouse.base import Query, StarBatch, Warehouse
from superstore.warehouse.dialects import render
from superstore.warehouse.merge import merge_statements, stage_name
from superstore.warehouse.schema import TABLES, create_statements

__all__ = ["DuckDBWarehouse"]


class DuckDBWarehouse(Warehouse):
    """A star schema in a DuckDB database file (``:memory:`` for throwaway use)."""

    dialect = "duckdb"

    def __init__(self, path: Path | str, schema: str = "star", threads: int | None = None) -> None:
        self.path = str(path)
        self.schema = schema
        self.threads = threads
        self._con: duckdb.DuckDBPyConnection | None = None

    @property
    def display(self) -> str:
        """The database file."""
        return f"duckdb:{self.path}"

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            try:
                self._con = duckdb.connect(self.path)
            except duckdb.IOException as exc:  # typically: another process holds the lock
                raise TransientError(f"cannot open warehouse {self.path}: {exc}") from exc
            # Parallel inserts (measured 2.4x faster for 4M fact rows); tables have no order.
            self._con.execute("SET preserve_insertion_order = false")
            if self.threads:
                self._con.execute(f"SET threads = {int(self.threads)}")
        return self._con

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except duckdb.Error as exc:
            raise FatalError(f"DuckDB warehouse {self.path}: {what} failed: {exc}") from exc

    def create_schema(self) -> None:
        """Create the schema and the five tables if missing."""
        con = self._connection()
        with self._errors("creating the schema"):
            for statement in create_statements(self.dialect, self.schema):
                con.execute(statement)

    def merge(self, batch: StarBatch, check: Callable[[Query], None] | None = None) -> None:
        """Register the batch as views, run the merge and the checks in one transaction."""
        con = self._connection()
        names = []
        try:
            for table in TABLES:
                name = stage_name(table)
                con.register(name, batch.tables[table.name])
                names.append(name)
            con.execute("BEGIN TRANSACTION")
            try:
                with self._errors("merging a batch"):
                    for statement in merge_statements(self.schema, batch.time_keys):
                        con.execute(render(statement, self.dialect))
                if check:
                    check(self._query_on(con))
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            for name in names:
                con.unregister(name)

    def _query_on(self, con: duckdb.DuckDBPyConnection) -> Query:
        def run(sql: str) -> list[tuple[Any, ...]]:
            with self._errors("a query"):
                return con.execute(render(sql, self.dialect)).fetchall()

        return run

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of one statement authored in PostgreSQL's dialect."""
        return self._query_on(self._connection())(sql)

    def close(self) -> None:
        """Close the file (releases DuckDB's write lock)."""
        if self._con is not None:
            self._con.close()
            self._con = None
