"""Hostile names in the data are shown as text, never run: both pages, tooltips, CSV.

Product, customer, segment, region, category and state names come from order
lines anyone upstream could have typed. They must reach the screen as
literal text (and a spreadsheet as text, not a formula).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import Page, expect

from superstore.clients import PgConfig
from superstore.contract import OrderLine
from superstore.oltp import load_lines_direct
from superstore.warehouse import DuckDBReader
from superstore.web import DashboardServer, WebConfig
from tests.support.web import POINT_JS, click_chart, wait_ready
from tests.support.webstar import build_star, new_order

SCRIPT = "<script>window.__xss = 'script'</script>"
IMG = "<img src=x onerror=\"window.__xss = 'img'\">"
PRODUCT = f'{SCRIPT} Tom & Jerry\'s "Best" {IMG}'
CUSTOMER = "\"><svg onload=\"window.__xss='svg'\"> O'Brien & Sons"
FORMULA = '=HYPERLINK("http://example.invalid","click")'
HOSTILE_DAY = dt.date(2031, 3, 3)


def hostile(base: OrderLine, n: int, **names: str) -> OrderLine:
    """Line n of the hostile set: its own order, $1,000 x n, dated HOSTILE_DAY."""
    return new_order(base, f"XSS-{n}", HOSTILE_DAY, unit=f"{1000 * n}", **names)[0]


def assert_nothing_ran(page: Page) -> None:
    assert page.evaluate("() => window.__xss === undefined")
    assert page.locator("img[src='x'], svg[onload], script:not([src])").count() == 0


def test_today_shows_hostile_names_as_text(page: Page, web_pg: PgConfig, dataset) -> None:
    load_lines_direct(
        web_pg,
        [
            hostile(dataset[0], 1, product_name=PRODUCT, customer_name=CUSTOMER, customer_id="X-1"),
            hostile(
                dataset[1], 2, product_name="Plain & Simple <b>not bold</b>", customer_id="X-2"
            ),
        ],
    )
    page.goto(f"/today?date={HOSTILE_DAY}")
    expect(page.locator("body")).to_have_attribute("data-renders", "1")
    expect(page.locator("#latest")).to_contain_text(CUSTOMER)  # literally, as text
    chart = page.locator("#top-products")
    chart.scroll_into_view_if_needed()
    expect(chart).to_have_attribute("data-finished", "1")
    x, y = page.evaluate(
        """() => {
          const c = echarts.getInstanceByDom(document.getElementById('top-products'));
          const o = c.getOption(), i = o.yAxis[0].data.findIndex((n) => n.includes('Jerry'));
          const box = c.getDom().getBoundingClientRect();
          const [x, y] = c.convertToPixel({ seriesIndex: 0 }, [o.series[0].data[i] / 2, i]);
          return [box.left + x, box.top + y];
        }"""
    )
    page.mouse.move(x, y)
    tooltip = page.locator("#top-products div").filter(has_text="Jerry")
    expect(tooltip).to_contain_text(PRODUCT)
    assert_nothing_ran(page)


@pytest.fixture(scope="module")
def hostile_server(
    tmp_path_factory: pytest.TempPathFactory, web_pg: PgConfig, dataset: list[OrderLine]
) -> Iterator[DashboardServer]:
    """A server over a warehouse whose labels are hostile."""
    lines = [
        hostile(dataset[0], 1, segment=IMG, region=SCRIPT, state=FORMULA, customer_id="X-1"),
        hostile(dataset[1], 2, segment="Consumer", category='Tech & "Gadgets"', customer_id="X-2"),
        hostile(dataset[2], 3, segment="Consumer", city=FORMULA, customer_id="X-3"),
    ]
    star = build_star(tmp_path_factory.mktemp("hostile") / "wh.duckdb", lines)
    config = WebConfig(pg=PgConfig(web_pg.dsn).read_only(), warehouse=DuckDBReader(star))
    with DashboardServer(config) as server:
        yield server


def test_analytics_shows_hostile_labels_as_text(page: Page, hostile_server: DashboardServer):
    page.goto(f"{hostile_server.url}/analytics")
    wait_ready(page)
    expect(page.locator("#state-options label").filter(has_text="HYPERLINK")).to_have_text(FORMULA)
    chart = page.locator("#chart-segments")
    expect(chart).to_have_attribute("data-finished", "1")
    x, y = page.evaluate(POINT_JS, ["chart-segments", "pie", IMG])
    page.mouse.move(x, y)
    expect(page.locator("#chart-segments div").filter(has_text="onerror")).to_contain_text(IMG)
    click_chart(page, "chart-segments", "pie", IMG)  # a hostile value still filters correctly
    expect(page.locator("#kpi-sales")).to_have_text("$1,000.00")
    expect(page.locator('#chips [data-filter="segment"]')).to_have_attribute("data-value", IMG)
    expect(page.locator('#chips [data-filter="segment"]')).to_contain_text(IMG)
    assert_nothing_ran(page)


def test_csv_cells_are_not_formulas(hostile_server: DashboardServer) -> None:
    with httpx.Client(base_url=hostile_server.url) as client:
        text = client.get("/api/analytics/states", params={"format": "csv"}).text
        states = {r["state"] for r in csv.DictReader(io.StringIO(text))}
        assert "'" + FORMULA in states and FORMULA not in states
        # ...while the JSON keeps the exact value, and filtering by it works.
        kpis = client.get("/api/analytics/kpis", params={"state": FORMULA}).json()["kpis"]
        assert Decimal(kpis["sales"]) == Decimal("1000")


def test_pages_forbid_inline_scripts(api: httpx.Client) -> None:
    for path in ("/today", "/analytics", "/docs", "/api/analytics/kpis"):
        csp = api.get(path).headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]


def test_assets_are_local(api: httpx.Client) -> None:
    for path in ("/today", "/analytics", "/docs"):
        html = api.get(path).text
        assert "http://" not in html and "https://" not in html
    for asset in (
        "/static/vendor/echarts.min.js",
        "/static/vendor/topojson-client.min.js",
        "/static/vendor/us-states-albers-10m.json",
        "/static/vendor/swagger-ui-bundle.js",
    ):
        assert api.get(asset).status_code == 200
