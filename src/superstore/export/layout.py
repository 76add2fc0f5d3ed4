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
    "aggregate_sql",
]

SCHEMA_VERSION = 1
MANIFEST_NAME = "_manifest.json"

TEXT = pa.string()
MONEY = pa.decimal128(18, 4)
RATE = pa.decimal128(6, 4)


@dataclass(frozen=True)
class Column:
    """One column: CSV header, Parquet name, SQL expression, Arrow type, nullability."""

    header: str
    name: str
    sql: str
    type: pa.DataType = TEXT
    nullable: bool = False


@dataclass(frozen=True)
class Table:
    """One exported table: its columns and the FROM/WHERE/ORDER BY selecting a day's rows.

    ``source`` contains a ``{day}`` placeholder that receives a quoted date literal.
    """

    name: str
    columns: tuple[Column, ...]
    source: str

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

    def select_sql(self, day: dt.date) -> str:
        """The SELECT whose rows are the file's rows for ``day``, columns aliased to headers."""
        cols = ", ".join(f'{c.sql} AS "{c.header}"' for c in self.columns)
        return f"SELECT {cols} {self.source.format(day=_date_literal(day))}"

    def copy_sql(self, day: dt.date) -> str:
        """Server-side COPY of the day's rows as CSV with a header row."""
        return f"COPY ({self.select_sql(day)}) TO STDOUT WITH (FORMAT csv, HEADER)"

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


def _date_literal(day: dt.date) -> str:
    # COPY takes no bind parameters; a date's ISO form is digits and dashes, safe to inline.
    # fromordinal() drops any time part a datetime would add to isoformat().
    return f"DATE '{dt.date.fromordinal(day.toordinal()).isoformat()}'"


# The day's lines: orders dated D joined to their lines; only orders that have lines count.
_DAY_LINES = """FROM orders o
JOIN order_lines l ON l.order_id = o.order_id
WHERE o.order_date = {day}"""
# Names and categories come from the customer row and the product VERSION of the line.
_ORDER_JOINS = """JOIN customers c ON c.customer_id = o.customer_id
JOIN products p ON p.product_id = l.product_id AND p.product_name = l.product_name
WHERE"""

ORDERS = Table(
    name="orders",
    columns=(
        Column("Row ID", "row_id", "l.row_id", pa.int32(), nullable=True),
        Column("Order ID", "order_id", "o.order_id"),
        Column("Order Date", "order_date", "o.order_date", pa.date32()),
        Column("Ship Date", "ship_date", "o.ship_date", pa.date32()),
        Column("Ship Mode", "ship_mode", "o.ship_mode"),
        Column("Customer ID", "customer_id", "o.customer_id"),
        Column("Customer Name", "customer_name", "c.customer_name"),
        Column("Segment", "segment", "c.segment"),
        Column("Country", "country", "o.country"),
        Column("City", "city", "o.city"),
        Column("State", "state", "o.state"),
        Column("Postal Code", "postal_code", "o.postal_code", nullable=True),
        Column("Region", "region", "o.region"),
        Column("Product ID", "product_id", "l.product_id"),
        Column("Category", "category", "p.category"),
        Column("Sub-Category", "sub_category", "p.sub_category"),
        Column("Product Name", "product_name", "l.product_name"),
        Column("Sales", "sales", "l.sales", MONEY),
        Column("Quantity", "quantity", "l.quantity", pa.int32(), nullable=True),
        Column("Discount", "discount", "l.discount", RATE, nullable=True),
        Column("Profit", "profit", "l.profit", MONEY, nullable=True),
        Column("Line Number", "line_number", "l.line_number", pa.int32()),
    ),
    source=f"""{_DAY_LINES.replace("WHERE", _ORDER_JOINS)}
ORDER BY o.order_id, l.line_number""",
)

CUSTOMERS = Table(
    name="customers",
    columns=(
        Column("Customer ID", "customer_id", "c.customer_id"),
        Column("Customer Name", "customer_name", "c.customer_name"),
        Column("Segment", "segment", "c.segment"),
    ),
    source="""FROM customers c
WHERE c.customer_id IN (SELECT o.customer_id FROM orders o WHERE o.order_date = {day})
ORDER BY c.customer_id""",
)

PRODUCTS = Table(
    name="products",
    columns=(
        Column("Product ID", "product_id", "p.product_id"),
        Column("Product Name", "product_name", "p.product_name"),
        Column("Category", "category", "p.category"),
        Column("Sub-Category", "sub_category", "p.sub_category"),
    ),
    # GROUP BY first: one hash aggregate over the day's lines beats a semi-join's hash of them.
    source=f"""FROM (SELECT l.product_id, l.product_name {_DAY_LINES} GROUP BY 1, 2) d
JOIN products p ON p.product_id = d.product_id AND p.product_name = d.product_name
ORDER BY p.product_id, p.product_name""",
)

TABLES: tuple[Table, ...] = (ORDERS, CUSTOMERS, PRODUCTS)
DATA_FILES: tuple[str, ...] = tuple(name for t in TABLES for name in (t.csv_name, t.parquet_name))


def aggregate_sql(day: dt.date) -> str:
    """Lines and exact sales of ``day`` straight from the tables, to cross-check the files."""
    return "SELECT count(*), coalesce(sum(l.sales), 0) " + _DAY_LINES.format(day=_date_literal(day))
