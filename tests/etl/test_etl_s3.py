"""An S3 lake: the real export writes it to an S3-compatible server, the ETL reads it back."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from superstore.clients import PgConfig
from superstore.etl import DuckDBEngine, run_etl, select_days
from superstore.export import export_days, read_manifest
from superstore.storage import LakeConfig
from superstore.warehouse import DuckDBWarehouse


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server in a thread on loopback, with one bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="lake")
        yield endpoint
    server.stop()


def test_etl_reads_an_s3_lake(s3_endpoint: str, seed_db: PgConfig, tmp_path: Path) -> None:
    lake = LakeConfig(url="s3://lake/superstore", s3_endpoint_url=s3_endpoint)
    days = select_days_of(seed_db)[:5]
    export_days(seed_db, lake, days)
    engine = DuckDBEngine(filesystem=lake.fs())
    with DuckDBWarehouse(tmp_path / "w.duckdb") as warehouse:
        report = run_etl(lake, engine, warehouse, select_days(lake, all_days=True))
        ((lines, sales),) = warehouse.query("SELECT COUNT(*), SUM(sales) FROM star.sales_fact")
    manifests = [read_manifest(lake, d) for d in days]
    assert report.days == len(days)
    assert (lines, sales) == (sum(m.lines for m in manifests), sum(m.sales for m in manifests))


def select_days_of(pg: PgConfig) -> list:
    """The first order dates of the database."""
    with pg.connect() as conn:
        return [r[0] for r in conn.execute("SELECT DISTINCT order_date FROM orders ORDER BY 1")]
