"""Star-schema warehouses: one small interface, three targets (DuckDB, PostgreSQL, Redshift).

See docs/warehouse.md for the schema, the keys and the physical design.
"""

from superstore.warehouse.base import Closeable, Query, StarBatch, Warehouse, conform, time_key
from superstore.warehouse.config import WarehouseConfig
from superstore.warehouse.dialects import render, surrogate_key_sql
from superstore.warehouse.duckdb import DuckDBWarehouse
from superstore.warehouse.merge import merge_statements
from superstore.warehouse.postgres import CopyFromStdinLoader, PostgresWarehouse, SqlWarehouse
from superstore.warehouse.redshift import RedshiftWarehouse, S3CopyLoader, copy_sql
from superstore.warehouse.schema import DIMENSIONS, TABLES, StarTable, create_statements

__all__ = [
    "DIMENSIONS",
    "TABLES",
    "Closeable",
    "CopyFromStdinLoader",
    "DuckDBWarehouse",
    "PostgresWarehouse",
    "Query",
    "RedshiftWarehouse",
    "S3CopyLoader",
    "SqlWarehouse",
    "StarBatch",
    "StarTable",
    "Warehouse",
    "WarehouseConfig",
    "conform",
    "copy_sql",
    "create_statements",
    "merge_statements",
    "render",
    "surrogate_key_sql",
    "time_key",
]
