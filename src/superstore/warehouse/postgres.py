"""PostgreSQL as a warehouse: its config, its loader (ETL) and its reader (dashboards).

The star schema lives in its own schema on any server: by default the stack's
own (schema ``star`` beside the OLTP tables), or any DSN given by
``SUPERSTORE_WAREHOUSE_DSN``. Loads run the load logic shared with Redshift
(``sqlload``) with COPY FROM STDIN as the stage loader. The dashboards read
through sessions whose transactions are READ ONLY, in one REPEATABLE READ
snapshot so all pre-aggregates agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import duckdb
import psycopg
import pyarrow as pa
from psycopg import sql as psql

from superstore.clients import PgConfig
from superstore.errors import TransientError
from superstore.settings import Settings
from superstore.stack import pg_config
from superstore.warehouse.base import TargetConfig, WarehouseReader
from superstore.warehouse.schema import LOAD_LOG
from superstore.warehouse.sqlload import CopyFromStdinLoader, SqlWarehouse

__all__ = ["PostgresReader", "PostgresTarget", "PostgresWarehouse"]


class PostgresWarehouse(SqlWarehouse):
    """The star schema in ``schema`` of the database ``pg`` points at."""

    def __init__(self, pg: PgConfig, schema: str = "star") -> None:
        super().__init__(
            connect=lambda: pg.connect(),
            schema=schema,
            dialect="postgres",
            loader=CopyFromStdinLoader(),
            display=f"postgres:{pg.display} (schema {schema})",
            transient=(psycopg.OperationalError,),
            driver_errors=(psycopg.Error,),
        )


@dataclass(frozen=True)
class PostgresReader(WarehouseReader):
    """A star schema in PostgreSQL, read in one READ ONLY, REPEATABLE READ transaction."""

    pg: PgConfig
    schema: str = "star"

    @property
    def display(self) -> str:
        """The server, password masked."""
        return f"postgres:{self.pg.display} schema {self.schema}"

    def _connect(self) -> psycopg.Connection:
        try:
            return self.pg.connect(autocommit=True)
        except TransientError as exc:
            raise TransientError(f"warehouse {self.display} is unreachable") from exc

    def version(self) -> str | None:
        """The newest load's number; a warehouse loaded before the load log: write counters."""
        with self._connect() as conn:
            try:
                row = conn.execute(
                    psql.SQL("SELECT max(load_no), count(*) FROM {}.{}").format(
                        psql.Identifier(self.schema), psql.Identifier(LOAD_LOG.name)
                    )
                ).fetchone()
                if row and row[1]:
                    return f"postgres:load:{row[0]}"
            except psycopg.errors.UndefinedTable:
                pass
            row = conn.execute(
                """SELECT string_agg(relname || ':' || n_tup_ins || ':' || n_tup_upd || ':'
                                     || n_tup_del, ',' ORDER BY relname), count(*)
                   FROM pg_stat_user_tables WHERE schemaname = %s""",
                [self.schema],
            ).fetchone()
        if not row or not row[1]:
            return None
        return f"postgres:{row[0]}"

    def materialize(self, local: duckdb.DuckDBPyConnection, queries: dict[str, str]) -> None:
        """Fetch each aggregate (small by construction) and load it into DuckDB via Arrow."""
        with self._connect() as conn:
            try:
                with conn.transaction():
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    for name, text in queries.items():
                        query = psql.SQL(text).format(s=psql.Identifier(self.schema))
                        cur = conn.execute(query)
                        columns = [d.name for d in cur.description or []]
                        rows = cur.fetchall()
                        table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
                        store(local, name, table)
            except psycopg.errors.UndefinedTable as exc:
                raise TransientError(f"{self.display} has no star schema yet") from exc

    def rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """One statement in a READ ONLY transaction."""
        query = psql.SQL(sql).format(s=psql.Identifier(self.schema))
        with self._connect() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                cur = conn.execute(query, params)
            except psycopg.errors.UndefinedTable as exc:
                raise TransientError(f"{self.display} has no star schema yet") from exc
            names = [d.name for d in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def store(local: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    """Keep an Arrow result as table ``name`` of the local DuckDB."""
    local.register("_fetched", table)
    local.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _fetched")
    local.unregister("_fetched")


@dataclass(frozen=True)
class PostgresTarget(TargetConfig):
    """``SUPERSTORE_WAREHOUSE=postgres``: a schema on any PostgreSQL."""

    kind: ClassVar[str] = "postgres"
    dsn: str = field(repr=False)
    schema: str = "star"

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """``SUPERSTORE_WAREHOUSE_DSN``, else the stack's server (schema ``star``)."""
        dsn = settings.warehouse_dsn_value or pg_config(settings).dsn
        return cls(dsn=dsn, schema=settings.warehouse_schema)

    def open(self) -> PostgresWarehouse:
        """The loader."""
        return PostgresWarehouse(PgConfig(self.dsn), self.schema)

    def reader(self) -> PostgresReader:
        """Read-only sessions on the same server."""
        return PostgresReader(PgConfig(self.dsn).read_only(), self.schema)
