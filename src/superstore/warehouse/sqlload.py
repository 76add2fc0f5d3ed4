"""The load logic PostgreSQL and Redshift share, over any DB-API connection.

PostgreSQL and Redshift, both reached over a DB-API connection, run the same
load logic: create a temporary stage table per star table (``LIKE`` the
target), fill it (a ``StageLoader``: COPY FROM STDIN on PostgreSQL, COPY from
S3 on Redshift), run the shared merge statements rendered for the dialect,
run the checks, drop the stages, commit. Because
the loader is the only part that differs, the Redshift load logic is tested
for real against PostgreSQL with a COPY-FROM-STDIN loader.

Every statement sent is appended to ``statements`` so tests (and operators)
can see exactly what ran.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.csv as pa_csv

from superstore.dialects import render
from superstore.errors import FatalError, SuperstoreError, TransientError
from superstore.faults import crash_point
from superstore.warehouse.base import Query, StarBatch, Warehouse
from superstore.warehouse.merge import merge_statements, stage_name
from superstore.warehouse.schema import (
    COLUMNS_SQL,
    StarTable,
    create_statements,
    upgrade_statements,
)

__all__ = ["CopyFromStdinLoader", "SqlWarehouse", "StageLoader"]

_CSV_ROWS = 65_536


class StageLoader(Protocol):
    """Fills one temporary stage table with a batch's rows."""

    def load(self, warehouse: SqlWarehouse, cursor: Any, stage: str, data: pa.Table) -> None:
        """Put ``data`` into the (empty) table ``stage`` within the open transaction."""

    def cleanup(self) -> None:
        """Remove anything staged outside the database (after commit or rollback)."""


class CopyFromStdinLoader:
    """PostgreSQL: stream the rows as CSV through ``COPY ... FROM STDIN`` (psycopg)."""

    def load(self, warehouse: SqlWarehouse, cursor: Any, stage: str, data: pa.Table) -> None:
        """CSV keeps exact decimals and tells NULL (bare empty) from '' (quoted)."""
        columns = ", ".join(data.column_names)
        sql = f"COPY {stage} ({columns}) FROM STDIN (FORMAT csv)"
        warehouse.statements.append(sql)
        options = pa_csv.WriteOptions(include_header=False)
        with cursor.copy(sql) as copy:
            for batch in data.to_batches(max_chunksize=_CSV_ROWS):
                buffer = io.BytesIO()
                pa_csv.write_csv(batch, buffer, options)
                copy.write(buffer.getvalue())

    def cleanup(self) -> None:
        """Nothing is staged outside the database."""


class SqlWarehouse(Warehouse):
    """The load logic shared by PostgreSQL and Redshift; see the module docstring."""

    def __init__(
        self,
        connect: Callable[[], Any],
        schema: str,
        dialect: str,
        loader: StageLoader,
        display: str,
        transient: tuple[type[BaseException], ...] = (),
        driver_errors: tuple[type[BaseException], ...] = (),
        ddl_dialect: str | None = None,
    ) -> None:
        self._connect = connect
        self.ddl_dialect = ddl_dialect or dialect
        self.schema = schema
        self.dialect = dialect
        self.loader = loader
        self._display = display
        self._transient = transient
        self._driver_errors = driver_errors
        self._conn: Any = None
        self.statements: list[str] = []

    @property
    def display(self) -> str:
        """The server, password masked."""
        return self._display

    def _connection(self) -> Any:
        if self._conn is None:
            with self._errors("connecting"):
                self._conn = self._connect()
        return self._conn

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Driver errors become project errors here, at the adapter boundary."""
        try:
            yield
        except SuperstoreError:
            raise
        except self._transient as exc:
            raise TransientError(f"{self.display}: {what} failed: {exc}") from exc
        except self._driver_errors as exc:
            raise FatalError(f"{self.display}: {what} failed: {exc}") from exc

    def execute(self, cursor: Any, sql: str) -> None:
        """Run one statement (already in this dialect) and record it."""
        self.statements.append(sql)
        cursor.execute(sql)

    def create_schema(self) -> None:
        """Create the schema and tables if missing, in one transaction.

        ``ddl_dialect`` differs from ``dialect`` only when emulating: Redshift's
        load logic on PostgreSQL needs PostgreSQL's DDL (no DISTKEY/ENCODE).
        """
        conn = self._connection()
        with self._errors("creating the schema"), self._transaction(conn) as cursor:
            for statement in create_statements(self.ddl_dialect, self.schema):
                self.execute(cursor, statement)
            self.execute(cursor, COLUMNS_SQL.format(s=self.schema))
            columns = {(str(t), str(c)) for t, c in cursor.fetchall()}
            for statement in upgrade_statements(self.ddl_dialect, self.schema, columns):
                self.execute(cursor, statement)

    @contextmanager
    def _transaction(self, conn: Any) -> Iterator[Any]:
        cursor = conn.cursor()
        try:
            yield cursor
        except BaseException:
            with contextlib.suppress(Exception):  # the connection may be gone; keep the cause
                conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            cursor.close()

    def merge(self, batch: StarBatch, check: Callable[[Query], None] | None = None) -> None:
        """Stage, merge, check and drop the stages in one transaction."""
        conn = self._connection()
        try:
            with self._errors("merging a batch"), self._transaction(conn) as cursor:
                staged = batch.staged()
                for table, data in staged:
                    self._stage(cursor, table, data)
                for statement in merge_statements(self.schema, batch.time_keys):
                    self.execute(cursor, render(statement, self.dialect))
                if check:
                    check(self._query_on(cursor))
                crash_point("warehouse_before_commit")
                for table, _ in staged:
                    self.execute(cursor, f"DROP TABLE {stage_name(table)}")
        finally:
            self.loader.cleanup()

    def _stage(self, cursor: Any, table: StarTable, data: pa.Table) -> None:
        stage = stage_name(table)
        self.execute(cursor, f"DROP TABLE IF EXISTS {stage}")
        self.execute(cursor, f"CREATE TEMP TABLE {stage} (LIKE {self.schema}.{table.name})")
        if data.num_rows:
            self.loader.load(self, cursor, stage, data)

    def _query_on(self, cursor: Any) -> Query:
        def run(sql: str) -> list[tuple[Any, ...]]:
            rendered = render(sql, self.dialect)
            self.execute(cursor, rendered)
            return [tuple(row) for row in cursor.fetchall()]

        return run

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of one statement authored in PostgreSQL's dialect, in its own transaction."""
        conn = self._connection()
        with self._errors("a query"), self._transaction(conn) as cursor:
            return self._query_on(cursor)(sql)

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
