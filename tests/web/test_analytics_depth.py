"""/analytics' API in depth: days, drill periods, measures, breakdowns, drill-through, files.

Every number is compared with a brute-force query on the fact table
(`truth`), and every download with the JSON it came from.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.support.web import FACTS, truth

DAY_CASES = [
    {"from": "2016-03-15", "to": "2016-09-10"},
    {"from": "2016-03-15", "to": "2016-09-10", "state": ["California"], "category": "Technology"},
    {"period": "2016-Q3", "region": "West"},
    {"range": "last-30-days", "segment": "Consumer"},
    {"year": [2015, 2017], "from": "2015-06-10", "to": "2017-02-03"},
    {"period": "2016-09-05"},
]
_SPANS = {
    "2016-Q3": ("2016-07-01", "2016-09-30"),
    "2016-09-05": ("2016-09-05", "2016-09-05"),
    "last-30-days": ("2017-12-01", "2017-12-30"),  # the last day held is 2017-12-30
}


def _as_truth(case: dict) -> dict:
    """The case with its period or preset written as from/to, for `truth`."""
    out = {k: v for k, v in case.items() if k not in ("period", "range")}
    span = case.get("period") or case.get("range")
    if span:
        out["from"], out["to"] = _SPANS[span]
    return out


def _get(api: httpx.Client, path: str, **params) -> dict:
    return api.get(f"/api/analytics/{path}", params=params).raise_for_status().json()


@pytest.mark.parametrize("case", DAY_CASES, ids=str)
def test_kpis_over_days_equal_the_fact_table(api: httpx.Client, star_path: Path, case) -> None:
    kpis = _get(api, "kpis", **case)["kpis"]
    expected = truth(star_path, _as_truth(case))
    assert {k: Decimal(str(kpis[k])) for k in expected} == {
        k: Decimal(v) for k, v in expected.items()
    }
    assert Decimal(kpis["margin"]) == round(expected["profit"] / expected["sales"], 6)


def test_previous_comparable_period(api: httpx.Client, star_path: Path) -> None:
    quarter = _get(api, "kpis", period="2016-Q3")
    assert quarter["days"] == {"first": "2016-07-01", "last": "2016-09-30", "label": "2016-Q3"}
    previous = quarter["previous"]
    assert previous["label"] == "2016-Q2"
    q2 = truth(star_path, {"from": "2016-04-01", "to": "2016-06-30"})
    assert Decimal(previous["kpis"]["sales"]) == q2["sales"]
    q3 = Decimal(quarter["kpis"]["sales"])
    assert previous["change"]["sales"] == pytest.approx(float((q3 / q2["sales"] - 1) * 100), 0.01)
    # Month to date compares with the same days of the month before.
    mtd = _get(api, "kpis", range="month-to-date")["previous"]
    assert mtd["label"] == "2017-11"  # December 1-30 against November 1-30
    assert _get(api, "kpis", year=2016)["previous"]["label"] == "2015"
    assert _get(api, "kpis")["previous"] is None  # no time filter: nothing to compare with
    # The margin changes in percentage points.
    margin = quarter["previous"]["change"]["margin"]
    now, then = Decimal(quarter["kpis"]["margin"]), Decimal(previous["kpis"]["margin"])
    assert margin == pytest.approx(float((now - then) * 100), abs=0.01)


def test_time_axes_keep_empty_periods(api: httpx.Client) -> None:
    """North Dakota sold in few months: every month of 2014-2017 is still on the axis."""
    rows = _get(api, "category-trend", state="North Dakota", grain="month")["rows"]
    periods = sorted({r["period"] for r in rows})
    assert periods == [f"{y}-{m:02d}" for y in range(2014, 2018) for m in range(1, 13)]
    assert len(rows) == 48 * 3
    assert any(Decimal(r["sales"]) == 0 for r in rows)
    growth = _get(api, "growth", state="North Dakota", grain="quarter")["rows"]
    assert [r["period"] for r in growth] == [
        f"{y}-Q{q}" for y in range(2014, 2018) for q in (1, 2, 3, 4)
    ]
    days = _get(api, "growth", period="2016-02", grain="day")["rows"]
    assert len(days) == 29 and days[-1]["period"] == "2016-02-29" and days[-1]["prev_value"] is None


def test_measures_are_ratios_of_sums(api: httpx.Client, star_path: Path) -> None:
    rows = _get(api, "regions", measure="margin", year=2016)["rows"]
    for row in rows:
        t = truth(star_path, {"year": [2016], "region": row["region"]})
        assert Decimal(row["value"]) == round(t["profit"] / t["sales"], 6)
        assert row["share"] is None  # a ratio is not parts of a whole
    values = [Decimal(r["value"]) for r in rows]
    assert values == sorted(values, reverse=True)
    quantity = _get(api, "segments", measure="quantity")["rows"]
    assert sum(int(r["value"]) for r in quantity) == truth(star_path, {})["quantity"]
    # Profit can be negative somewhere: then no shares either.
    furniture = _get(api, "states", measure="profit", category="Furniture")["rows"]
    assert any(Decimal(r["value"]) < 0 for r in furniture)
    assert all(r["share"] is None for r in furniture)


def test_breakdown_reconciles(api: httpx.Client, star_path: Path) -> None:
    case = {"year": 2017, "segment": "Consumer"}
    total = truth(star_path, {"year": [2017], "segment": "Consumer"})
    for by in ("category", "sub_category", "product", "customer", "city"):
        body = _get(api, "breakdown", by=by, top=5, **case)
        shown = sum(Decimal(r["sales"]) for r in body["rows"])
        others = Decimal(body["others"]["sales"]) if body["others"] else Decimal(0)
        assert shown + others == Decimal(body["total"]["sales"]) == total["sales"], by
        assert len(body["rows"]) == min(5, body["total"]["members"])
    products = _get(api, "breakdown", by="product", top=3, sub_category="Phones", **case)
    with duckdb.connect(str(star_path), read_only=True) as con:
        expected = con.execute(
            f"""SELECT p.product_id, sum(f.sales) AS s {FACTS}
                WHERE t.year = 2017 AND c.segment = 'Consumer' AND p.sub_category = 'Phones'
                GROUP BY 1 ORDER BY s DESC, 1 LIMIT 3"""
        ).fetchall()
    assert [(r["product_id"], Decimal(r["sales"])) for r in products["rows"]] == expected


def test_drill_through_lines(api: httpx.Client, star_path: Path) -> None:
    case = {"region": "West", "period": "2016-Q3", "category": "Technology"}
    expected = truth(star_path, _as_truth(case) | {"from": "2016-07-01", "to": "2016-09-30"})
    first = _get(api, "lines", size=20, **case)
    assert first["totals"]["lines"] == expected["lines"]
    assert Decimal(first["totals"]["sales"]) == expected["sales"]
    assert first["pages"] == -(-expected["lines"] // 20)
    seen = []
    for page in range(1, first["pages"] + 1):
        seen += _get(api, "lines", size=20, page=page, **case)["rows"]
    assert len({(r["order_id"], r["line_number"]) for r in seen}) == expected["lines"]
    assert sum(Decimal(r["sales"]) for r in seen) == expected["sales"]
    assert [Decimal(r["sales"]) for r in seen] == sorted(
        (Decimal(r["sales"]) for r in seen), reverse=True
    )
    by_date = _get(api, "lines", sort="date", order="asc", **case)["rows"]
    assert [r["order_date"] for r in by_date] == sorted(r["order_date"] for r in by_date)
    response = api.get("/api/analytics/lines", params={**case, "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == expected["lines"]
    assert (
        "lines_region-West_category-Technology_period-2016-Q3"
        in response.headers["content-disposition"]
    )
    # A breakdown row's own lines: one city (of one state).
    city = _get(api, "lines", city="Seattle", state="Washington", year=2016)
    row = next(
        r
        for r in _get(api, "breakdown", by="city", top=100, year=2016)["rows"]
        if (r["city"], r["state"]) == ("Seattle", "Washington")
    )
    with duckdb.connect(str(star_path), read_only=True) as con:
        (seattle,) = con.execute(
            f"""SELECT sum(f.sales) {FACTS}
                WHERE t.year = 2016 AND l.city = 'Seattle' AND l.state = 'Washington'"""
        ).fetchone()
    assert Decimal(city["totals"]["sales"]) == Decimal(row["sales"]) == seattle


def test_csv_files_honour_every_filter(api: httpx.Client) -> None:
    # An empty answer still has its header row.
    empty = api.get(
        "/api/analytics/segments",
        params={"from": "2014-01-01", "to": "2014-01-02", "format": "csv"},
    )
    assert empty.text.splitlines() == [
        "segment,sales,profit,quantity,lines,returns,net_sales,share"
    ]
    # The states CSV keeps only the selected states (the map JSON shows them all).
    params = {"state": ["Texas", "Ohio"], "year": 2016}
    rows = list(
        csv.DictReader(
            io.StringIO(api.get("/api/analytics/states", params={**params, "format": "csv"}).text)
        )
    )
    assert sorted(r["state"] for r in rows) == ["Ohio", "Texas"]
    assert len(_get(api, "states", **params)["rows"]) > 2
    name = api.get("/api/analytics/states", params={**params, "format": "csv"}).headers[
        "content-disposition"
    ]
    assert 'filename="superstore-states_year-2016_state-Ohio+Texas.csv"' in name
    trend = api.get(
        "/api/analytics/category-trend",
        params={"category": "Furniture", "grain": "quarter", "measure": "margin", "format": "csv"},
    )
    assert (
        "category-trend_category-Furniture_measure-margin_by-quarter.csv"
        in trend.headers["content-disposition"]
    )
    assert {r["category"] for r in csv.DictReader(io.StringIO(trend.text))} == {"Furniture"}


def test_export_zip_holds_the_page(api: httpx.Client) -> None:
    response = api.get(
        "/api/analytics/export", params={"year": 2016, "measure": "profit", "by": "sub_category"}
    )
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = sorted(archive.namelist())
    assert "README.txt" in names and len(names) == 8
    segments = next(n for n in names if n.startswith("superstore-segments"))
    assert segments == "superstore-segments_year-2016_measure-profit.csv"
    rows = list(csv.DictReader(io.StringIO(archive.read(segments).decode())))
    api_rows = _get(api, "segments", year=2016, measure="profit")["rows"]
    assert {r["segment"]: Decimal(r["profit"]) for r in rows} == {
        r["segment"]: Decimal(r["profit"]) for r in api_rows
    }
    assert "filters: year 2016\r\n" in archive.read("README.txt").decode()


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        ("kpis", {"measure": "revenue"}, "invalid measure 'revenue'"),
        ("growth", {"grain": "decade"}, "invalid grain 'decade'"),
        ("kpis", {"range": "last-year; DROP"}, "invalid range"),
        ("kpis", {"period": "2016-13"}, "invalid period"),
        ("kpis", {"from": "2016-05-01", "to": "2016-04-01"}, "from 2016-05-01 is after"),
        ("kpis", {"from": "2016-02-30"}, "invalid from"),
        ("kpis", {"range": "year-to-date", "from": "2016-01-01"}, "either range or from/to"),
        ("lines", {"sort": "sales; DROP TABLE x"}, "invalid sort"),
        ("breakdown", {"by": "planet"}, "invalid by"),
        ("breakdown", {"sub_category": "Rockets"}, "unknown sub_category"),
        ("kpis", {"year": 1999}, "unknown year 1999"),
    ],
)
def test_bad_parameters_say_what_is_wrong(api: httpx.Client, path: str, params: dict, says: str):
    response = api.get(f"/api/analytics/{path}", params=params)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str) and says in detail, detail


def test_options_describe_the_page(api: httpx.Client) -> None:
    options = _get(api, "options")
    assert (options["first_day"], options["last_day"]) == ("2014-01-03", "2017-12-30")
    assert [m["name"] for m in options["measures"]] == [
        "sales",
        "profit",
        "quantity",
        "margin",
        "returns",
        "net_sales",
        "return_rate",
    ]
    assert {m["name"]: m["additive"] for m in options["measures"]}["margin"] is False
    assert "last-30-days" in options["presets"] and options["grains"][-1] == "day"
    assert len(options["sub_categories"]) == 17
    assert dt.date.fromisoformat(options["last_day"]).year == options["years"][-1]
