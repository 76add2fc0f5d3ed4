"""Versioned schema migrations for the OLTP database, applied by the project itself.

Migrations are the numbered ``NNN_name.sql`` files beside this module. Each is
applied once, in order, in its own transaction, under an advisory lock so
several processes starting together do not race.
"""

from __future__ import annotations

import logging
import re
from importlib import resources

import psycopg

from superstore.clients import PgConfig

__all__ = ["SCHEMA_LOCK", "migrate", "migrations"]

log = logging.getLogger(__name__)
SCHEMA_LOCK = 0x5E5E_0001  # pg_advisory_xact_lock key for migrations


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped with the package, in order."""
    found = []
    for entry in resources.files("superstore.oltp").joinpath("migrations").iterdir():
        match = re.fullmatch(r"(\d+)_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text()))
    return sorted(found)


def migrate(pg: PgConfig) -> list[int]:
    """Apply pending migrations; returns the versions applied now (empty if up to date)."""
    applied_now: list[int] = []
    shipped = migrations()
    with pg.connect(autocommit=True) as conn:
        if _up_to_date(conn, shipped[-1][0] if shipped else 0):
            return applied_now  # no DDL at all: roles without DDL rights (the ingest) get here
        _ensure_table(conn)
        for version, name, sql in shipped:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
                done = conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", [version]
                ).fetchone()
                if done:
                    continue
                conn.execute(sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", [version, name]
                )
                applied_now.append(version)
                log.info("applied migration %03d_%s", version, name)
    return applied_now


def _up_to_date(conn: psycopg.Connection, latest: int) -> bool:
    """True when the newest shipped migration is applied (plain SELECTs: no ERROR in the log)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return False
    done = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return bool(done and done[0] is not None and done[0] >= latest)


def _ensure_table(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
