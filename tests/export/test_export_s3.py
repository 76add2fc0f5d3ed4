"""Exporting to S3: a real S3-compatible server (moto) on loopback, checked with boto3."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from superstore.clients import PgConfig
from superstore.errors import ConfigError, TransientError
from superstore.export import (
    DATA_FILES,
    VerifyError,
    export_day,
    export_days,
    list_partitions,
    verify_day,
)
from superstore.oltp import load_lines_direct
from superstore.storage import LakeConfig

DAY = dt.date(2016, 11, 8)


def _prefix(lake: LakeConfig, s3) -> str:
    return lake.root.removeprefix(f"{s3.bucket}/")


def test_partition_lands_in_the_bucket(seed_pg: PgConfig, s3) -> None:
    lake = s3.lake(s3_region="us-east-1")
    manifest = export_day(seed_pg, lake, DAY)
    prefix = _prefix(lake, s3)
    expected = sorted(f"{prefix}/raw/date={DAY}/{name}" for name in [*DATA_FILES, "_manifest.json"])
    assert s3.keys(prefix) == expected  # nothing else: no temporary objects left
    body = s3.client().get_object(Bucket=s3.bucket, Key=f"{prefix}/raw/date={DAY}/orders.csv")
    data = body["Body"].read()
    assert len(data) == manifest.files["orders.csv"].bytes
    assert data.startswith(b"Row ID,Order ID,Order Date,")
    assert verify_day(lake, DAY) == manifest
    assert list_partitions(lake) == [DAY]
    assert lake.partition_url(DAY) == f"s3://{s3.bucket}/{prefix}/raw/date={DAY}"


def test_rerun_on_s3_replaces_and_drops_stale_objects(scratch_pg: PgConfig, s3, invent) -> None:
    day = dt.date(2032, 1, 1)
    load_lines_direct(scratch_pg, invent(day, orders=2))
    lake = s3.lake()
    first = export_day(scratch_pg, lake, day)
    prefix = _prefix(lake, s3)
    stale = f"{prefix}/raw/date={day}/part-old.csv"
    s3.client().put_object(Bucket=s3.bucket, Key=stale, Body=b"left over")
    load_lines_direct(scratch_pg, invent(day, orders=1, skip=20))
    second = export_day(scratch_pg, lake, day)
    assert (first.lines, second.lines) == (4, 6)
    keys = s3.keys(prefix)
    assert stale not in keys and len(keys) == len(DATA_FILES) + 1
    assert verify_day(lake, day) == second


def test_verify_on_s3_catches_a_tampered_object(seed_pg: PgConfig, s3) -> None:
    lake = s3.lake()
    export_day(seed_pg, lake, DAY)
    key = f"{_prefix(lake, s3)}/raw/date={DAY}/customers.csv"
    client = s3.client()
    body = client.get_object(Bucket=s3.bucket, Key=key)["Body"].read()
    client.put_object(Bucket=s3.bucket, Key=key, Body=body.replace(b"Claire", b"Clairo"))
    with pytest.raises(VerifyError, match=r"customers\.csv: sha256"):
        verify_day(lake, DAY)
    client.delete_object(Bucket=s3.bucket, Key=key)
    with pytest.raises(VerifyError, match=r"customers\.csv: missing"):
        verify_day(lake, DAY)


@pytest.mark.parametrize(
    ("sse", "key_id"), [("AES256", None), ("aws:kms", "alias/superstore-lake")]
)
def test_server_side_encryption_is_requested(
    seed_pg: PgConfig, s3, sse: str, key_id: str | None
) -> None:
    lake = s3.lake(s3_sse=sse, **({"s3_sse_kms_key_id": key_id} if key_id else {}))
    export_days(seed_pg, lake, [DAY, DAY + dt.timedelta(days=1)])
    keys = s3.keys(_prefix(lake, s3))
    assert len(keys) == 2 * (len(DATA_FILES) + 1)
    for key in keys:
        head = s3.client().head_object(Bucket=s3.bucket, Key=key)
        assert head["ServerSideEncryption"] == sse, key
        if key_id:
            assert key_id in head["SSEKMSKeyId"], key


def test_missing_bucket_is_a_config_error(seed_pg: PgConfig, s3) -> None:
    lake = LakeConfig(url="s3://no-such-bucket/lake", s3_endpoint_url=s3.endpoint)
    with pytest.raises(ConfigError, match="bucket does not exist"):
        export_day(seed_pg, lake, DAY)


def test_cli_exports_to_s3(cli, seed_pg: PgConfig, s3) -> None:
    lake = s3.lake()
    env = {
        "SUPERSTORE_PG_DSN": seed_pg.dsn,
        "SUPERSTORE_LAKE_URL": lake.url,
        "SUPERSTORE_S3_ENDPOINT_URL": s3.endpoint,
        "SUPERSTORE_S3_SSE": "AES256",
    }
    done = cli("export", "--from", "2014-01-03", "--to", "2014-01-05", env=env)
    assert done.returncode == 0, done.stderr
    assert "exported 3 partitions" in done.stderr and "testing" not in done.stderr
    assert len(s3.keys(_prefix(lake, s3))) == 3 * (len(DATA_FILES) + 1)
    checked = cli("export", "--verify", "--all", env=env)
    assert checked.returncode == 0 and "3 partitions match" in checked.stderr


def _crashing_s3(lake: LakeConfig, *, write: int = 0, copy: int = 0) -> LakeConfig:
    """The same lake through a client that fails on the Nth file written or copied."""
    import s3fs

    class Crashing(s3fs.S3FileSystem):
        cachable = False
        writes = copies = 0

        def open(self, path, mode="rb", **kwargs):  # type: ignore[override]
            if "w" in mode:
                self.writes += 1
                if self.writes == write:
                    raise ConnectionResetError("connection reset (injected)")
            return super().open(path, mode, **kwargs)

        async def _cp_file(self, path1, path2, **kwargs):  # type: ignore[override]
            self.copies += 1
            if self.copies == copy:
                raise ConnectionResetError("connection reset (injected)")
            return await super()._cp_file(path1, path2, **kwargs)

    return dataclasses.replace(lake, filesystem=Crashing(**lake.storage_options()))


def test_crashes_on_s3_leave_the_previous_partition_or_none(
    scratch_pg: PgConfig, s3, invent
) -> None:
    day = dt.date(2032, 2, 1)
    load_lines_direct(scratch_pg, invent(day))
    lake = s3.lake()
    before = export_day(scratch_pg, lake, day)
    load_lines_direct(scratch_pg, invent(day, skip=30))

    with pytest.raises(TransientError, match="injected"):  # while writing the temporary prefix
        export_day(scratch_pg, _crashing_s3(lake, write=2), day)
    assert verify_day(lake, day) == before
    assert len(s3.keys(_prefix(lake, s3))) == len(DATA_FILES) + 1  # temporary objects removed

    with pytest.raises(TransientError, match="injected"):  # while replacing the partition
        export_day(scratch_pg, _crashing_s3(lake, copy=3), day)
    assert list_partitions(lake) == []  # old manifest gone first: no half partition counts
    with pytest.raises(VerifyError, match="no partition"):
        verify_day(lake, day)

    after = export_day(scratch_pg, lake, day)  # a rerun repairs it
    assert after.lines == before.lines + 6 and verify_day(lake, day) == after
