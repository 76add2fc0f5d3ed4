"""The default warehouse: one DuckDB file under the data directory; loader and reader.

The batch's Arrow tables are registered as views (zero copy), and the shared
merge statements run against them in one DuckDB transaction. DuckDB allows
one writing process per file, so the reader (the dashboards) never holds the
file open: it attaches it READ_ONLY only while the pre-aggregates are rebuilt
(seconds, once per warehouse version), and a load running at that moment just
makes the rebuild wait for the next check. Its version is the file's (and
write-ahead log's) size and modification time: any committed load changes it.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import duckdb

from superstore.dialects import render
from superstore.errors import FatalError, TransientError
from superstore.faults import crash_point
from superstore.settings import Settings
from superstore.warehouse.base import Query, StarBatch, TargetConfig, Warehouse, WarehouseReader
from superstore.warehouse.merge import merge_statements, stage_name
from superstore.warehouse.schema import (
    COLUMNS_SQL,
    create_statements,
    upgrade_statements,
)

__all__ = ["DuckDBReader", "DuckDBTarget", "DuckDBWarehouse"]

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _file_lock(path: str) -> threading.RLock:
    """One lock per warehouse file, for the loaders and readers of this process.

    DuckDB refuses a file opened twice in one process with different modes (a
    loader's read-write connection, a reader's READ_ONLY attach), so within a
    process they take turns; between processes DuckDB's own file lock decides,
    and the loser retries.
    """
    key = str(Path(path).resolve())
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())


class DuckDBWarehouse(Warehouse):
    """A star schema in a DuckDB database file (``:memory:`` for throwaway use)."""

    dialect = "duckdb"

    def __init__(self, path: Path | str, schema: str = "star", threads: int | None = None) -> None:
        self.path = str(path)
        self.schema = schema
        self.threads = threads
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = _file_lock(self.path) if self.path != ":memory:" else None
        self._schema_ready = False  # created (or checked) through this connection

    @property
    def display(self) -> str:
        """The database file."""
        return f"duckdb:{self.path}"

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            if self._lock is not None:
                self._lock.acquire()  # held until close(): see _file_lock
            try:
                self._con = duckdb.connect(self.path)
            except duckdb.IOException as exc:  # typically: another process holds the lock
                if self._lock is not None:
                    self._lock.release()
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
        """Create the schema and the five tables if missing.

        Once per opening: a sync pass asks twice (which days are behind, then the
        load), and each round of DDL costs about 20 ms.
        """
        if self._schema_ready:
            return
        con = self._connection()
        with self._errors("creating the schema"):
            for statement in create_statements(self.dialect, self.schema):
                con.execute(statement)
            columns = con.execute(COLUMNS_SQL.format(s=self.schema)).fetchall()
            for statement in upgrade_statements(self.dialect, self.schema, set(columns)):
                con.execute(statement)
        self._schema_ready = True

    def merge(self, batch: StarBatch, check: Callable[[Query], None] | None = None) -> None:
        """Register the batch as views, run the merge and the checks in one transaction."""
        con = self._connection()
        names = []
        try:
            for table, data in batch.staged():
                name = stage_name(table)
                con.register(name, data)
                names.append(name)
            con.execute("BEGIN TRANSACTION")
            try:
                with self._errors("merging a batch"):
                    for statement in merge_statements(self.schema, batch.time_keys):
                        con.execute(render(statement, self.dialect))
                if check:
                    check(self._query_on(con))
                crash_point("warehouse_before_commit")
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
            self._schema_ready = False
            if self._lock is not None:
                self._lock.release()


@dataclass(frozen=True)
class DuckDBReader(WarehouseReader):
    """The DuckDB file, attached read-only during rebuilds."""

    path: Path
    schema: str = "star"

    @property
    def display(self) -> str:
        """The database file."""
        return f"duckdb:{self.path}"

    def version(self) -> str | None:
        """Size and mtime of the file and its WAL: any committed load changes them."""
        try:
            main = os.stat(self.path)
        except FileNotFoundError:
            return None
        parts = [f"{main.st_size}:{main.st_mtime_ns}"]
        try:
            wal = os.stat(f"{self.path}.wal")
            parts.append(f"{wal.st_size}:{wal.st_mtime_ns}")
        except FileNotFoundError:
            pass
        return "duckdb:" + "/".join(parts)

    def materialize(self, local: duckdb.DuckDBPyConnection, queries: dict[str, str]) -> None:
        """CREATE TABLE AS SELECT straight from the attached file (no copy through Python)."""
        path = str(self.path).replace("'", "''")
        with _file_lock(str(self.path)):
            try:
                local.execute(f"ATTACH '{path}' AS wh (READ_ONLY)")
            except duckdb.Error as exc:  # typically: a load holds the write lock right now
                raise TransientError(f"cannot read warehouse {self.path}: {exc}") from exc
            self._copy(local, queries)

    def _copy(self, local: duckdb.DuckDBPyConnection, queries: dict[str, str]) -> None:
        try:
            local.execute("BEGIN TRANSACTION")
            for name, sql in queries.items():
                select = sql.format(s=f"wh.{self.schema}")
                local.execute(f"CREATE OR REPLACE TABLE {name} AS {select}")
            local.execute("COMMIT")
        except duckdb.CatalogException as exc:
            local.execute("ROLLBACK")
            raise TransientError(f"warehouse {self.path} has no star schema yet: {exc}") from exc
        finally:
            local.execute("DETACH wh")

    def rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The file attached READ_ONLY for this one statement (``%(x)s`` becomes ``$x``)."""
        text = _PLACEHOLDER.sub(lambda m: f"${m.group(1)}", sql.format(s=f"wh.{self.schema}"))
        used = {k: v for k, v in params.items() if f"${k}" in text}
        path = str(self.path).replace("'", "''")
        con = duckdb.connect(":memory:")
        try:
            with _file_lock(str(self.path)):  # a loader of this process takes its turn
                try:
                    con.execute(f"ATTACH '{path}' AS wh (READ_ONLY)")
                except duckdb.Error as exc:  # typically: a load holds the write lock right now
                    raise TransientError(f"the warehouse is busy ({exc}); try again") from exc
                result = con.execute(text, used)
                names = [d[0] for d in result.description or []]
                return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
        finally:
            con.close()


@dataclass(frozen=True)
class DuckDBTarget(TargetConfig):
    """``SUPERSTORE_WAREHOUSE=duckdb`` (the default): a file, ``<data_dir>/warehouse.duckdb``."""

    kind: ClassVar[str] = "duckdb"
    path: Path
    schema: str = "star"

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """``SUPERSTORE_WAREHOUSE_PATH``, else ``<data_dir>/warehouse.duckdb``."""
        path = settings.warehouse_path or Path(settings.data_dir) / "warehouse.duckdb"
        return cls(path=path, schema=settings.warehouse_schema)

    def open(self) -> DuckDBWarehouse:
        """The loader (takes the file's write lock on first use)."""
        return DuckDBWarehouse(self.path, self.schema)

    def reader(self) -> DuckDBReader:
        """The read side; never holds the file open between rebuilds."""
        return DuckDBReader(self.path, self.schema)
