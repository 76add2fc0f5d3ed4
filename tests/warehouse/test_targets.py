"""All three targets hold the same star schema after the same loads.

The full data set's batch (real export -> DuckDB engine) is merged into a
DuckDB file, a PostgreSQL schema, and "Redshift": the Redshift target's own
load logic (statements rendered for Redshift) run against the real
PostgreSQL, with only the S3 COPY swapped for COPY FROM STDIN.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from superstore.clients import PgConfig
from superstore.etl import DuckDBEngine, run_etl, select_days
from superstore.storage import LakeConfig
from superstore.warehouse import (
    TABLES,
    CopyFromStdinLoader,
    DuckDBReader,
    DuckDBWarehouse,
    PostgresReader,
    PostgresWarehouse,
    RedshiftReader,
    RedshiftWarehouse,
    Warehouse,
    WarehouseReader,
)
from superstore.web.cubes import build_cubes

TOTAL = Decimal("2297200.8603")


def redshift_on_postgres(pg: PgConfig, schema: str = "star") -> RedshiftWarehouse:
    """The Redshift target with PostgreSQL underneath (tables made by PostgreSQL's DDL)."""
    return RedshiftWarehouse(
        connect=pg.connect,
        schema=schema,
        loader=CopyFromStdinLoader(),
        display="redshift-on-postgres",
        driver_errors=(psycopg.Error,),
        ddl_dialect="postgres",
    )


def contents(warehouse: Warehouse) -> dict[str, list[tuple]]:
    """Every table, every column, ordered: what 'identical' means."""
    return {
        t.name: warehouse.query(f"SELECT {', '.join(t.names)} FROM star.{t.name} ORDER BY 1")
        for t in TABLES
    }


@pytest.fixture(params=["duckdb", "postgres", "redshift"])
def target(
    request: pytest.FixtureRequest, fresh_pg: PgConfig, tmp_path: Path
) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        warehouse: Warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    elif request.param == "postgres":
        warehouse = PostgresWarehouse(fresh_pg)
    else:
        warehouse = redshift_on_postgres(fresh_pg)
    with warehouse:
        yield warehouse


@pytest.fixture(scope="module")
def reference(seed_lake: LakeConfig, tmp_path_factory: pytest.TempPathFactory):
    with DuckDBWarehouse(tmp_path_factory.mktemp("ref") / "ref.duckdb") as warehouse:
        run_etl(seed_lake, DuckDBEngine(), warehouse, select_days(seed_lake, all_days=True))
        return contents(warehouse)


def test_every_target_holds_the_same_star_schema_and_reruns_change_nothing(
    target: Warehouse, seed_lake: LakeConfig, reference: dict[str, list[tuple]]
) -> None:
    days = select_days(seed_lake, all_days=True)
    report = run_etl(seed_lake, DuckDBEngine(), target, days, batch_lines=4000)
    assert report.batches == 3 and report.lines == 9994 and report.sales == TOTAL
    first = contents(target)
    assert first == reference
    run_etl(seed_lake, DuckDBEngine(), target, days[100:400])
    assert contents(target) == first


def _reader(kind: str, warehouse: Warehouse, pg: PgConfig, path: Path) -> WarehouseReader:
    if kind == "duckdb":
        return DuckDBReader(path)
    if kind == "postgres":
        return PostgresReader(pg.read_only())
    # The Redshift reader's code path, its statements rendered for PostgreSQL underneath.
    return RedshiftReader(
        connect=lambda: psycopg.connect(pg.read_only().dsn),
        schema="star",
        where="redshift-on-postgres",
        dialect="postgres",
        transient=(psycopg.OperationalError,),
    )


def test_every_target_has_a_read_side_that_sees_each_load(
    target: Warehouse, seed_lake: LakeConfig, fresh_pg: PgConfig, tmp_path: Path
) -> None:
    """The dashboards' pre-aggregates are the same whichever target they read."""
    kind = "redshift" if isinstance(target, RedshiftWarehouse) else target.dialect
    reader = _reader(kind, target, fresh_pg, tmp_path / "w.duckdb")
    assert reader.version() is None  # nothing loaded yet
    days = select_days(seed_lake, all_days=True)
    run_etl(seed_lake, DuckDBEngine(), target, days[:50])
    first = reader.version()
    assert first is not None
    target.close()  # DuckDB allows one process a writer OR readers: the loader lets go
    cubes = build_cubes(reader, first)
    assert cubes.facts == target.query("SELECT count(*) FROM star.sales_fact")[0][0]
    run_etl(seed_lake, DuckDBEngine(), target, days[50:60])
    target.close()
    assert reader.version() not in (None, first)
    total = target.query("SELECT sum(sales) FROM star.sales_fact")[0][0]
    target.close()
    cubes = build_cubes(reader, reader.version() or "")
    assert Decimal(str(cubes.con.execute("SELECT sum(sales) FROM cube").fetchone()[0])) == total
