"""Lake configuration: settings -> client, S3 options, helpful errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from superstore.errors import ConfigError
from superstore.settings import load_settings
from superstore.storage import LakeConfig


def test_default_lake_is_under_the_data_dir(tmp_path: Path) -> None:
    lake = LakeConfig.from_settings(load_settings(data_dir=tmp_path))
    assert lake.is_local and lake.root == str((tmp_path / "lake").resolve())
    assert lake.partition_path(__import__("datetime").date(2017, 1, 2)).endswith(
        "/lake/raw/date=2017-01-02"
    )


def test_s3_settings_build_the_client_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERSTORE_LAKE_URL", "s3://bucket/some/prefix/")
    monkeypatch.setenv("SUPERSTORE_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("SUPERSTORE_S3_REGION", "eu-west-1")
    monkeypatch.setenv("SUPERSTORE_S3_SSE", "aws:kms")
    monkeypatch.setenv("SUPERSTORE_S3_SSE_KMS_KEY_ID", "alias/lake")
    lake = LakeConfig.from_settings(load_settings())
    assert (lake.protocol, lake.root) == ("s3", "bucket/some/prefix")
    assert lake.raw_url == "s3://bucket/some/prefix/raw"
    options = lake.storage_options()
    assert options["endpoint_url"] == "http://127.0.0.1:9000"
    assert options["client_kwargs"] == {"region_name": "eu-west-1"}
    assert options["s3_additional_kwargs"] == {
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "alias/lake",
    }
    assert not {"key", "secret", "token"} & options.keys()  # credentials: the AWS chain only


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "gs://bucket/x"}, "unsupported lake URL"),
        ({"url": "s3://"}, "names no bucket"),
        ({"url": "s3://b", "s3_sse": "DES"}, "unknown S3 server-side encryption"),
        ({"url": "s3://b", "s3_sse": "AES256", "s3_sse_kms_key_id": "k"}, "needs server-side"),
    ],
)
def test_bad_lake_settings(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LakeConfig(**options)


def test_missing_s3_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as if superstore[s3] were not installed
    with pytest.raises(ConfigError, match=r"install superstore\[s3\] to use s3:// lakes"):
        LakeConfig(url="s3://bucket/lake").fs()
