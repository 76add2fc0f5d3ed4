"""The star schema, described once.

Every rendering derives from the table descriptions below: the Arrow schema
the engines must produce, the DDL of each warehouse (DuckDB, PostgreSQL,
Redshift with distribution, sort keys and column encodings) and the column
lists of the merge statements. Money is DECIMAL(18,4) everywhere: sums stay
exact, no per-line rounding.

Surrogate keys are deterministic hashes of natural keys (see
``superstore.dialects``), so they are identical across reruns,
engines and warehouses; ``time_key`` is the date as ``yyyymmdd``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from superstore.errors import ConfigError

__all__ = [
    "COLUMNS_SQL",
    "CUSTOMER_DIM",
    "DAY_LOADS",
    "DIMENSIONS",
    "LOAD_LOG",
    "LOCATION_DIM",
    "PRODUCT_DIM",
    "SALES_FACT",
    "TABLES",
    "TIME_DIM",
    "Column",
    "StarTable",
    "create_statements",
    "upgrade_statements",
]

# logical type -> (DuckDB, PostgreSQL, Redshift, Arrow, Redshift encoding)
_TYPES: dict[str, tuple[str, str, str, pa.DataType, str]] = {
    "key": ("BIGINT", "bigint", "BIGINT", pa.int64(), "AZ64"),
    "int": ("INTEGER", "integer", "INTEGER", pa.int32(), "AZ64"),
    "date": ("DATE", "date", "DATE", pa.date32(), "AZ64"),
    "timestamp": ("TIMESTAMPTZ", "timestamptz", "TIMESTAMPTZ", pa.timestamp("us", "UTC"), "AZ64"),
    "money": ("DECIMAL(18,4)", "numeric(18,4)", "DECIMAL(18,4)", pa.decimal128(18, 4), "AZ64"),
    "rate": ("DECIMAL(6,4)", "numeric(6,4)", "DECIMAL(6,4)", pa.decimal128(6, 4), "AZ64"),
    # Redshift VARCHAR lengths are bytes: 4 bytes per character of the wire contract's maxima.
    "id": ("VARCHAR", "text", "VARCHAR(256)", pa.string(), "ZSTD"),
    "text": ("VARCHAR", "text", "VARCHAR(800)", pa.string(), "ZSTD"),
    "label": ("VARCHAR", "text", "VARCHAR(800)", pa.string(), "BYTEDICT"),  # few distinct values
}
_DIALECTS = ("duckdb", "postgres", "redshift")


@dataclass(frozen=True)
class Column:
    """One column: name, logical type (a key of ``_TYPES``), nullability."""

    name: str
    type: str
    nullable: bool = False

    @property
    def arrow(self) -> pa.DataType:
        """The Arrow type engines must produce for this column."""
        return _TYPES[self.type][3]

    def ddl(self, dialect: str, raw: bool = False) -> str:
        """Column definition; Redshift gets an encoding (RAW for the leading sort key)."""
        sql_type = _TYPES[self.type][_DIALECTS.index(dialect)]
        text = f"{self.name} {sql_type}" + ("" if self.nullable else " NOT NULL")
        if dialect == "redshift":
            text += f" ENCODE {'RAW' if raw else _TYPES[self.type][4]}"
        return text


@dataclass(frozen=True)
class StarTable:
    """A warehouse table: columns, primary key and Redshift physical design.

    ``dist`` is ``"ALL"`` (small dimension copied to every node, so joins to it
    never move data) or the distribution key column. ``sort`` is the compound
    sort key. ``natural`` is the natural key the surrogate key hashes.
    """

    name: str
    columns: tuple[Column, ...]
    key: str
    natural: tuple[str, ...]
    dist: str = "ALL"
    sort: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        """Column names in table order."""
        return [c.name for c in self.columns]

    @property
    def arrow_schema(self) -> pa.Schema:
        """The schema every engine's output for this table is cast to."""
        return pa.schema([pa.field(c.name, c.arrow, nullable=c.nullable) for c in self.columns])

    def create_sql(self, dialect: str, schema: str) -> str:
        """``CREATE TABLE IF NOT EXISTS`` for one warehouse dialect."""
        if dialect not in _DIALECTS:
            raise ConfigError(f"no DDL for warehouse dialect {dialect!r}")
        leading_sort = self.sort[0] if self.sort else None
        parts = [c.ddl(dialect, raw=c.name == leading_sort) for c in self.columns]
        # DuckDB: the fact table's uniqueness is a data-quality check, not an index
        # (an ART index on 10M text keys costs more than the whole load).
        if not (dialect == "duckdb" and self is SALES_FACT):
            parts.append(f"PRIMARY KEY ({self.key})")
        body = ",\n    ".join(parts)
        sql = f"CREATE TABLE IF NOT EXISTS {schema}.{self.name} (\n    {body}\n)"
        if dialect == "redshift":
            sql += (
                " DISTSTYLE ALL" if self.dist == "ALL" else f" DISTSTYLE KEY DISTKEY ({self.dist})"
            )
            if self.sort:
                sql += f" COMPOUND SORTKEY ({', '.join(self.sort)})"
        return sql


