"""The data set's traps, end to end: real export -> DuckDB engine -> DuckDB warehouse.

Totals by year, segment, region, category and state must equal the raw data
set's, computed here in Python with exact decimals from ``load_lines()``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from superstore.contract import OrderLine
from superstore.etl import DuckDBEngine, run_etl, select_days
from superstore.storage import LakeConfig
from superstore.warehouse import DuckDBWarehouse

TOTAL = Decimal("2297200.8603")

_JOINED = """
FROM star.sales_fact f
JOIN star.time_dim t ON t.time_key = f.time_key
JOIN star.customer_dim c ON c.customer_key = f.customer_key
JOIN star.product_dim p ON p.product_key = f.product_key
JOIN star.location_dim l ON l.location_key = f.location_key
"""


@pytest.fixture(scope="module")
def loaded(seed_lake: LakeConfig, tmp_path_factory: pytest.TempPathFactory) -> DuckDBWarehouse:
    path = Path(tmp_path_factory.mktemp("wh")) / "warehouse.duckdb"
    warehouse = DuckDBWarehouse(path)
    report = run_etl(seed_lake, DuckDBEngine(), warehouse, select_days(seed_lake, all_days=True))
    assert report.lines == 9994 and report.sales == TOTAL
    return warehouse


def _by(lines: list[OrderLine], key) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        out[str(key(line))] += line.sales
    return dict(out)


def test_total_through_every_dimension_is_exact(loaded: DuckDBWarehouse) -> None:
    ((count, total),) = loaded.query(f"SELECT COUNT(*), SUM(f.sales) {_JOINED}")
    assert (count, total) == (9994, TOTAL)


@pytest.mark.parametrize(
    ("column", "key"),
    [
        ("t.year", lambda x: x.order_date.year),
        ("c.segment", lambda x: x.segment),
        ("l.region", lambda x: x.region),
        ("p.category", lambda x: x.category),
        ("l.state", lambda x: x.state),
    ],
)
def test_totals_by_attribute_match_raw_data(
    loaded: DuckDBWarehouse, seed_lines: list[OrderLine], column: str, key
) -> None:
    rows = loaded.query(f"SELECT CAST({column} AS VARCHAR), SUM(f.sales) {_JOINED} GROUP BY 1")
    assert dict(rows) == _by(seed_lines, key)


def test_customers_in_many_cities_keep_their_order_location(
    loaded: DuckDBWarehouse, seed_lines: list[OrderLine]
) -> None:
    cities: dict[str, set[str]] = defaultdict(set)
    for line in seed_lines:
        cities[line.customer_id].add(line.city)
    assert sum(len(c) > 1 for c in cities.values()) == 780
    rows = loaded.query(f"SELECT c.customer_id, COUNT(DISTINCT l.city) {_JOINED} GROUP BY 1")
    assert {cid: n for cid, n in rows} == {cid: len(c) for cid, c in cities.items()}
    ((customers,),) = loaded.query("SELECT COUNT(*) FROM star.customer_dim")
    assert customers == 793


def test_products_with_two_names_keep_both_versions(
    loaded: DuckDBWarehouse, seed_lines: list[OrderLine]
) -> None:
    names: dict[str, set[str]] = defaultdict(set)
    for line in seed_lines:
        names[line.product_id].add(line.product_name)
    versions = {(pid, name) for pid, ns in names.items() for name in ns}
    rows = loaded.query("SELECT product_id, product_name FROM star.product_dim")
    assert set(rows) == versions and len(rows) == len(versions)
    assert sum(len(n) == 2 for n in names.values()) == 32
    per_version = dict(
        ((pid, name), total)
        for pid, name, total in loaded.query(
            f"SELECT p.product_id, p.product_name, SUM(f.sales) {_JOINED} GROUP BY 1, 2"
        )
    )
    assert per_version == _by_pair(seed_lines)


def _by_pair(lines: list[OrderLine]) -> dict[tuple[str, str], Decimal]:
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in lines:
        out[(line.product_id, line.product_name)] += line.sales
    return dict(out)


def test_lines_sharing_order_and_product_are_distinct_sales(
    loaded: DuckDBWarehouse, seed_lines: list[OrderLine]
) -> None:
    pairs = Counter((x.order_id, x.product_id) for x in seed_lines)
    shared = {pair for pair, n in pairs.items() if n > 1}
    assert len(shared) == 8
    rows = loaded.query(
        "SELECT f.order_id, p.product_id, COUNT(*), SUM(f.sales) FROM star.sales_fact f "
        "JOIN star.product_dim p ON p.product_key = f.product_key "
        "GROUP BY 1, 2 HAVING COUNT(*) > 1"
    )
    assert {(o, p) for o, p, _, _ in rows} == shared
    expected = {
        pair: sum(x.sales for x in seed_lines if (x.order_id, x.product_id) == pair)
        for pair in shared
    }
    assert {(o, p): s for o, p, _, s in rows} == expected
