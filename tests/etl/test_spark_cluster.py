"""The scale-out path: `superstore etl --engine spark` on a Spark standalone cluster.

Marked ``bench`` (``pytest -m bench tests/etl/test_spark_cluster.py``): a
master and one worker are started from the pyspark wheel on 127.0.0.1
(bench/spark_cluster.py); the CLI runs in its own process (its own driver JVM,
so the suite's local SparkSession cannot stand in for the cluster) with
``--spark-master spark://127.0.0.1:<port>`` on every day of the data set, and
the warehouse it builds must equal, row for row, the one DuckDB builds. The
master's own record of the finished application proves the work ran there.
It takes 1-2 minutes on a quiet 2-core machine and several on a loaded one,
too slow and load-sensitive for the default suite, which keeps the fast
checks: which masters may use a local stage, and a clear error with the log
tails when the cluster cannot start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench import spark_cluster
from superstore.errors import ConfigError
from superstore.etl import DuckDBEngine, run_etl, select_days
from superstore.etl.spark import SparkEngine, on_this_machine
from superstore.storage import LakeConfig
from superstore.warehouse import TABLES, DuckDBWarehouse


@pytest.mark.parametrize(
    ("master", "here"),
    [
        ("local[*]", True),
        ("local", True),
        ("local-cluster[2,1,1024]", True),
        ("spark://127.0.0.1:7077", True),
        ("spark://localhost:40123", True),
        ("spark://10.0.3.7:7077", False),
        ("spark://spark-master.internal:7077", False),
        ("spark://127.0.0.1.evil:7077", False),
        ("yarn", False),
        ("k8s://https://10.0.0.1:6443", False),
    ],
)
def test_only_masters_on_this_machine_may_stage_locally(master: str, here: bool) -> None:
    assert on_this_machine(master) is here
    if here:
        SparkEngine(master=master)  # no stage URL needed; the session starts lazily
    else:
        with pytest.raises(ConfigError, match="needs a stage every node can write"):
            SparkEngine(master=master)
        SparkEngine(master=master, stage_url="s3://bucket/tmp")


def test_a_cluster_that_cannot_start_says_why_with_the_log_tail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("pyspark")
    monkeypatch.setenv("JAVA_HOME", "/nonexistent-jdk")
    with (
        pytest.raises(spark_cluster.ClusterError, match="master exited") as failure,
        spark_cluster.standalone_cluster(timeout=60),
    ):
        pass
    assert "/nonexistent-jdk/bin/java" in str(failure.value)  # spark-class's own words


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, dict[str, str]]]:
    """A standalone master + one worker (2 cores, 1 GB executor) for this module."""
    pytest.importorskip("pyspark")
    with spark_cluster.standalone_cluster(cores=2, memory_gb=2, timeout=180) as master:
        yield master, spark_cluster.driver_conf(cores=2, executor_memory_gb=1)


def _contents(path: Path) -> dict[str, list[tuple]]:
    with DuckDBWarehouse(path) as warehouse:
        return {
            t.name: warehouse.query(f"SELECT {', '.join(t.names)} FROM star.{t.name} ORDER BY 1")
            for t in TABLES
        }


def _cluster_equals_duckdb(
    bare_cli: Callable, lake: LakeConfig, cluster: tuple, tmp_path: Path, days: list[dt.date]
) -> None:
    master, conf = cluster
    before = {app["id"] for app in master.state().get("completedapps", [])}
    spark_db = tmp_path / "spark.duckdb"
    result = bare_cli(
        "etl", "--from", str(days[0]), "--to", str(days[-1]), "--lake", lake.url,
        "--warehouse-path", str(spark_db), "--engine", "spark", "--spark-master", master,
        *(arg for key, value in conf.items() for arg in ("--spark-conf", f"{key}={value}")),
        timeout=280,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"loaded {len(days):,} days" in result.stderr, result.stderr[-1000:]

    # The application ran on the cluster: the master recorded it, finished, with executors.
    apps = [a for a in master.state()["completedapps"] if a["id"] not in before]
    assert [a["name"] for a in apps] == ["superstore-etl"], apps
    assert apps[0]["state"] == "FINISHED" and apps[0]["cores"] > 0, apps[0]

    duck_db = tmp_path / "duckdb.duckdb"
    with DuckDBWarehouse(duck_db) as warehouse:
        report = run_etl(lake, DuckDBEngine(), warehouse, days)
    assert report.lines > 0
    spark, duck = _contents(spark_db), _contents(duck_db)
    for table in TABLES:
        assert len(spark[table.name]) == len(duck[table.name]) > 0, table.name
        assert spark[table.name] == duck[table.name], table.name


@pytest.mark.bench
@pytest.mark.timeout(900)
def test_full_data_set_on_a_standalone_cluster_equals_duckdb(
    bare_cli: Callable, seed_lake: LakeConfig, cluster: tuple, tmp_path: Path
) -> None:
    days = select_days(seed_lake, all_days=True)
    assert len(days) == 1237
    _cluster_equals_duckdb(bare_cli, seed_lake, cluster, tmp_path, days)
