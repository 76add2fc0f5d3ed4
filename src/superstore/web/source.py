"""Read-only access to the warehouse star schema, for the analytics pre-aggregates.

The dashboards never write to the warehouse and never hold it open: DuckDB
allows one writing process per file, so the file is attached READ_ONLY only
while the pre-aggregates are rebuilt (seconds, once per warehouse version),
and a load running at that moment just makes the rebuild wait for the next
check. PostgreSQL is read through a session whose transactions are READ ONLY,
in one REPEATABLE READ snapshot so all pre-aggregates agree.

A *version* is a cheap fingerprint that changes whenever the warehouse does:
the DuckDB file's size and modification time (file and write-ahead log), or
PostgreSQL's per-table write counters of the star schema.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from superstore.errors import ConfigError, TransientError
from superstore.settings import Settings

__all__ = [
    "DuckDBSource",
    "PostgresSource",
    "WarehouseSource",
    "read_only_dsn",
    "warehouse_source",
]

log = logging.getLogger(__name__)

_READ_ONLY = "-c default_transaction_read_only=on"


def read_only_dsn(dsn: str) -> str:
    """The DSN with every transaction of its sessions READ ONLY by default.

    Defence in depth: the dashboards never build SQL from input, and even if
    they did, PostgreSQL would refuse any write on these sessions.
    """
    try:
        params = conninfo_to_dict(dsn)
    except Exception as exc:
        raise ConfigError("the PostgreSQL DSN for the dashboards is not valid") from exc
    options = str(params.get("options") or "")
    if _READ_ONLY not in options:
        params["options"] = f"{options} {_READ_ONLY}".strip()
    params.setdefault("application_name", "superstore-web")
    return make_conninfo(**params)


class WarehouseSource(ABC):
    """Where the star schema is; ``schema`` qualifies its five tables."""

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
        """Run each ``name: SELECT`` against the warehouse (one snapshot), store it locally."""


@dataclass(frozen=True)
class DuckDBSource(WarehouseSource):
    """The default warehouse: a DuckDB file, attached read-only during rebuilds."""

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
        try:
            local.execute(f"ATTACH '{path}' AS wh (READ_ONLY)")
        except duckdb.Error as exc:  # typically: a load holds the write lock right now
            raise TransientError(f"cannot read warehouse {self.path}: {exc}") from exc
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


@dataclass(frozen=True)
class PostgresSource(WarehouseSource):
    """A star schema in PostgreSQL, read in one READ ONLY, REPEATABLE READ transaction."""

    dsn: str
    schema: str = "star"

    @property
    def display(self) -> str:
        """The server, password masked."""
        from superstore.clients import PgConfig

        return f"postgres:{PgConfig(self.dsn).display} schema {self.schema}"

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.dsn, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise TransientError(f"warehouse {self.display} is unreachable") from exc

    def version(self) -> str | None:
        """Insert/update/delete counters of the star tables (flushed by PostgreSQL within ~1 s)."""
        with self._connect() as conn:
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
        from psycopg import sql as psql

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
                        local.register("_fetched", table)
                        local.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _fetched")
                        local.unregister("_fetched")
            except psycopg.errors.UndefinedTable as exc:
                raise TransientError(f"{self.display} has no star schema yet") from exc


def warehouse_source(settings: Settings) -> WarehouseSource | None:
    """The configured warehouse (as the ETL resolves it), read-only; None if unreadable here."""
    from superstore.warehouse import WarehouseConfig

    target = WarehouseConfig.from_settings(settings)
    if target.kind == "duckdb" and target.path is not None:
        return DuckDBSource(Path(target.path), target.schema)
    if target.kind == "postgres" and target.dsn:
        return PostgresSource(read_only_dsn(target.dsn), target.schema)
    log.warning(
        "the analytics dashboard reads DuckDB or PostgreSQL warehouses, not %s; "
        "/analytics stays empty",
        target.kind,
    )
    return None
