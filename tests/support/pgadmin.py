"""Databases for tests on the local stack's server, made by its superuser.

The pipeline's roles cannot create databases (least privilege), so tests
that want a database of their own ask the superuser, who hands it to the
role the test connects as. The session stack registers its superuser here;
on any other server the test's own DSN is used, with the rights it has.
"""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from superstore.clients import PgConfig

__all__ = ["admin_for", "create_database", "drop_database", "register_admin"]

_ADMINS: dict[tuple[str, str], str] = {}


def _server(dsn: str) -> tuple[str, str]:
    parts = conninfo_to_dict(dsn)
    return str(parts.get("host", "")), str(parts.get("port", ""))


def register_admin(admin_dsn: str) -> None:
    """Remember the superuser of a local server (by host and port)."""
    _ADMINS[_server(admin_dsn)] = admin_dsn


def admin_for(server: PgConfig) -> PgConfig:
    """Who may create and drop databases on `server`'s server (connected to `postgres`)."""
    dsn = _ADMINS.get(_server(server.dsn), server.dsn)
    return PgConfig(make_conninfo(dsn, dbname="postgres"))


def create_database(server: PgConfig, name: str) -> PgConfig:
    """A new empty database owned by `server`'s role; the config to reach it as that role."""
    user = conninfo_to_dict(server.dsn).get("user")
    owner = f' OWNER "{user}"' if user else ""
    with admin_for(server).connect(autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{owner}')
    return PgConfig(make_conninfo(server.dsn, dbname=name))


def drop_database(server: PgConfig, name: str) -> None:
    """Drop a database made by create_database, connections and all."""
    with admin_for(server).connect(autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
