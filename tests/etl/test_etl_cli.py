"""`superstore etl` as a user runs it: help, a full load, clear one-line errors."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from superstore.storage import LakeConfig


def test_help_explains_every_option(bare_cli) -> None:
    result = bare_cli("etl", "--help")
    assert result.returncode == 0
    for text in ("--date", "--from", "--all", "--engine", "--warehouse", "--spark-master",
                 "--spark-conf", "manifest", "rerun"):  # fmt: skip
        assert text in result.stdout, text


def test_full_load_then_rerun(bare_cli, seed_lake: LakeConfig, tmp_path: Path) -> None:
    args = ("etl", "--all", "--lake", seed_lake.url, "--warehouse-path", str(tmp_path / "w.db"))
    for _ in range(2):
        result = bare_cli(*args)
        assert result.returncode == 0, result.stderr
        assert "loaded 1,237 days, 9,994 lines, sales 2297200.8603" in result.stderr
        assert "checks passed" in result.stderr


def test_mismatch_names_the_partition(bare_cli, seed_lake: LakeConfig, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    day = "2016-11-08"
    source = Path(seed_lake.partition_path(dt.date.fromisoformat(day)))
    shutil.copytree(source, lake / "raw" / f"date={day}")
    with open(lake / "raw" / f"date={day}" / "orders.parquet", "ab") as data:
        data.write(b"\0")
    result = bare_cli("etl", "--date", day, "--lake", str(lake))
    assert result.returncode != 0
    assert f"date={day}" in result.stderr and "orders.parquet" in result.stderr
    assert "Traceback" not in result.stderr


def test_spark_engine_without_pyspark_says_how_to_install(
    bare_cli, seed_lake: LakeConfig, tmp_path: Path
) -> None:
    shim = tmp_path / "shim" / "pyspark"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('pyspark hidden by the test')\n")
    result = bare_cli(
        "etl", "--date", "2016-11-08", "--engine", "spark", "--lake", seed_lake.url,
        env={"PYTHONPATH": str(shim.parent)},
    )  # fmt: skip
    assert result.returncode == 2
    assert "install superstore[spark]" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_choices_are_one_line_errors(bare_cli, seed_lake: LakeConfig) -> None:
    result = bare_cli("etl", "--all", "--engine", "flink", "--lake", seed_lake.url)
    assert result.returncode == 2 and "--engine 'flink'" in result.stderr
    result = bare_cli("etl", "--date", "2013-01-01", "--lake", seed_lake.url)
    assert result.returncode == 2 and "no partition" in result.stderr
