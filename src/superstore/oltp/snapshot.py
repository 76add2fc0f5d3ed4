"""One consistent picture of the database, read through one or two connections.

Everything an export reads comes from ONE read-only REPEATABLE READ snapshot.
The big orders COPY runs on the first connection; a second connection imports
the same snapshot (``pg_export_snapshot`` / ``SET TRANSACTION SNAPSHOT``) and
reads the small tables and the cross-check aggregate at the same time, so the
server works on both while this process converts. A server that cannot share
snapshots (some standbys) gets everything read on the first connection.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from superstore.clients import PgConfig
from superstore.errors import ConfigError, FatalError, TransientError

__all__ = ["Snapshot", "open_snapshot"]

log = logging.getLogger(__name__)

_INFO_SQL = """SELECT pg_current_snapshot()::text, now(), current_setting('server_version'),
       (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
             ELSE pg_current_wal_lsn() END)::text"""


@dataclass
class Snapshot:
    """The connections reading the snapshot, and what identifies it (for the manifest)."""

    main: psycopg.Connection
    side: psycopg.Connection | None
    info: dict[str, str] = field(default_factory=dict)
    pool: ThreadPoolExecutor | None = None

    @property
    def helper(self) -> psycopg.Connection:
        """The connection for the small reads: the second one when there is one."""
        return self.side or self.main


@contextmanager
def open_snapshot(pg: PgConfig, share: bool = True) -> Iterator[Snapshot]:
    """Open the read-only REPEATABLE READ snapshot; driver errors become project errors."""
    try:
        with ExitStack() as stack:
            main = stack.enter_context(pg.connect())
            stack.enter_context(_begin(main))
            snap = Snapshot(main=main, side=None, info=_info(main))
            token = _export_token(main) if share else None
            if token:
                side = stack.enter_context(pg.connect())
                stack.enter_context(_begin(side, token))
                snap.side = side
                snap.pool = stack.enter_context(ThreadPoolExecutor(1, "export-side"))
            yield snap
    except psycopg.errors.UndefinedTable as exc:
        raise ConfigError(
            f"PostgreSQL at {pg.display} has no pipeline tables ({exc.diag.message_primary})",
            hint="ingest data first (`superstore ingest`), which creates the schema",
        ) from None
    except psycopg.OperationalError as exc:
        raise TransientError(f"PostgreSQL at {pg.display} failed during export: {exc}") from exc
    except psycopg.Error as exc:
        raise FatalError(f"export query failed on {pg.display}: {exc}") from exc


@contextmanager
def _begin(conn: psycopg.Connection, token: str | None = None) -> Iterator[None]:
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    with conn.transaction():
        if token:  # must be the transaction's first statement
            conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(token)))
        conn.execute("SET LOCAL datestyle = 'ISO, YMD'")  # COPY writes ISO dates
        yield


def _info(conn: psycopg.Connection) -> dict[str, str]:
    row = conn.execute(_INFO_SQL).fetchone()
    xip, taken, version, lsn = row if row else ("", None, "", "")
    return {
        "pg_snapshot": str(xip),
        "taken_at": taken.isoformat() if taken else "",
        "server_version": str(version),
        "wal_lsn": str(lsn),
        "isolation": "repeatable read, read only",
    }


def _export_token(conn: psycopg.Connection) -> str | None:
    """The snapshot's id for a second connection, or None when the server cannot share it.

    Called at the top level of the transaction: PostgreSQL cannot export a
    snapshot from a subtransaction (a savepoint made every export log an ERROR
    and read on one connection). A standby in recovery may refuse to export
    one, so there the export reads everything on the first connection.
    """
    standby = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    if standby and standby[0]:
        log.debug("a standby in recovery: reading the snapshot on one connection")
        return None
    row = conn.execute("SELECT pg_export_snapshot()").fetchone()
    return str(row[0]) if row else None
