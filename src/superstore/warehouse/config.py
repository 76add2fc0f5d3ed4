"""Which warehouse to load, built from the settings; the config builds its client.

Tests swap the config (a temporary DuckDB file, a fresh PostgreSQL database,
Redshift emulated on PostgreSQL) instead of patching modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from superstore.errors import ConfigError
from superstore.settings import Settings
from superstore.warehouse.base import Warehouse

__all__ = ["WarehouseConfig"]

Kind = Literal["duckdb", "postgres", "redshift"]
KINDS: tuple[str, ...] = ("duckdb", "postgres", "redshift")


@dataclass(frozen=True)
class WarehouseConfig:
    """A warehouse target and everything needed to open it."""

    kind: str = "duckdb"
    schema: str = "star"
    path: Path | None = None
    dsn: str | None = field(default=None, repr=False)
    redshift_iam_role: str = ""
    redshift_stage_url: str = ""
    redshift_copy_region: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, kind: str | None = None) -> WarehouseConfig:
        """The configured target; ``kind`` (a CLI flag) overrides ``settings.warehouse``."""
        kind = kind or settings.warehouse
        if kind not in KINDS:
            raise ConfigError(f"unknown warehouse {kind!r}; use one of {', '.join(KINDS)}")
        dsn = settings.warehouse_dsn_value
        if kind == "postgres" and not dsn:
            from superstore.clients import pg_config

            dsn = pg_config(settings).dsn  # the stack's server, schema `star`
        stage = settings.redshift_stage_url
        if kind == "redshift" and not stage and settings.lake_url.startswith("s3://"):
            stage = settings.lake_url.rstrip("/") + "/_stage"
        return cls(
            kind=kind,
            schema=settings.warehouse_schema,
            path=settings.warehouse_path or Path(settings.data_dir) / "warehouse.duckdb",
            dsn=dsn,
            redshift_iam_role=settings.redshift_iam_role,
            redshift_stage_url=stage,
            redshift_copy_region=settings.redshift_copy_region,
            s3_endpoint_url=settings.s3_endpoint_url or None,
            s3_region=settings.s3_region or None,
        )

    def open(self) -> Warehouse:
        """Connect (lazily) to the target; missing settings are a ConfigError."""
        if self.kind == "duckdb":
            from superstore.warehouse.duckdb import DuckDBWarehouse

            return DuckDBWarehouse(self.path or Path("warehouse.duckdb"), self.schema)
        if self.kind == "postgres":
            from superstore.clients import PgConfig
            from superstore.warehouse.postgres import PostgresWarehouse

            if not self.dsn:
                raise ConfigError("no PostgreSQL DSN", hint="set SUPERSTORE_WAREHOUSE_DSN")
            return PostgresWarehouse(PgConfig(self.dsn), self.schema)
        if self.kind == "redshift":
            from superstore.export.lake import LakeConfig
            from superstore.warehouse.redshift import RedshiftWarehouse, S3CopyLoader

            if not self.dsn:
                raise ConfigError(
                    "--warehouse redshift needs the cluster's address",
                    hint="set SUPERSTORE_WAREHOUSE_DSN=redshift://user:pass@host:5439/dev",
                )
            if not self.redshift_stage_url:
                raise ConfigError(
                    "--warehouse redshift stages batches on S3 for COPY",
                    hint="set SUPERSTORE_REDSHIFT_STAGE_URL=s3://bucket/prefix",
                )
            stage = LakeConfig(
                url=self.redshift_stage_url,
                s3_endpoint_url=self.s3_endpoint_url,
                s3_region=self.s3_region,
            )
            loader = S3CopyLoader(stage, self.redshift_iam_role, self.redshift_copy_region)
            return RedshiftWarehouse.connect_url(self.dsn, self.schema, loader)
        raise ConfigError(f"unknown warehouse {self.kind!r}; use one of {', '.join(KINDS)}")
