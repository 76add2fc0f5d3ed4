"""Reruns, corrections, refusals and rollbacks, with the real export on a fresh database."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from superstore.clients import PgConfig
from superstore.contract import OrderLine
from superstore.etl import DataQualityError, DuckDBEngine, run_etl, select_days
from superstore.export import VerifyError, export_days, read_manifest
from superstore.oltp import load_lines_direct
from superstore.storage import LakeConfig
from superstore.warehouse import TABLES, DuckDBWarehouse, StarBatch, time_key

DAYS = (dt.date(2014, 9, 1), dt.date(2017, 9, 2), dt.date(2016, 3, 18))


@dataclass
class Setup:
    pg: PgConfig
    lake: LakeConfig
    warehouse: DuckDBWarehouse

    def load(self, days=DAYS):
        return run_etl(self.lake, DuckDBEngine(), self.warehouse, list(days))

    def contents(self) -> dict[str, list[tuple]]:
        return {
            t.name: self.warehouse.query(f"SELECT * FROM star.{t.name} ORDER BY 1") for t in TABLES
        }

    def day_total(self, day: dt.date) -> tuple[int, Decimal]:
        ((n, s),) = self.warehouse.query(
            f"SELECT COUNT(*), COALESCE(SUM(sales), 0) FROM star.sales_fact "
            f"WHERE time_key = {time_key(day)}"
        )
        return n, s


@pytest.fixture
def setup(fresh_pg: PgConfig, seed_lines: list[OrderLine], tmp_path: Path) -> Iterator[Setup]:
    load_lines_direct(fresh_pg, [x for x in seed_lines if x.order_date in DAYS])
    lake = LakeConfig(url=str(tmp_path / "lake"))
    export_days(fresh_pg, lake, list(DAYS))
    with DuckDBWarehouse(tmp_path / "w.duckdb") as warehouse:
        yield Setup(fresh_pg, lake, warehouse)


def test_rerun_changes_nothing(setup: Setup) -> None:
    first = setup.load()
    before = setup.contents()
    again = setup.load()
    assert setup.contents() == before
    assert (again.lines, again.sales) == (first.lines, first.sales)
    for day in DAYS:
        manifest = read_manifest(setup.lake, day)
        assert setup.day_total(day) == (manifest.lines, manifest.sales)


def test_loading_days_in_any_order_gives_the_same_warehouse(setup: Setup, tmp_path: Path) -> None:
    setup.load()
    together = setup.contents()
    with DuckDBWarehouse(tmp_path / "one-by-one.duckdb") as other:
        for day in reversed(DAYS):
            run_etl(setup.lake, DuckDBEngine(), other, [day])
        assert {
            t.name: other.query(f"SELECT * FROM star.{t.name} ORDER BY 1") for t in TABLES
        } == together


def test_corrected_partition_replaces_its_day(setup: Setup) -> None:
    setup.load()
    day = DAYS[1]
    other = setup.day_total(DAYS[0])
    with setup.pg.connect() as conn:
        (victim,) = conn.execute(
            "SELECT l.order_id || '#' || l.line_number FROM order_lines l JOIN orders o "
            "USING (order_id) WHERE o.order_date = %s ORDER BY 1 LIMIT 1",
            [day],
        ).fetchone()
        order_id, line = victim.split("#")
        conn.execute(
            "DELETE FROM order_lines WHERE order_id = %s AND line_number = %s",
            [order_id, int(line)],
        )
        conn.execute(
            "UPDATE order_lines SET sales = sales + 0.0001 WHERE order_id IN "
            "(SELECT order_id FROM orders WHERE order_date = %s)",
            [day],
        )
    (manifest,) = export_days(setup.pg, setup.lake, [day])
    setup.load([day])
    assert setup.day_total(day) == (manifest.lines, manifest.sales)
    assert setup.warehouse.query(
        f"SELECT COUNT(*) FROM star.sales_fact WHERE line_key = '{victim}'"
    ) == [(0,)]
    assert setup.day_total(DAYS[0]) == other


def test_a_line_moved_to_another_day_is_not_counted_twice(setup: Setup) -> None:
    setup.load()
    with setup.pg.connect() as conn:
        (order_id,) = conn.execute(
            "SELECT order_id FROM orders WHERE order_date = %s ORDER BY 1 LIMIT 1", [DAYS[0]]
        ).fetchone()
        conn.execute(
            "UPDATE orders SET order_date = %s, ship_date = %s WHERE order_id = %s",
            [DAYS[2], DAYS[2], order_id],
        )
    export_days(setup.pg, setup.lake, [DAYS[2]])  # only the new day is re-exported
    setup.load([DAYS[2]])
    rows = setup.warehouse.query(
        f"SELECT time_key, COUNT(*) FROM star.sales_fact WHERE order_id = '{order_id}' GROUP BY 1"
    )
    assert [k for k, _ in rows] == [time_key(DAYS[2])]


def _tamper(lake: LakeConfig, day: dt.date) -> None:
    """Change one sale in orders.parquet, leaving the manifest as it was."""
    path = Path(lake.partition_path(day)) / "orders.parquet"
    table = pq.read_table(path)
    sales = table["sales"].to_pylist()
    sales[0] += Decimal(1)
    index = table.schema.get_field_index("sales")
    table = table.set_column(index, "sales", pc.cast(sales, table.schema.field("sales").type))
    pq.write_table(table, path)


def test_partition_not_matching_its_manifest_is_refused_by_name(setup: Setup) -> None:
    _tamper(setup.lake, DAYS[1])
    with pytest.raises(VerifyError) as caught:
        setup.load()
    message = str(caught.value)
    assert f"date={DAYS[1]}" in message and "orders.parquet" in message
    assert f"date={DAYS[0]}" not in message
    setup.warehouse.create_schema()  # refused before anything was written, even the schema
    assert setup.warehouse.query("SELECT COUNT(*) FROM star.sales_fact") == [(0,)]


def test_missing_partition_is_named(setup: Setup) -> None:
    with pytest.raises(Exception, match=r"no partition .* for 2013-01-01"):
        select_days(setup.lake, dates=[dt.date(2013, 1, 1)])


def test_failed_check_names_the_rows_and_rolls_back(setup: Setup) -> None:
    setup.load()
    before = setup.contents()
    tables = DuckDBEngine().transform([f"{setup.lake.partition_path(DAYS[0])}/orders.parquet"])
    broken = tables["customer_dim"].slice(1)  # one customer missing: orphan facts
    lost = tables["customer_dim"]["customer_key"][0].as_py()
    orphans = pc.filter(tables["sales_fact"], pc.equal(tables["sales_fact"]["customer_key"], lost))
    batch = StarBatch(days=(DAYS[0],), tables={**tables, "customer_dim": broken})
    setup.warehouse.query("DELETE FROM star.customer_dim WHERE customer_key = " + str(lost))
    from superstore.etl import DayTotals, run_checks

    manifest = read_manifest(setup.lake, DAYS[0])
    expected = {DAYS[0]: DayTotals(manifest.lines, manifest.sales)}
    with pytest.raises(DataQualityError) as caught:
        setup.warehouse.merge(batch, lambda q: run_checks(q, "star", expected))
    message = str(caught.value)
    assert "missing from customer_dim" in message
    assert orphans["line_key"][0].as_py() in message
    assert f"date={DAYS[0]}" in message
    after = setup.contents()
    before["customer_dim"] = [r for r in before["customer_dim"] if r[0] != lost]
    assert after == before
