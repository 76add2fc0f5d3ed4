"""Object storage: a local directory or an S3 prefix, behind one fsspec filesystem.

The lake (written by export, read by the ETL) and the Redshift COPY stage
(written by the warehouse) both live in such storage. ``LakeConfig`` is built
from the settings and builds its own client (``fs()``),
so tests swap the config (another URL, a filesystem that fails on purpose)
instead of patching modules. S3 credentials come only from the standard AWS
chain (environment, profile, instance role): nothing here reads, stores or
logs them. Filesystem and S3 errors become project errors at this boundary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

from superstore.errors import ConfigError, FatalError, SuperstoreError, TransientError
from superstore.settings import Settings

__all__ = ["LakeConfig", "lake_errors"]

_SSE_MODES = ("", "AES256", "aws:kms")


@dataclass(frozen=True)
class LakeConfig:
    """A lake root (``/abs/dir`` or ``s3://bucket/prefix``) and how to reach it."""

    url: str
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_sse: str = ""
    s3_sse_kms_key_id: str | None = None
    filesystem: AbstractFileSystem | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.protocol not in ("file", "s3"):
            raise ConfigError(
                f"unsupported lake URL {self.url!r}: use a directory or s3://bucket/prefix"
            )
        if self.protocol == "s3" and not self.root.split("/")[0]:
            raise ConfigError(f"lake URL {self.url!r} names no bucket", hint="s3://bucket/prefix")
        if self.s3_sse not in _SSE_MODES:
            raise ConfigError(f"unknown S3 server-side encryption {self.s3_sse!r}", hint="AES256")
        if self.s3_sse_kms_key_id and self.s3_sse != "aws:kms":
            raise ConfigError(
                "an SSE-KMS key id needs server-side encryption aws:kms",
                hint="set SUPERSTORE_S3_SSE=aws:kms",
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> LakeConfig:
        """The configured lake; an empty ``lake_url`` means ``<data_dir>/lake``."""
        url = settings.lake_url or str(Path(settings.data_dir) / "lake")
        return cls(
            url=url,
            s3_endpoint_url=settings.s3_endpoint_url or None,
            s3_region=settings.s3_region or None,
            s3_sse=settings.s3_sse,
            s3_sse_kms_key_id=settings.s3_sse_kms_key_id or None,
        )

    @property
    def protocol(self) -> str:
        """``file`` for local directories, else the URL scheme."""
        scheme, sep, _ = self.url.partition("://")
        return scheme.lower() if sep else "file"

    @property
    def is_local(self) -> bool:
        """True when partitions are plain directories (renamed atomically on publish)."""
        return self.protocol == "file"

    @property
    def root(self) -> str:
        """The lake root as the filesystem names it: an absolute path or ``bucket/prefix``."""
        if self.is_local:
            return str(Path(self.url.removeprefix("file://")).expanduser().resolve())
        return self.url.partition("://")[2].strip("/")

    def path(self, *parts: str) -> str:
        """A path under the root, as the filesystem names it."""
        return "/".join([self.root, *parts])

    def partition_path(self, day: dt.date) -> str:
        """``<root>/raw/date=YYYY-MM-DD``."""
        return self.path("raw", f"date={day.isoformat()}")

    def partition_url(self, day: dt.date) -> str:
        """The partition as a URL other tools accept (a path locally, ``s3://...`` on S3)."""
        return self._url(self.partition_path(day))

    @property
    def raw_url(self) -> str:
        """The folder holding every partition, as a URL (for globbing ``date=*/``)."""
        return self._url(self.path("raw"))

    def _url(self, path: str) -> str:
        return path if self.is_local else f"{self.protocol}://{path}"

    def storage_options(self) -> dict[str, Any]:
        """s3fs keyword arguments: endpoint, region, SSE headers; never credentials."""
        extra: dict[str, str] = {}
        if self.s3_sse:
            extra["ServerSideEncryption"] = self.s3_sse
        if self.s3_sse_kms_key_id:
            extra["SSEKMSKeyId"] = self.s3_sse_kms_key_id
        client: dict[str, str] = {}
        if self.s3_region:
            client["region_name"] = self.s3_region
        options: dict[str, Any] = {
            "client_kwargs": client,
            "s3_additional_kwargs": extra,
            "use_listings_cache": False,
            "skip_instance_cache": True,
        }
        if self.s3_endpoint_url:
            options["endpoint_url"] = self.s3_endpoint_url
        return options

    def fs(self) -> AbstractFileSystem:
        """The filesystem client; a missing optional extra is a ConfigError, not a traceback."""
        if self.filesystem is not None:
            return self.filesystem
        if self.is_local:
            return LocalFileSystem(auto_mkdir=True)
        try:
            import s3fs  # lazy: an optional extra (superstore[s3])
        except ImportError:
            raise ConfigError(
                f"install superstore[s3] to use {self.protocol}:// lakes",
                hint="pip install 'superstore[s3]'",
            ) from None
        return s3fs.S3FileSystem(**self.storage_options())


@contextmanager
def lake_errors(lake: LakeConfig, what: str) -> Iterator[None]:
    """Turn filesystem and S3 errors into project errors naming the lake, never credentials."""
    try:
        yield
    except (SuperstoreError, psycopg.Error):  # database errors are classified by the snapshot
        raise
    except Exception as exc:
        raise _classify(lake, what, exc) from exc


def _classify(lake: LakeConfig, what: str, exc: Exception) -> SuperstoreError:
    name = type(exc).__name__
    where = f"{what} at {lake.url}"
    if name in ("NoCredentialsError", "PartialCredentialsError", "NoRegionError"):
        return ConfigError(
            f"{where}: {exc}",
            hint="set AWS credentials through the standard chain (env, profile, instance role)",
        )
    if isinstance(exc, PermissionError) or (name in ("ClientError",) and "Denied" in str(exc)):
        return ConfigError(f"{where}: access denied ({exc})")
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError") or (
        isinstance(exc, ConnectionError | TimeoutError)
    ):
        return TransientError(f"{where}: object store unreachable ({exc})")
    if isinstance(exc, FileNotFoundError) and not lake.is_local and "bucket" in str(exc).lower():
        return ConfigError(f"{where}: bucket does not exist ({exc})")
    if isinstance(exc, OSError):
        return FatalError(f"{where}: {exc.strerror or exc}")
    return FatalError(f"{where}: {name}: {exc}")
