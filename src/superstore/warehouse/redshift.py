"""Amazon Redshift as a warehouse: config, loader (COPY + MERGE) and reader (dashboards).

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

The dashboards can read Redshift too: the reader runs the pre-aggregate
queries rendered for Redshift in one transaction (Redshift is serializable)
and knows the warehouse changed from the load log every merge appends to.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from superstore.dialects import render
from superstore.errors import ConfigError, TransientError
from superstore.settings import Settings
from superstore.storage import LakeConfig, lake_errors
from superstore.warehouse.base import TargetConfig, WarehouseReader
from superstore.warehouse.postgres import store
from superstore.warehouse.schema import LOAD_LOG
from superstore.warehouse.sqlload import SqlWarehouse, StageLoader

T = TypeVar("T")

__all__ = [
    "RedshiftReader",
    "RedshiftTarget",
    "RedshiftWarehouse",
    "S3CopyLoader",
    "copy_sql",
    "redshift_connect_args",
]


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
        driver = _driver()
        args = redshift_connect_args(url)
        return cls(
            connect=lambda: driver.connect(**args),
            schema=schema,
            loader=loader,
            display=f"{_where(args)} (schema {schema})",
            transient=(driver.InterfaceError, driver.OperationalError),
            driver_errors=(driver.Error,),
        )


def _driver() -> Any:
    """``redshift_connector``; a clear ConfigError when the optional extra is missing."""
    try:
        import redshift_connector  # lazy: an optional extra (superstore[redshift])
    except ImportError:
        raise ConfigError(
            "install superstore[redshift] to use --warehouse redshift",
            hint="pip install 'superstore[redshift]'",
        ) from None
    return redshift_connector


def _where(args: dict[str, Any]) -> str:
    return f"redshift:{args['host']}:{args['port']}/{args['database']}"


@dataclass(frozen=True)
class RedshiftReader(WarehouseReader):
    """Reads the star schema over a DB-API connection, statements rendered for ``dialect``.

    ``dialect`` is "redshift" for a real cluster; tests read PostgreSQL with
    "postgres" to run the same code path (as the loader's tests do).
    """

    connect: Callable[[], Any] = field(repr=False)
    schema: str
    where: str
    dialect: str = "redshift"
    transient: tuple[type[BaseException], ...] = ()

    @property
    def display(self) -> str:
        """The cluster (no credentials)."""
        return f"{self.where} schema {self.schema}"

    def _run(self, action: Callable[[Any], T]) -> T:
        try:
            conn = self.connect()
        except self.transient as exc:
            raise TransientError(f"warehouse {self.display} is unreachable") from exc
        try:
            cursor = conn.cursor()
            try:
                return action(cursor)
            finally:
                cursor.close()
                with contextlib.suppress(Exception):
                    conn.rollback()  # read only: nothing to keep
        finally:
            conn.close()

    def version(self) -> str | None:
        """The newest load's number, from the load log every merge appends to."""

        def read(cursor: Any) -> str | None:
            try:
                cursor.execute(f"SELECT max(load_no), count(*) FROM {self.schema}.{LOAD_LOG.name}")
            except self.transient:
                raise
            except Exception:  # no load log yet: nothing was ever loaded
                return None
            row = cursor.fetchone()
            return f"redshift:load:{row[0]}" if row and row[1] else None

        return self._run(read)

    def materialize(self, local: duckdb.DuckDBPyConnection, queries: dict[str, str]) -> None:
        """Run every aggregate in one transaction and keep each result in the local DuckDB."""

        def read(cursor: Any) -> None:
            for name, text in queries.items():
                try:
                    cursor.execute(render(text.format(s=self.schema), self.dialect))
                except self.transient:
                    raise
                except Exception as exc:
                    raise TransientError(f"{self.display} cannot be read yet: {exc}") from exc
                columns = [d[0] for d in cursor.description or []]
                rows = cursor.fetchall()
                store(
                    local, name, pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
                )

        self._run(read)


@dataclass(frozen=True)
class RedshiftTarget(TargetConfig):
    """``SUPERSTORE_WAREHOUSE=redshift``: a cluster or Serverless workgroup, loaded from S3."""

    kind: ClassVar[str] = "redshift"
    url: str = field(repr=False)
    schema: str = "star"
    iam_role: str = ""
    stage_url: str = ""
    copy_region: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The cluster's URL, COPY's IAM role and the S3 stage (default ``<lake>/_stage``)."""
        stage = settings.redshift_stage_url
        if not stage and settings.lake_url.startswith("s3://"):
            stage = settings.lake_url.rstrip("/") + "/_stage"
        return cls(
            url=settings.warehouse_dsn_value or "",
            schema=settings.warehouse_schema,
            iam_role=settings.redshift_iam_role,
            stage_url=stage,
            copy_region=settings.redshift_copy_region,
            s3_endpoint_url=settings.s3_endpoint_url or None,
            s3_region=settings.s3_region or None,
        )

    def _url(self) -> str:
        if not self.url:
            raise ConfigError(
                "--warehouse redshift needs the cluster's address",
                hint="set SUPERSTORE_WAREHOUSE_DSN=redshift://user:pass@host:5439/dev",
            )
        return self.url

    def open(self) -> RedshiftWarehouse:
        """The loader: batches staged as Parquet on S3, COPY, MERGE."""
        url = self._url()
        if not self.stage_url:
            raise ConfigError(
                "--warehouse redshift stages batches on S3 for COPY",
                hint="set SUPERSTORE_REDSHIFT_STAGE_URL=s3://bucket/prefix",
            )
        stage = LakeConfig(
            url=self.stage_url, s3_endpoint_url=self.s3_endpoint_url, s3_region=self.s3_region
        )
        loader = S3CopyLoader(stage, self.iam_role, self.copy_region)
        return RedshiftWarehouse.connect_url(url, self.schema, loader)

    def reader(self) -> RedshiftReader:
        """The read side, through ``redshift-connector``."""
        driver = _driver()
        args = redshift_connect_args(self._url())
        return RedshiftReader(
            connect=lambda: driver.connect(**args),
            schema=self.schema,
            where=_where(args),
            transient=(driver.InterfaceError, driver.OperationalError),
        )
