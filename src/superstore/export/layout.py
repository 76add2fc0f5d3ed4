"""The lake layout contract: files of a partition, their columns, SQL and Arrow types.

Others build on this layout (the ETL reads it), so it changes only with
``SCHEMA_VERSION``. Each file is described once here, as a list of columns,
and the COPY query, the CSV header and the Parquet schema are derived from that
single description so the three cannot drift apart. CSV headers use the seed's
column names; Parquet uses snake_case. ``docs/lake.md`` documents the result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pa_csv

from superstore.oltp.exports import EXPORTED_COLUMNS, day_copy_sql

__all__ = [
    "CUSTOMERS",
    "DATA_FILES",
    "MANIFEST_NAME",
    "ORDERS",
    "PRODUCTS",
    "SCHEMA_VERSION",
    "TABLES",
    "Column",
    "Table",
]

# 2: the orders files carry each line's Status, Returned Quantity and Returned Sales,
# and the manifest its day's change mark and cancelled / returned figures.
SCHEMA_VERSION = 2
MANIFEST_NAME = "_manifest.json"

TEXT = pa.string()
MONEY = pa.decimal128(18, 4)
RATE = pa.decimal128(6, 4)


@dataclass(frozen=True)
class Column:
    """One column: CSV header, Parquet name, Arrow type, nullability."""

    header: str
    name: str
    type: pa.DataType = TEXT
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    """One exported table and its columns; the OLTP store says where its rows come from."""

    name: str
    columns: tuple[Column, ...]

    def __post_init__(self) -> None:
        exported = EXPORTED_COLUMNS[self.name]
        if {c.name for c in self.columns} - set(exported):
            raise TypeError(f"{self.name}: the OLTP store exports only {exported}")

    @property
    def csv_name(self) -> str:
        """File name of the CSV rendering."""
        return f"{self.name}.csv"

    @property
    def parquet_name(self) -> str:
        """File name of the Parquet rendering."""
        return f"{self.name}.parquet"

    @property
    def headers(self) -> list[str]:
        """CSV header, in file order."""
        return [c.header for c in self.columns]

    @property
    def dictionary_columns(self) -> list[str]:
        """Text columns worth dictionary-encoding in Parquet (all but near-unique ids)."""
        return [c.name for c in self.columns if c.type == TEXT and c.name != "order_id"]

    @property
    def schema(self) -> pa.Schema:
        """Parquet schema, snake_case names, exact decimals."""
        return pa.schema([pa.field(c.name, c.type, nullable=c.nullable) for c in self.columns])

    def copy_sql(self, day: dt.date) -> str:
        """Server-side COPY of the day's rows as CSV with a header row."""
        return day_copy_sql(self.name, day, [(c.name, c.header) for c in self.columns])

    def csv_options(self, block_size: int = 1 << 20, threads: bool = True) -> dict[str, object]:
        """pyarrow.csv reader options that read this file's CSV back exactly.

        COPY writes NULL as an unquoted empty field and an empty string as ``""``,
        so only unquoted empty fields are null; "NA" or "null" stay text.
        """
        return {
            "read_options": pa_csv.ReadOptions(block_size=block_size, use_threads=threads),
            "convert_options": pa_csv.ConvertOptions(
                column_types={c.header: c.type for c in self.columns},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        }

    def conform(self, data: pa.Table | pa.RecordBatch) -> pa.Table:
        """CSV-named Arrow data -> the Parquet schema; raises ValueError on a wrong layout."""
        if data.schema.names != self.headers:
            raise ValueError(f"{self.csv_name}: header {data.schema.names} != {self.headers}")
        table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
        return table.rename_columns([c.name for c in self.columns]).cast(self.schema)


ORDERS = Table(
    name="orders",
    columns=(
        Column("Row ID", "row_id", pa.int32(), nullable=True),
        Column("Order ID", "order_id"),
        Column("Order Date", "order_date", pa.date32()),
        Column("Ship Date", "ship_date", pa.date32()),
        Column("Ship Mode", "ship_mode"),
        Column("Customer ID", "customer_id"),
        Column("Customer Name", "customer_name"),
        Column("Segment", "segment"),
        Column("Country", "country"),
        Column("City", "city"),
        Column("State", "state"),
        Column("Postal Code", "postal_code", nullable=True),
        Column("Region", "region"),
        Column("Product ID", "product_id"),
        Column("Category", "category"),
        Column("Sub-Category", "sub_category"),
        Column("Product Name", "product_name"),
        Column("Sales", "sales", MONEY),
        Column("Quantity", "quantity", pa.int32(), nullable=True),
        Column("Discount", "discount", RATE, nullable=True),
        Column("Profit", "profit", MONEY, nullable=True),
        Column("Line Number", "line_number", pa.int32()),
        Column("Status", "status"),  # sold | cancelled | returned | partly returned
        Column("Returned Quantity", "returned_quantity", pa.int32(), nullable=True),
        Column("Returned Sales", "returned_sales", MONEY),
    ),
)

CUSTOMERS = Table(
    name="customers",
    columns=(
        Column("Customer ID", "customer_id"),
        Column("Customer Name", "customer_name"),
        Column("Segment", "segment"),
    ),
)

PRODUCTS = Table(
    name="products",
    columns=(
        Column("Product ID", "product_id"),
        Column("Product Name", "product_name"),
        Column("Category", "category"),
        Column("Sub-Category", "sub_category"),
    ),
)

TABLES: tuple[Table, ...] = (ORDERS, CUSTOMERS, PRODUCTS)
DATA_FILES: tuple[str, ...] = tuple(name for t in TABLES for name in (t.csv_name, t.parquet_name))
