"""One transformation, two engines: DuckDB and Spark build identical warehouses.

Runs on the FULL data set (every partition of the real export), loads each
engine's output into its own DuckDB warehouse and compares every table row by
row, then checks the surrogate-key function gives the same numbers in DuckDB,
Spark and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from superstore.clients import PgConfig
from superstore.dialects import surrogate_key_sql
from superstore.etl import DuckDBEngine, run_etl, select_days
from superstore.etl.spark import SparkEngine
from superstore.storage import LakeConfig
from superstore.warehouse import TABLES, DuckDBWarehouse


def _contents(warehouse: DuckDBWarehouse) -> dict[str, list[tuple]]:
    out = {}
    for table in TABLES:
        columns = ", ".join(table.names)
        out[table.name] = warehouse.query(f"SELECT {columns} FROM star.{table.name} ORDER BY 1")
    return out


def test_duckdb_and_spark_build_identical_warehouses(
    seed_lake: LakeConfig, spark: Any, tmp_path: Path
) -> None:
    days = select_days(seed_lake, all_days=True)
    contents = {}
    for engine in (DuckDBEngine(), SparkEngine(spark=spark)):
        with DuckDBWarehouse(tmp_path / f"{engine.name}.duckdb") as warehouse:
            report = run_etl(seed_lake, engine, warehouse, days)
            assert report.lines == 9994
            contents[engine.name] = _contents(warehouse)
    for table in TABLES:
        duck, sprk = contents["duckdb"][table.name], contents["spark"][table.name]
        assert len(duck) == len(sprk) > 0, table.name
        assert duck == sprk, table.name


NATURAL_KEYS = [
    ("CG-12520",),
    ("FUR-BO-10001798", "Bush Somerset Collection Bookcase"),
    ("OFF-PA-10000174", 'Message Book, Wirebound, Four 5 1/2" X 4" Forms/Pg., 200 Sets/Book '),
    ("United States", "South", "Kentucky", "Henderson", "42420"),
    ("United States", "East", "Vermont", "Burlington", None),
    ("Ünïcødé ☃", "emoji 🛒", ""),
]


def _source(values: tuple) -> tuple[str, list[str]]:
    """A one-row derived table holding ``values`` as columns c0, c1, ..."""
    names = [f"c{i}" for i in range(len(values))]
    literals = ["NULL" if v is None else "'" + v.replace("'", "''") + "'" for v in values]
    select = ", ".join(f"{lit} AS {name}" for lit, name in zip(literals, names, strict=True))
    return f"(SELECT {select}) AS t", names


@pytest.mark.parametrize("values", NATURAL_KEYS)
def test_surrogate_keys_are_equal_in_duckdb_spark_and_postgres(
    values: tuple, spark: Any, pg: PgConfig
) -> None:
    source, names = _source(values)

    def sql(dialect: str) -> str:
        return f"SELECT {surrogate_key_sql(dialect, *names)} FROM {source}"

    keys = [
        duckdb.sql(sql("duckdb")).fetchall()[0][0],
        spark.sql(sql("spark")).collect()[0][0],
    ]
    with pg.connect() as conn:
        keys.append(conn.execute(sql("postgres")).fetchone()[0])
    assert len(set(keys)) == 1, keys
    assert 0 < keys[0] < 2**60


def test_spark_removes_its_run_directory_from_a_shared_stage(
    seed_lake: LakeConfig, spark: Any, tmp_path: Path
) -> None:
    """A stage URL (s3://..., here file://) is shared by every run: each run deletes its own."""
    stage = tmp_path / "stage"
    stage.mkdir()
    (stage / "someone-else").mkdir()
    days = select_days(seed_lake, all_days=True)[:3]
    with DuckDBWarehouse(tmp_path / "w.duckdb") as warehouse:
        report = run_etl(
            seed_lake, SparkEngine(spark=spark, stage_url=stage.as_uri()), warehouse, days
        )
    assert report.lines > 0
    assert [p.name for p in stage.iterdir()] == ["someone-else"]
