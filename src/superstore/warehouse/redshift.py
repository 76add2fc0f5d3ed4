"""Amazon Redshift as a warehouse: DDL with distribution and sort keys, COPY + MERGE.

Physical design (see ``schema.py`` and docs/warehouse.md): ``sales_fact`` and
``customer_dim`` are distributed on ``customer_key`` (the only dimension that
grows with the business, so its join stays node-local); the small dimensions
are ``DISTSTYLE ALL``. ``sales_fact`` is sorted on ``time_key``: dashboard
filters and the per-day DELETE of a reload touch only the blocks of those
days. Columns are AZ64 (numbers, dates), BYTEDICT (low-cardinality labels) or
ZSTD (text); leading sort key columns stay RAW.

A load writes the batch as Parquet under ``<stage_url>/<batch id>/<table>/``,
then ``COPY ... FORMAT AS PARQUET`` into temporary stage tables with the
cluster's IAM role, then runs the shared MERGE logic, all in one transaction,
then deletes the staged objects. The connection is ``redshift-connector``.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq

from superstore.errors import ConfigError
from superstore.export.lake import LakeConfig, lake_errors
from superstore.warehouse.postgres import SqlWarehouse, StageLoader

__all__ = ["RedshiftWarehouse", "S3CopyLoader", "copy_sql", "redshift_connect_args"]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def copy_sql(stage: str, url: str, iam_role: str, region: str = "") -> str:
    """``COPY`` of Parquet files under ``url`` into ``stage`` (columns matched by position)."""
    sql = f"COPY {stage} FROM {_literal(url)} IAM_ROLE {_literal(iam_role)} FORMAT AS PARQUET"
    return sql + (f" REGION {_literal(region)}" if region else "")


class S3CopyLoader:
    """Stages each table as Parquet on S3 and COPYs it in with the cluster's IAM role."""

    def __init__(self, stage: LakeConfig, iam_role: str, region: str = "") -> None:
        if stage.protocol != "s3":
            raise ConfigError(
                f"Redshift COPY reads from S3, not {stage.url!r}",
                hint="set SUPERSTORE_REDSHIFT_STAGE_URL=s3://bucket/prefix",
            )
        if not iam_role:
            raise ConfigError(
                "Redshift COPY needs an IAM role the cluster can assume",
                hint="set SUPERSTORE_REDSHIFT_IAM_ROLE=arn:aws:iam::<account>:role/<name>",
            )
        self.stage = stage
        self.iam_role = iam_role
        self.region = region
        self.batch = uuid.uuid4().hex[:16]
        self._written = False

    def load(self, warehouse: SqlWarehouse, cursor: Any, stage: str, data: pa.Table) -> None:
        """Write ``data`` to S3 as one Parquet object, then COPY it."""
        fs = self.stage.fs()
        table = stage.removeprefix("stage_")
        path = self.stage.path(self.batch, table, "part-0.parquet")
        with lake_errors(self.stage, f"staging {table}"), fs.open(path, "wb") as out:
            pq.write_table(data, out, compression="zstd")
        self._written = True
        prefix = f"s3://{self.stage.path(self.batch, table)}/"
        warehouse.execute(cursor, copy_sql(stage, prefix, self.iam_role, self.region))

    def cleanup(self) -> None:
        """Delete this batch's staged objects; a new batch id for the next load."""
        if self._written:
            fs = self.stage.fs()
            with contextlib.suppress(Exception):  # leftovers cost storage, never correctness
                fs.rm(self.stage.path(self.batch), recursive=True)
        self.batch = uuid.uuid4().hex[:16]
        self._written = False


def redshift_connect_args(url: str) -> dict[str, Any]:
    """``redshift://user:pass@host:5439/db?iam=true&...`` -> redshift_connector.connect kwargs.

    Query parameters pass through (``iam``, ``cluster_identifier``, ``region``,
    ``db_user``, ``profile``, ``ssl``...), so IAM authentication needs no code.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("redshift", "postgresql", "postgres") or not parts.hostname:
        raise ConfigError(
            "the Redshift warehouse DSN must look like redshift://user:pass@host:5439/dev",
            hint="set SUPERSTORE_WAREHOUSE_DSN",
        )
    args: dict[str, Any] = {"host": parts.hostname, "port": parts.port or 5439}
    args["database"] = parts.path.lstrip("/") or "dev"
    if parts.username:
        args["user"] = unquote(parts.username)
    if parts.password:
        args["password"] = unquote(parts.password)
    for key, value in parse_qsl(parts.query):
        lowered = value.lower()
        args[key] = lowered == "true" if lowered in ("true", "false") else value
    return args


class RedshiftWarehouse(SqlWarehouse):
    """The star schema on a Redshift cluster or Serverless workgroup."""

    def __init__(
        self,
        connect: Any,
        schema: str,
        loader: StageLoader,
        display: str = "redshift",
        transient: tuple[type[BaseException], ...] = (),
        driver_errors: tuple[type[BaseException], ...] = (),
        ddl_dialect: str = "redshift",
    ) -> None:
        super().__init__(
            connect, schema, "redshift", loader, display, transient, driver_errors, ddl_dialect
        )

    @classmethod
    def connect_url(cls, url: str, schema: str, loader: StageLoader) -> RedshiftWarehouse:
        """A warehouse reached through ``redshift-connector`` (the optional extra)."""
        try:
            import redshift_connector
        except ImportError:
            raise ConfigError(
                "install superstore[redshift] to use --warehouse redshift",
                hint="pip install 'superstore[redshift]'",
            ) from None
        args = redshift_connect_args(url)
        return cls(
            connect=lambda: redshift_connector.connect(**args),
            schema=schema,
            loader=loader,
            display=f"redshift:{args['host']}:{args['port']}/{args['database']} (schema {schema})",
            transient=(redshift_connector.InterfaceError, redshift_connector.OperationalError),
            driver_errors=(redshift_connector.Error,),
        )