TIME_DIM = StarTable(
    name="time_dim",
    columns=(
        Column("time_key", "int"),
        Column("full_date", "date"),
        Column("year", "int"),
        Column("quarter", "int"),
        Column("month", "int"),
        Column("day", "int"),
        Column("weekday", "int"),  # ISO: 1 = Monday .. 7 = Sunday
    ),
    key="time_key",
    natural=("full_date",),
    sort=("time_key",),
)

CUSTOMER_DIM = StarTable(
    name="customer_dim",
    columns=(
        Column("customer_key", "key"),
        Column("customer_id", "id"),
        Column("customer_name", "text"),
        Column("segment", "label"),
        Column("first_order_date", "date"),
        Column("last_order_date", "date"),
    ),
    key="customer_key",
    natural=("customer_id",),
    # The one dimension that grows with the business: distributed like the facts.
    dist="customer_key",
    sort=("customer_key",),
)

PRODUCT_DIM = StarTable(
    name="product_dim",
    columns=(
        Column("product_key", "key"),
        Column("product_id", "id"),
        Column("product_name", "text"),
        Column("category", "label"),
        Column("sub_category", "label"),
        Column("first_order_date", "date"),
        Column("last_order_date", "date"),
    ),
    key="product_key",
    natural=("product_id", "product_name"),  # one row per product VERSION
    sort=("product_key",),
)

LOCATION_DIM = StarTable(
    name="location_dim",
    columns=(
        Column("location_key", "key"),
        Column("country", "label"),
        Column("region", "label"),
        Column("state", "label"),
        Column("city", "text"),
        Column("postal_code", "id", nullable=True),
    ),
    key="location_key",
    natural=("country", "region", "state", "city", "postal_code"),
    sort=("location_key",),
)

SALES_FACT = StarTable(
    name="sales_fact",
    columns=(
        Column("line_key", "id"),  # order_id#line_number: the natural key of a line
        Column("order_id", "id"),
        Column("line_number", "int"),
        Column("time_key", "int"),
        Column("customer_key", "key"),
        Column("product_key", "key"),
        Column("location_key", "key"),
        Column("ship_mode", "label"),
        Column("ship_date", "date"),
        Column("sales", "money"),
        Column("quantity", "int", nullable=True),
        Column("discount", "rate", nullable=True),
        Column("profit", "money", nullable=True),
        # After cancellations and returns: sold | cancelled | returned | partly returned.
        # A cancelled line stays, flagged, and counts in no sales figure of the dashboards.
        Column("status", "label"),
        Column("returned_quantity", "int", nullable=True),
        Column("returned_sales", "money"),
    ),
    key="line_key",
    natural=("order_id", "line_number"),
    dist="customer_key",
    sort=("time_key",),
)

DIMENSIONS: tuple[StarTable, ...] = (TIME_DIM, CUSTOMER_DIM, PRODUCT_DIM, LOCATION_DIM)
TABLES: tuple[StarTable, ...] = (*DIMENSIONS, SALES_FACT)

# Not a star table: one row per committed merge, written in the merge's transaction. Its
# newest row is what the dashboards' readers compare to know the warehouse changed, and
# when ("data as of"), on every target alike (Redshift has no cheap change counter).
LOAD_LOG = StarTable(
    name="load_log",
    columns=(
        Column("load_no", "key"),
        Column("loaded_at", "timestamp"),
        Column("days", "int"),
        Column("facts", "key"),
    ),
    key="load_no",
    natural=("load_no",),
)

# Not a star table either: the change mark of each day as loaded (the lake partition's),
# merged in the load's transaction, so the sync knows which days the warehouse is behind.
DAY_LOADS = StarTable(
    name="day_loads",
    columns=(
        Column("time_key", "int"),
        Column("change_mark", "key"),
        Column("load_no", "key"),
    ),
    key="time_key",
    natural=("time_key",),
)


def create_statements(dialect: str, schema: str) -> list[str]:
    """Everything ``create_schema`` runs, in order (idempotent)."""
    return [f"CREATE SCHEMA IF NOT EXISTS {schema}"] + [
        t.create_sql(dialect, schema) for t in (*TABLES, LOAD_LOG, DAY_LOADS)
    ]


# Columns added after a warehouse may have been created, with the value its existing rows
# take (what a line loaded before cancellations and returns existed was: sold, nothing back).
_ADDED_LATER = {"status": "'sold'", "returned_quantity": "NULL", "returned_sales": "0"}
COLUMNS_SQL = (
    "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = '{s}'"
)


def upgrade_statements(dialect: str, schema: str, existing: set[tuple[str, str]]) -> list[str]:
    """ALTERs adding the columns an older warehouse lacks (``existing``: its (table, column))."""
    out = []
    tables = {t for t, _ in existing}
    for table in TABLES:
        if table.name not in tables:
            continue  # created whole by create_statements
        for column in table.columns:
            if (table.name, column.name) in existing:
                continue
            if column.name not in _ADDED_LATER:
                raise ConfigError(
                    f"warehouse table {schema}.{table.name} lacks column {column.name}",
                    hint="drop the warehouse schema and load it again: `superstore etl --all`",
                )
            sql_type = _TYPES[column.type][_DIALECTS.index(dialect)]
            added = f"{column.name} {sql_type} DEFAULT {_ADDED_LATER[column.name]}"
            if dialect == "redshift":
                added += f" ENCODE {_TYPES[column.type][4]}"
            out.append(f"ALTER TABLE {schema}.{table.name} ADD COLUMN {added}")
    return out
