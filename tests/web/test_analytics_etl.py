"""/analytics over warehouses built by the real pipeline: PostgreSQL -> export -> ETL.

The lake and the seed database are the session fixtures of tests/etl (built
once per run, whichever directory asks first). Both warehouse targets the
dashboards read, DuckDB and PostgreSQL, must give exactly the OLTP numbers.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from superstore.clients import PgConfig
from superstore.etl import DuckDBEngine, run_etl, select_days
from superstore.storage import LakeConfig
from superstore.warehouse import (
    DuckDBReader,
    DuckDBWarehouse,
    PostgresReader,
    PostgresWarehouse,
    Warehouse,
    WarehouseReader,
)
from superstore.web import DashboardServer, WebConfig, analytics
from superstore.web.cubes import CubeStore
from superstore.web.filters import Filters

_OLTP = """
SELECT {group} sum(l.sales), sum(l.profit), sum(l.quantity), count(*),
       count(DISTINCT l.order_id), count(DISTINCT o.customer_id),
       count(DISTINCT (o.state, o.city))
FROM order_lines l JOIN orders o USING (order_id) JOIN customers c USING (customer_id)
JOIN products p USING (product_id, product_name)
{by}
"""
_NAMES = ("sales", "profit", "quantity", "lines", "orders", "customers", "cities")


def oltp_kpis(pg: PgConfig, column: str | None = None) -> dict[object, dict[str, Decimal]]:
    """KPIs from the OLTP tables, in total or per value of one column."""
    sql = _OLTP.format(
        group=f"{column}," if column else "", by=f"GROUP BY {column}" if column else ""
    )
    with pg.connect(autocommit=True) as conn:
        rows = conn.execute(sql).fetchall()
    if not column:
        return {None: dict(zip(_NAMES, map(Decimal, rows[0]), strict=True))}
    return {r[0]: dict(zip(_NAMES, map(Decimal, r[1:]), strict=True)) for r in rows}


def _load(lake: LakeConfig, warehouse: Warehouse) -> None:
    with DuckDBEngine() as engine, warehouse:
        run_etl(lake, engine, warehouse, select_days(lake, all_days=True))


@pytest.fixture(scope="module")
def etl_duckdb(seed_lake: LakeConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("etl-wh") / "warehouse.duckdb"
    _load(seed_lake, DuckDBWarehouse(path))
    return path


@pytest.fixture(scope="module")
def etl_postgres(seed_lake: LakeConfig, pg: PgConfig) -> PgConfig:
    from tests.support.star import new_database

    db = new_database(pg, "web_wh")
    _load(seed_lake, PostgresWarehouse(db, "star"))
    return db


def _kpis(store: CubeStore, filters: Filters) -> dict[str, Decimal]:
    kpis = analytics.kpis(store.current(), filters)
    return {n: Decimal(getattr(kpis, n)) for n in _NAMES}


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_numbers_equal_the_oltp_database(
    request: pytest.FixtureRequest, seed_db: PgConfig, target: str
) -> None:
    if target == "duckdb":
        source: WarehouseReader = DuckDBReader(request.getfixturevalue("etl_duckdb"))
    else:
        db = request.getfixturevalue("etl_postgres")
        source = PostgresReader(PgConfig(db.dsn).read_only(), "star")
    store = CubeStore(source)
    assert _kpis(store, Filters()) == oltp_kpis(seed_db)[None]
    for column, field in (
        ("extract(year FROM o.order_date)::int", "years"),
        ("o.state", "states"),
        ("c.segment", "segment"),
        ("o.region", "region"),
        ("p.category", "category"),
    ):
        truth = oltp_kpis(seed_db, column)
        for value in sorted(truth, key=str)[:6]:
            chosen = (value,) if field in ("years", "states") else value
            assert _kpis(store, Filters(**{field: chosen})) == truth[value], (field, value)


def test_served_from_the_etl_warehouse(etl_duckdb: Path, seed_db: PgConfig) -> None:
    config = WebConfig(pg=PgConfig(seed_db.dsn).read_only(), warehouse=DuckDBReader(etl_duckdb))
    with DashboardServer(config) as server, httpx.Client(base_url=server.url) as client:
        kpis = client.get("/api/analytics/kpis").raise_for_status().json()["kpis"]
        options = client.get("/api/analytics/options").json()
    assert Decimal(kpis["sales"]) == oltp_kpis(seed_db)[None]["sales"]
    assert options["years"] == [2014, 2015, 2016, 2017] and len(options["states"]) == 49
