"""/analytics' API against the warehouse it reads: every number checked by brute force."""

from __future__ import annotations

import csv
import io
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
import pytest

from superstore.warehouse import DuckDBReader
from superstore.web.cubes import CubeStore
from tests.support.web import truth

FILTER_CASES = [
    {},
    {"year": [2016]},
    {"year": [2015, 2017], "segment": "Corporate"},
    {"category": "Technology"},
    {"state": ["California", "Texas"], "category": "Furniture"},
    {"region": "West", "segment": "Home Office", "year": [2014]},
    {"state": ["Wyoming"]},
]


@pytest.mark.parametrize("case", FILTER_CASES, ids=lambda c: str(c) or "all")
def test_kpis_equal_the_fact_table(api: httpx.Client, star_path: Path, case: dict) -> None:
    kpis = api.get("/api/analytics/kpis", params=case).raise_for_status().json()["kpis"]
    expected = truth(star_path, case)
    assert {k: Decimal(str(kpis[k])) for k in expected} == {
        k: Decimal(v) for k, v in expected.items()
    }


def test_dataset_totals(api: httpx.Client) -> None:
    """The seed's known totals: no fan-out from customers shipping to many cities."""
    kpis = api.get("/api/analytics/kpis").json()["kpis"]
    assert (kpis["lines"], kpis["orders"], kpis["customers"]) == (9994, 5009, 793)
    assert Decimal(kpis["sales"]) == Decimal("2297200.8603")
    assert Decimal(kpis["profit"]) == Decimal("286397.0217")


def test_visuals_add_up_and_ignore_their_own_click(api: httpx.Client, star_path: Path) -> None:
    case = {"year": [2017], "segment": "Consumer"}
    total = Decimal(api.get("/api/analytics/kpis", params=case).json()["kpis"]["sales"])
    for visual in ("regions", "states"):
        rows = api.get(f"/api/analytics/{visual}", params=case).json()["rows"]
        assert sum(Decimal(r["sales"]) for r in rows) == total
    # The donut keeps every segment (highlighting the clicked one) under the other filters.
    segs = api.get("/api/analytics/segments", params=case).json()["rows"]
    assert {r["segment"] for r in segs} == {"Consumer", "Corporate", "Home Office"}
    assert sum(Decimal(r["share"]) for r in segs) == pytest.approx(Decimal(1), abs=Decimal("1e-5"))
    year_total = Decimal(
        api.get("/api/analytics/kpis", params={"year": 2017}).json()["kpis"]["sales"]
    )
    assert sum(Decimal(r["sales"]) for r in segs) == year_total
    for grain, periods in (("month", 12), ("quarter", 4), ("year", 1)):
        rows = api.get("/api/analytics/category-trend", params={**case, "grain": grain}).json()[
            "rows"
        ]
        assert len({r["period"] for r in rows}) == periods
        assert sum(Decimal(r["sales"]) for r in rows) == total


def test_growth_is_year_over_year(api: httpx.Client, star_path: Path) -> None:
    rows = api.get("/api/analytics/growth", params={"grain": "year"}).json()["rows"]
    by_year = {r["period"]: r for r in rows}
    assert list(by_year) == ["2014", "2015", "2016", "2017"]
    assert by_year["2014"]["yoy_pct"] is None
    s16, s17 = (Decimal(by_year[y]["sales"]) for y in ("2016", "2017"))
    assert by_year["2017"]["yoy_pct"] == pytest.approx(float((s17 - s16) * 100 / s16), abs=0.01)
    # Selecting 2017 only still compares it with 2016.
    only = api.get("/api/analytics/growth", params={"grain": "quarter", "year": 2017}).json()
    assert [r["period"] for r in only["rows"]] == ["2017-Q1", "2017-Q2", "2017-Q3", "2017-Q4"]
    assert all(r["yoy_pct"] is not None and r["prev_sales"] for r in only["rows"])


def test_csv_export(api: httpx.Client) -> None:
    response = api.get("/api/analytics/regions", params={"year": 2016, "format": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="superstore-regions_year-2016.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["region"] for r in rows]
    assert list(rows[0]) == [
        "region",
        "sales",
        "profit",
        "quantity",
        "lines",
        "returns",
        "net_sales",
        "share",
    ]
    json_rows = api.get("/api/analytics/regions", params={"year": 2016}).json()["rows"]
    assert [(r["region"], Decimal(r["sales"])) for r in rows] == [
        (r["region"], Decimal(r["sales"])) for r in json_rows
    ]
    kpis = list(csv.DictReader(io.StringIO(api.get("/api/analytics/kpis?format=csv").text)))
    assert kpis[0]["orders"] == "5009"


@pytest.mark.parametrize(
    "params",
    [
        {"segment": "Consumer' OR '1'='1"},
        {"state": "California'); DROP TABLE star.sales_fact; --"},
        {"region": "West\x00"},
        {"category": "x" * 500},
        {"year": "2016 OR 1=1"},
        {"year": "1066"},
        {"grain": "day; DELETE"},
        {"format": "xml"},
    ],
)
def test_hostile_filters_are_refused(api: httpx.Client, star_path: Path, params: dict) -> None:
    before = truth(star_path, {})
    response = api.get("/api/analytics/kpis", params=params)
    if "grain" in params:
        response = api.get("/api/analytics/growth", params=params)
    assert response.status_code == 422, response.text
    assert truth(star_path, {}) == before


def test_openapi_documents_every_endpoint(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()
    for path in ("kpis", "category-trend", "segments", "regions", "growth", "states", "options"):
        assert f"/api/analytics/{path}" in spec["paths"]
    assert "/api/today" in spec["paths"] and "/api/today/stream" in spec["paths"]
    params = {p["name"] for p in spec["paths"]["/api/analytics/kpis"]["get"]["parameters"]}
    assert {"year", "state", "segment", "region", "category", "format"} <= params


def test_rebuilt_when_the_warehouse_changes(star_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "wh.duckdb"
    shutil.copy(star_path, copy)
    store = CubeStore(DuckDBReader(copy), check_every=0.0)
    first = store.current()
    assert store.current() is first  # same version: same pre-aggregates
    with duckdb.connect(str(copy)) as con:
        con.execute("DELETE FROM star.sales_fact WHERE time_key // 10000 = 2014")
    second = store.current()
    while second is first:  # the new version builds in the background
        second = store.current()
    assert second.version != first.version and second.known["year"] == [2015, 2016, 2017]
