"""Star-schema warehouses: one small interface, three targets (DuckDB, PostgreSQL, Redshift).

Each target (`duckdb`, `postgres`, `redshift` modules) owns its store: a config
that builds the loader the ETL writes through and the reader the dashboards
read. See docs/warehouse.md for the schema, the keys and the physical design.
"""

from superstore.warehouse.base import (
    Query,
    StarBatch,
    TargetConfig,
    Warehouse,
    WarehouseReader,
    conform,
    time_key,
)
from superstore.warehouse.duckdb import DuckDBReader, DuckDBTarget, DuckDBWarehouse
from superstore.warehouse.merge import merge_statements
from superstore.warehouse.postgres import PostgresReader, PostgresTarget, PostgresWarehouse
from superstore.warehouse.redshift import (
    RedshiftReader,
    RedshiftTarget,
    RedshiftWarehouse,
    S3CopyLoader,
    copy_sql,
)
from superstore.warehouse.schema import DIMENSIONS, LOAD_LOG, TABLES, StarTable, create_statements
from superstore.warehouse.sqlload import CopyFromStdinLoader, SqlWarehouse
from superstore.warehouse.targets import TARGETS, warehouse_config

__all__ = [
    "DIMENSIONS",
    "LOAD_LOG",
    "TABLES",
    "TARGETS",
    "CopyFromStdinLoader",
    "DuckDBReader",
    "DuckDBTarget",
    "DuckDBWarehouse",
    "PostgresReader",
    "PostgresTarget",
    "PostgresWarehouse",
    "Query",
    "RedshiftReader",
    "RedshiftTarget",
    "RedshiftWarehouse",
    "S3CopyLoader",
    "SqlWarehouse",
    "StarBatch",
    "StarTable",
    "TargetConfig",
    "Warehouse",
    "WarehouseReader",
    "conform",
    "copy_sql",
    "create_statements",
    "merge_statements",
    "time_key",
    "warehouse_config",
]
