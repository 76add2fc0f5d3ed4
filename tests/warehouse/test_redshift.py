"""Redshift without a cluster: every statement it would send parses as Redshift SQL.

The load logic itself runs for real against PostgreSQL in test_targets.py;
here the statements are collected from such a run and from the S3 staging
path, and each one is parsed by sqlglot's Redshift dialect.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import fsspec
import psycopg
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from superstore.clients import PgConfig
from superstore.dialects import render
from superstore.errors import ConfigError
from superstore.etl import DuckDBEngine, run_etl, select_days
from superstore.etl.quality import DayTotals, run_checks
from superstore.settings import load_settings
from superstore.storage import LakeConfig
from superstore.warehouse import (
    TABLES,
    CopyFromStdinLoader,
    RedshiftWarehouse,
    S3CopyLoader,
    StarBatch,
    create_statements,
    merge_statements,
    warehouse_config,
)
from superstore.warehouse.redshift import redshift_connect_args


def parse_redshift(sql: str) -> exp.Expression:
    """Parse strictly: an unknown construct is an error, not a silent Command."""
    tree = sqlglot.parse_one(sql, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)
    assert not isinstance(tree, exp.Command), f"not understood as Redshift SQL: {sql[:120]}"
    return tree


def test_ddl_has_distribution_sort_keys_and_encodings() -> None:
    statements = create_statements("redshift", "star")
    for sql in statements:
        parse_redshift(sql)
    fact = next(s for s in statements if "sales_fact" in s)
    assert "DISTSTYLE KEY DISTKEY (customer_key)" in fact
    assert "COMPOUND SORTKEY (time_key)" in fact
    assert "time_key INTEGER NOT NULL ENCODE RAW" in fact  # leading sort key stays RAW
    assert "sales DECIMAL(18,4) NOT NULL ENCODE AZ64" in fact
    assert "ship_mode VARCHAR(800) NOT NULL ENCODE BYTEDICT" in fact
    customers = next(s for s in statements if ".customer_dim" in s)
    assert "DISTKEY (customer_key)" in customers
    for small in ("time_dim", "product_dim", "location_dim"):
        assert "DISTSTYLE ALL" in next(s for s in statements if f".{small}" in s)


def test_merge_and_check_statements_parse_as_redshift() -> None:
    for sql in merge_statements("star", [20140103, 20140104]):
        tree = parse_redshift(render(sql, "redshift"))
        if isinstance(tree, exp.Merge):
            assert tree.this.alias == ""  # Redshift MERGE takes no target alias

    seen: list[str] = []

    def query(sql: str) -> list[tuple]:
        seen.append(render(sql, "redshift"))
        return [(20140103, 2, Decimal("1.0000"), 0, 0, 0, 0)] if "SUM(" in sql else []

    run_checks(query, "star", {dt.date(2014, 1, 3): DayTotals(2, Decimal(1))})
    assert len(seen) >= 7
    for sql in seen:
        parse_redshift(sql)


def test_every_statement_of_an_emulated_load_parses_as_redshift(
    seed_lake: LakeConfig, fresh_pg: PgConfig
) -> None:
    warehouse = RedshiftWarehouse(
        connect=fresh_pg.connect,
        schema="star",
        loader=CopyFromStdinLoader(),
        driver_errors=(psycopg.Error,),
        ddl_dialect="postgres",
    )
    with warehouse:
        days = select_days(seed_lake, all_days=True)[:20]
        run_etl(seed_lake, DuckDBEngine(), warehouse, days)
        ((lines,),) = warehouse.query("SELECT COUNT(*) FROM star.sales_fact")
    assert lines > 0
    sent = [s for s in warehouse.statements if "FROM STDIN" not in s]  # the emulated COPY
    kinds = {type(parse_redshift(s)).__name__ for s in sent}
    assert {"Merge", "Delete", "Insert", "Create", "Drop", "Select"} <= kinds


def test_s3_loader_stages_parquet_and_copies_with_the_iam_role() -> None:
    memory = fsspec.filesystem("memory")
    stage = LakeConfig(url="s3://bucket/stage", filesystem=memory)
    loader = S3CopyLoader(stage, "arn:aws:iam::123456789012:role/copy", region="eu-west-1")
    batch = StarBatch(days=(dt.date(2014, 1, 3),))
    sent: list[str] = []

    class Recorder:
        statements: list[str] = sent

        def execute(self, cursor: object, sql: str) -> None:
            sent.append(sql)

    table = TABLES[0]
    loader.load(Recorder(), None, f"stage_{table.name}", batch.tables[table.name])  # type: ignore[arg-type]
    (copy,) = sent
    tree = parse_redshift(copy)
    assert isinstance(tree, exp.Copy)
    assert f"FROM 's3://bucket/stage/{loader.batch}/{table.name}/'" in copy
    assert "IAM_ROLE 'arn:aws:iam::123456789012:role/copy' FORMAT AS PARQUET" in copy
    assert "REGION 'eu-west-1'" in copy
    path = f"bucket/stage/{loader.batch}/{table.name}/part-0.parquet"
    with memory.open(path, "rb") as staged:
        assert pq.read_table(staged).schema == table.arrow_schema
    loader.cleanup()
    assert not memory.exists(f"bucket/stage/{path.split('/')[2]}")


def test_connection_url_and_settings_errors() -> None:
    args = redshift_connect_args(
        "redshift://etl:s%40cret@wg.123.eu-west-1.redshift-serverless.amazonaws.com:5439/dev"
        "?iam=false&ssl=true"
    )
    assert args == {
        "host": "wg.123.eu-west-1.redshift-serverless.amazonaws.com",
        "port": 5439,
        "database": "dev",
        "user": "etl",
        "password": "s@cret",
        "iam": False,
        "ssl": True,
    }
    with pytest.raises(ConfigError, match="redshift://"):
        redshift_connect_args("mysql://x")
    settings = load_settings(warehouse="redshift", lake_url="/tmp/lake")
    with pytest.raises(ConfigError, match=r"cluster.s address"):
        warehouse_config(settings).open()
    with pytest.raises(ConfigError, match="IAM role"):
        S3CopyLoader(LakeConfig(url="s3://b/p", filesystem=fsspec.filesystem("memory")), "")
