"""Helpers of the dashboard tests: new orders, a star schema built straight from lines, money.

Uses the warehouse's own DDL (`superstore.warehouse.schema`), so the tests
read exactly the tables the ETL writes; keys are simple ranks here, which the
dashboards never interpret.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

from superstore.contract import OrderLine
from superstore.warehouse.schema import create_statements

_COLUMNS = (
    "order_id", "line_number", "order_date", "ship_date", "ship_mode", "customer_id",
    "customer_name", "segment", "country", "city", "state", "postal_code", "region",
    "product_id", "category", "sub_category", "product_name", "sales", "quantity",
    "discount", "profit",
)  # fmt: skip

_LOAD = [
    """INSERT INTO star.time_dim
       SELECT DISTINCT CAST(strftime(order_date, '%Y%m%d') AS INTEGER), order_date,
              year(order_date), quarter(order_date), month(order_date), day(order_date),
              isodow(order_date)
       FROM src""",
    """INSERT INTO star.customer_dim
       SELECT row_number() OVER (ORDER BY customer_id), customer_id, any_value(customer_name),
              any_value(segment), min(order_date), max(order_date)
       FROM src GROUP BY customer_id""",
    """INSERT INTO star.product_dim
       SELECT row_number() OVER (ORDER BY product_id, product_name), product_id, product_name,
              any_value(category), any_value(sub_category), min(order_date), max(order_date)
       FROM src GROUP BY product_id, product_name""",
    """INSERT INTO star.location_dim
       SELECT row_number() OVER (ORDER BY country, region, state, city, postal_code), * FROM
       (SELECT DISTINCT country, region, state, city, postal_code FROM src)""",
    """INSERT INTO star.sales_fact
       SELECT s.order_id || '#' || s.line_number, s.order_id, s.line_number,
              CAST(strftime(s.order_date, '%Y%m%d') AS INTEGER), c.customer_key, p.product_key,
              l.location_key, s.ship_mode, s.ship_date, s.sales, s.quantity, s.discount, s.profit,
              s.status, s.returned_quantity, s.returned_sales
       FROM src s
       JOIN star.customer_dim c USING (customer_id)
       JOIN star.product_dim p USING (product_id, product_name)
       JOIN star.location_dim l ON l.country = s.country AND l.region = s.region
            AND l.state = s.state AND l.city = s.city
            AND l.postal_code IS NOT DISTINCT FROM s.postal_code""",
]


Outcome = tuple[str, int | None, Decimal]  # status, returned quantity, returned sales
SOLD: Outcome = ("sold", None, Decimal(0))


def build_star(
    path: Path, lines: Sequence[OrderLine], outcomes: Mapping[str, Outcome] | None = None
) -> Path:
    """Create (or replace) a DuckDB star schema holding `lines`; returns the file.

    `outcomes` gives some lines (by `OrderLine.key`) a status other than sold.
    """
    path.unlink(missing_ok=True)
    rows: dict[str, list[object]] = {c: [getattr(x, c) for x in lines] for c in _COLUMNS}
    fates = [(outcomes or {}).get(x.key, SOLD) for x in lines]
    rows["status"] = [f[0] for f in fates]
    rows["returned_quantity"] = [f[1] for f in fates]
    rows["returned_sales"] = [f[2] for f in fates]
    table = pa.table(rows)  # Decimals arrive as Arrow decimals, dates as dates
    with duckdb.connect(str(path)) as con:
        for statement in create_statements("duckdb", "star"):
            con.execute(statement)
        con.register("src", table)
        for statement in _LOAD:
            con.execute(statement)
    return path


def money(value: Decimal | str | int) -> str:
    """How the pages show money: cents rounded half-up, thousands separators."""
    cents = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"-${-cents:,.2f}" if cents < 0 else f"${cents:,.2f}"


def new_order(
    base: OrderLine, order_id: str, day: dt.date, lines: int = 1, unit: str = "100.0001", **fields
) -> list[OrderLine]:
    """An order of `lines` lines dated `day`, copied from `base`; line n sells n x `unit`."""
    return [
        base.model_copy(
            update={
                "order_id": order_id,
                "line_number": n,
                "row_id": None,
                "order_date": day,
                "ship_date": day,
                "sales": Decimal(unit) * n,
                **fields,
            }
        )
        for n in range(1, lines + 1)
    ]
