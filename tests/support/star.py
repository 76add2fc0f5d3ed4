"""Fixtures shared by tests/etl and tests/warehouse (both conftests import them).

The expensive things are built once per session and memoised here, whichever
directory asks first: a database holding exactly the data set, the full lake
exported from it by the real ``export`` stage, and one local SparkSession.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from superstore.clients import PgConfig
from superstore.contract import OrderLine
from superstore.data import load_lines
from superstore.export import export_days
from superstore.oltp import load_lines_direct
from superstore.storage import LakeConfig
from tests.support.pgadmin import create_database

_MEMO: dict[str, Any] = {}


def _once(name: str, build: Callable[[], Any]) -> Any:
    if name not in _MEMO:
        _MEMO[name] = build()
    return _MEMO[name]


def new_database(server: PgConfig, prefix: str) -> PgConfig:
    """An empty database on the session server (dropped when the server is purged)."""
    return create_database(server, f"{prefix}_{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="session")
def seed_lines() -> list[OrderLine]:
    """The vendored data set, 9,994 lines."""
    return _once("lines", load_lines)


@pytest.fixture(scope="session")
def seed_db(pg: PgConfig, seed_lines: list[OrderLine]) -> PgConfig:
    """A database holding exactly the data set (read only)."""

    def build() -> PgConfig:
        db = new_database(pg, "etl_seed")
        load_lines_direct(db, seed_lines)
        return db

    return _once("seed_db", build)


@pytest.fixture(scope="session")
def seed_lake(seed_db: PgConfig, tmp_path_factory: pytest.TempPathFactory) -> LakeConfig:
    """Every day of the data set exported by the real export stage (read only)."""

    def build() -> LakeConfig:
        lake = LakeConfig(url=str(tmp_path_factory.mktemp("seed-lake")))
        export_days(seed_db, lake)
        return lake

    return _once("seed_lake", build)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local SparkSession for the whole run (small shuffles: the data is small)."""
    from superstore.etl.spark import spark_session

    session = _once(
        "spark",
        lambda: spark_session(
            "local[2]", {"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "4"}
        ),
    )
    yield session
