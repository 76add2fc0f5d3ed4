"""Fixtures for the export tests: dedicated databases and a real S3-compatible server.

Databases are created on the session's PostgreSQL so other tests' rows never
leak in: ``seed_pg`` holds exactly the Sample Superstore data set (read only
here), ``scratch_pg`` takes the rows tests invent. ``s3`` is moto's standalone
server on a loopback port, started once per session as a subprocess.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from superstore.clients import PgConfig
from superstore.contract import OrderLine
from superstore.data import load_lines
from superstore.oltp import load_lines_direct, migrate
from superstore.storage import LakeConfig
from tests.support.pgadmin import create_database, drop_database


def _database(server: PgConfig, prefix: str, schema: bool = True) -> Iterator[PgConfig]:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    db = create_database(server, name)
    try:
        if schema:
            migrate(db)
        yield db
    finally:
        drop_database(server, name)


@pytest.fixture(scope="session")
def seed_lines() -> list[OrderLine]:
    """The vendored data set, 9,994 lines."""
    return load_lines()


@pytest.fixture(scope="session")
def seed_pg(pg: PgConfig, seed_lines: list[OrderLine]) -> Iterator[PgConfig]:
    """A database holding exactly the data set; tests must not write to it."""
    for db in _database(pg, "export_seed"):
        load_lines_direct(db, seed_lines)
        yield db


@pytest.fixture(scope="session")
def scratch_pg(pg: PgConfig) -> Iterator[PgConfig]:
    """A database for rows tests invent (each test uses its own dates)."""
    yield from _database(pg, "export_scratch")


@pytest.fixture
def schemaless_pg(pg: PgConfig) -> Iterator[PgConfig]:
    """An empty database without the pipeline's tables."""
    yield from _database(pg, "export_empty", schema=False)


@pytest.fixture
def lake(tmp_path: Path) -> LakeConfig:
    """An empty local lake."""
    return LakeConfig(url=str(tmp_path / "lake"))


def _invent_lines(template: list[OrderLine], day: dt.date, orders: int = 3) -> list[OrderLine]:
    lines = []
    for i in range(orders):
        order_id = f"TX-{uuid.uuid4().hex[:10]}"
        for n, base in enumerate(template[2 * i : 2 * i + 2], start=1):
            lines.append(
                base.model_copy(
                    update={
                        "order_id": order_id,
                        "line_number": n,
                        "row_id": None,
                        "order_date": day,
                        "ship_date": day + dt.timedelta(days=2),
                    }
                )
            )
    return lines


@pytest.fixture(scope="session")
def invent(seed_lines: list[OrderLine]) -> Callable[..., list[OrderLine]]:
    """``invent(day, orders=3, skip=0)``: new orders dated ``day`` (unique ids), two lines
    each, copied from the data set's lines starting at ``skip``."""

    def make(day: dt.date, orders: int = 3, skip: int = 0) -> list[OrderLine]:
        return _invent_lines(seed_lines[skip:], day, orders)

    return make


@dataclass(frozen=True)
class S3Server:
    """A running moto server and a bucket created for the session."""

    endpoint: str
    bucket: str

    def client(self):  # boto3 client, to look at what really landed
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")

    def lake(self, **options: str) -> LakeConfig:
        """A fresh prefix of the bucket as a lake."""
        url = f"s3://{self.bucket}/t-{uuid.uuid4().hex[:8]}"
        return LakeConfig(url=url, s3_endpoint_url=self.endpoint, **options)

    def keys(self, prefix: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2")
        return sorted(
            obj["Key"]
            for page in pages.paginate(Bucket=self.bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3-compatible server on loopback, with dummy credentials in the environment."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    exe = Path(sys.executable).with_name("moto_server")
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(endpoint, timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start: {log.read_text()}") from None
                time.sleep(0.1)
        server = S3Server(endpoint=endpoint, bucket="superstore-lake")
        server.client().create_bucket(Bucket=server.bucket)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
