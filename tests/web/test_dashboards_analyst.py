"""/analytics used as a demanding analyst would, in Chromium, each view checked against the data.

Date presets, the time drill-down and its breadcrumb, filter chips, the
searchable state picker, legends, keyboard-only cross-filtering, dark mode
(toggle and `prefers-color-scheme`), the data-table view of a visual, and
what a viewer and an analyst signed in through the real OpenID Connect
provider are offered. Every number read from the screen is compared with the
API or with the fact table (`tests.support.web.truth`), never with itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from superstore.clients import PgConfig
from superstore.web import DashboardServer
from superstore.web.access import AuthConfig
from superstore.web.app import create_app
from superstore.web.config import WebConfig
from superstore.web.tokens import TokenStore
from tests.support.oidc_provider import (  # noqa: F401  (fixtures)
    OidcProvider,
    oidc_provider,
    oidc_provider_factory,
)
from tests.support.signin import browser_sign_in, oidc_dashboards
from tests.support.web import (
    BUSY_DAY,
    api,
    click_chart,
    hover,
    kpis_expected,
    kpis_shown,
    no_horizontal_scroll,
    option,
    point,
    seq_of,
    truth,
    wait_ready,
)
from tests.support.webstar import money

LAST_DAY = dt.date(2017, 12, 30)  # the data set's last order date: presets end there
PRESETS = {
    "last-7-days": (dt.date(2017, 12, 24), LAST_DAY),
    "last-30-days": (dt.date(2017, 12, 1), LAST_DAY),
    "last-90-days": (dt.date(2017, 10, 2), LAST_DAY),
    "month-to-date": (dt.date(2017, 12, 1), LAST_DAY),
    "quarter-to-date": (dt.date(2017, 10, 1), LAST_DAY),
    "year-to-date": (dt.date(2017, 1, 1), LAST_DAY),
    "previous-year": (dt.date(2016, 1, 1), dt.date(2016, 12, 31)),
}
# Drawn symbols of each line series of a chart: how many points a person can see and hit.
DRAWN_POINTS_JS = """
(id) => {
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  const out = {};
  chart.getModel().eachSeries((series) => {
    if (series.subType !== "line") return;
    const data = series.getData();
    let n = 0;
    for (let i = 0; i < data.count(); i++) {
      const el = data.getItemGraphicEl(i);
      if (el && !el.invisible && !el.ignore) n += 1;
    }
    out[series.name] = n;
  });
  return out;
}
"""
# Where ECharts drew a text (a legend item: the trend's other texts are periods), page pixels.
TEXT_AT_JS = """
([id, name]) => {
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  const box = chart.getDom().getBoundingClientRect();
  const hit = chart.getZr().storage.getDisplayList().find((e) => e.style && e.style.text === name);
  const r = hit.getBoundingRect().clone();
  if (hit.transform) r.applyTransform(hit.transform);
  return [box.left + r.x + r.width / 2, box.top + r.y + r.height / 2];
}
"""


def _kpi_sales(page: Page) -> str:
    return page.locator("#kpi-sales").get_attribute("data-value") or ""


# ---- /api/me agrees with the access middleware ---------------------------------------


def test_me_says_what_the_middleware_allows(tmp_path: Path) -> None:
    """Fast, no services: each capability /api/me claims is exactly what is not a 403."""
    tokens = TokenStore(tmp_path / "tokens.json")
    config = WebConfig(
        pg=PgConfig("postgresql://nobody@127.0.0.1:1/none"),
        warehouse=None,
        auth=AuthConfig(mode="token", tokens=tokens),
    )
    client = TestClient(create_app(config), raise_server_exceptions=False)  # no lifespan
    probes = {
        "csv": "/api/analytics/kpis?format=csv",
        "zip": "/api/analytics/export",
        "api": "/openapi.json",
        "ops": "/metrics",
    }
    for role, scope in (("analyst", ("West",)), ("admin", ())):
        token, _ = tokens.create(role, regions=scope)
        headers = {"Authorization": f"Bearer {token}"}
        me = client.get("/api/me", headers=headers).json()
        assert me["role"] == role and me["via"] == "token"
        assert me["scope"] == {"regions": list(scope), "states": [], "unlimited": not scope}
        for name, url in probes.items():
            denied = client.get(url, headers=headers).status_code == 403
            assert me["may"][name] is not denied, (role, name)
    assert me["may"] == dict.fromkeys(probes, True)
    viewer, _ = tokens.create("viewer")  # a viewer token opens pages only: not even this
    assert client.get("/api/me", headers={"Authorization": f"Bearer {viewer}"}).status_code == 403
    open_config = WebConfig(pg=config.pg, warehouse=None)
    anyone = TestClient(create_app(open_config), raise_server_exceptions=False).get("/api/me")
    assert anyone.json()["role"] == "admin" and all(anyone.json()["may"].values())


# ---- dates ---------------------------------------------------------------------------


def test_date_presets_show_the_api_and_the_data(page: Page, star_path: Path) -> None:
    page.goto("/analytics")
    wait_ready(page)
    offered = page.locator("#date-preset option").evaluate_all("(os) => os.map((o) => o.value)")
    assert [v for v in offered if v not in ("", "custom")] == list(PRESETS)
    for name, (lo, hi) in PRESETS.items():
        before = seq_of(page)
        page.select_option("#date-preset", name)
        wait_ready(page, before + 1)
        assert f"range={name}" in page.url
        body = api(page, f"kpis?range={name}")["kpis"]
        assert _kpi_sales(page) == str(body["sales"])
        case = {"from": lo.isoformat(), "to": hi.isoformat()}
        assert kpis_shown(page) == kpis_expected(star_path, case), name
        expect(page.locator('#chips [data-filter="dates"]')).to_have_count(1)


# ---- drill-down ----------------------------------------------------------------------


def _drill(page: Page, label: str) -> None:
    periods = option(page, "chart-trend", ".xAxis[0].data")
    assert isinstance(periods, list) and label in periods, periods
    click_chart(page, "chart-trend", "point", "Technology", periods.index(label))


def _period_case(lo: str, hi: str) -> dict:
    return {"from": lo, "to": hi}


def test_drill_year_quarter_month_day_and_back(page: Page, star_path: Path) -> None:
    page.goto("/analytics?trend=year")
    wait_ready(page)
    assert option(page, "chart-trend", ".xAxis[0].data") == ["2014", "2015", "2016", "2017"]
    steps = [
        ("2016", ["2016-Q1", "2016-Q2", "2016-Q3", "2016-Q4"], ("2016-01-01", "2016-12-31")),
        ("2016-Q4", ["2016-10", "2016-11", "2016-12"], ("2016-10-01", "2016-12-31")),
        ("2016-12", [f"2016-12-{d:02d}" for d in range(1, 32)], ("2016-12-01", "2016-12-31")),
    ]
    for label, below, (lo, hi) in steps:
        _drill(page, label)
        assert f"period={label}" in page.url
        assert option(page, "chart-trend", ".xAxis[0].data") == below
        # The KPI cards and every drawn series hold the period's figures exactly.
        assert kpis_shown(page) == kpis_expected(star_path, _period_case(lo, hi))
        grain = {"2016": "quarter", "2016-Q4": "month", "2016-12": "day"}[label]
        trend = api(page, f"category-trend?period={label}&grain={grain}")["rows"]
        for cat in ("Furniture", "Office Supplies", "Technology"):
            drawn = option(page, "chart-trend", f".series.find((s) => s.name === '{cat}').data")
            assert drawn == [float(r["value"]) for r in trend if r["category"] == cat]
    points = page.evaluate(DRAWN_POINTS_JS, "chart-trend")
    assert points == {"Furniture": 31, "Office Supplies": 31, "Technology": 31}
    crumbs = page.locator("#trend-crumbs")
    expect(crumbs.locator(".crumb")).to_have_text(["All time", "2016", "2016-Q4", "Dec 2016"])
    expect(crumbs.locator('[aria-current="location"]')).to_have_text("Dec 2016")
    before = seq_of(page)
    expect(page.locator("#lines-dialog")).not_to_have_attribute("open", "")
    crumbs.locator('button.crumb:text-is("2016")').click()
    wait_ready(page, before + 1)
    assert "period=2016" in page.url and "period=2016-" not in page.url
    assert option(page, "chart-trend", ".xAxis[0].data") == [f"2016-Q{q}" for q in range(1, 5)]
    assert kpis_shown(page) == kpis_expected(star_path, _period_case("2016-01-01", "2016-12-31"))
    before = seq_of(page)
    crumbs.locator('button.crumb:text-is("All time")').click()
    wait_ready(page, before + 1)
    assert "period=" not in page.url
    expect(crumbs).to_be_hidden()
    assert kpis_shown(page) == kpis_expected(star_path, {})


def test_a_phone_draws_every_day_of_a_month(phone_page: Page, star_path: Path) -> None:
    """Every day is a point one can see and tap (a phone once drew 3 of 31)."""
    phone_page.goto("/analytics?period=2016-12&trend=day&growth=day")
    wait_ready(phone_page)
    assert phone_page.evaluate(DRAWN_POINTS_JS, "chart-trend") == {
        "Furniture": 31,
        "Office Supplies": 31,
        "Technology": 31,
    }
    growth = phone_page.evaluate(DRAWN_POINTS_JS, "chart-growth")
    assert growth[next(iter(growth))] == 31
    day = "2016-12-09"
    x, y = point(phone_page, "chart-trend", "point", "Furniture", 8)
    phone_page.mouse.move(x, y)
    tip = phone_page.locator("#chart-trend > div").filter(has=phone_page.locator("b")).first
    expect(tip).to_contain_text("Dec 9, 2016")
    want = truth(star_path, {"from": day, "to": day, "category": "Furniture"})["sales"]
    expect(tip).to_contain_text(money(want))


# ---- filters -------------------------------------------------------------------------


def test_each_chip_removes_its_filter_alone(page: Page, star_path: Path) -> None:
    page.goto(
        "/analytics?year=2016&year=2017&state=California&state=Texas&segment=Consumer"
        "&category=Furniture"
    )
    wait_ready(page)
    case: dict = {
        "year": [2016, 2017],
        "state": ["California", "Texas"],
        "segment": "Consumer",
        "category": "Furniture",
    }
    assert kpis_shown(page) == kpis_expected(star_path, case)
    chips = page.locator("#chips .chip")
    expect(chips).to_have_count(6)
    removals = [
        ("year", "2016", lambda c: c["year"].remove(2016), "year=2016"),
        ("state", "Texas", lambda c: c["state"].remove("Texas"), "state=Texas"),
        ("segment", "Consumer", lambda c: c.pop("segment"), "segment=Consumer"),
        ("category", "Furniture", lambda c: c.pop("category"), "category=Furniture"),
    ]
    for n, (key, value, change, gone) in enumerate(removals, start=1):
        before = seq_of(page)
        page.click(f'#chips .chip[data-filter="{key}"][data-value="{value}"]')
        wait_ready(page, before + 1)
        change(case)
        expect(chips).to_have_count(6 - n)
        assert gone not in page.url
        assert kpis_shown(page) == kpis_expected(star_path, case), key
        regions = {
            r["region"]: r["sales"] for r in api(page, "regions?" + page.url.split("?")[1])["rows"]
        }
        drawn = option(page, "chart-regions", ".series[0].data.map((d) => [d.name, d.value])")
        assert {name: value for name, value in drawn} == {  # type: ignore[union-attr]
            k: float(v) for k, v in regions.items()
        }
    assert "year=2017" in page.url and "state=California" in page.url
    expect(page.locator("#state-button")).to_have_text("States: California")


def test_chips_and_the_picker_fit_a_phone(phone_page: Page, star_path: Path) -> None:
    page = phone_page
    page.goto(
        "/analytics?year=2016&state=California&state=New+York&segment=Home+Office&range=year-to-date"
    )
    wait_ready(page)
    expect(page.locator("#chips .chip")).to_have_count(5)
    no_horizontal_scroll(page)
    before = seq_of(page)
    page.tap('#chips .chip[data-filter="state"][data-value="New York"]')
    wait_ready(page, before + 1)
    case = {"year": [2016], "state": ["California"], "segment": "Home Office"}
    case |= {"from": "2017-01-01", "to": LAST_DAY.isoformat()}  # 2016 and 2017 YTD: nothing
    assert truth(star_path, case)["lines"] == 0
    expect(page.locator("#kpi-sales")).to_have_text("–")
    expect(page.locator("#notice")).to_contain_text("No sales match these filters")
    page.tap('#chips .chip[data-filter="dates"]')
    wait_ready(page, before + 2)
    case.pop("from"), case.pop("to")
    assert kpis_shown(page) == kpis_expected(star_path, case)
    page.tap("#state-button")
    popover = page.locator("#state-popover").bounding_box()
    assert popover and popover["x"] >= 0 and popover["x"] + popover["width"] <= 390
    no_horizontal_scroll(page)


def test_the_state_picker_searches_and_ticks(page: Page, star_path: Path) -> None:
    page.goto("/analytics")
    wait_ready(page)
    page.click("#state-button")
    expect(page.locator("#state-search")).to_be_focused()
    page.fill("#state-search", "new")
    shown = page.locator("#state-options label:visible")
    expect(shown).to_have_text(["New Hampshire", "New Jersey", "New Mexico", "New York"])
    expect(page.locator("#state-count")).to_have_text("4 shown")
    before = seq_of(page)
    page.check("#state-options input[value='New York']")
    page.check("#state-options input[value='New Jersey']")  # quick ticks make one refresh
    page.fill("#state-search", "")
    expect(page.locator("#state-options label:visible")).to_have_count(49)
    page.keyboard.press("Escape")
    wait_ready(page, before + 1)
    assert seq_of(page) == before + 1
    expect(page.locator("#state-popover")).to_be_hidden()
    expect(page.locator("#state-button")).to_have_text("States: New Jersey, New York")
    assert "state=New+Jersey&state=New+York" in page.url
    case = {"state": ["New Jersey", "New York"]}
    assert kpis_shown(page) == kpis_expected(star_path, case)
    states = api(page, "states?state=New+Jersey&state=New+York")["rows"]
    # The map keeps every state (the chosen ones outlined); its numbers are the API's.
    drawn = option(page, "chart-states", ".series[0].data")
    shown = {d["name"]: d["value"] for d in drawn if d.get("value") is not None}  # type: ignore[union-attr]
    assert shown == {r["state"]: float(r["value"]) for r in states if r["value"] is not None}
    outlined = [d["name"] for d in drawn if d.get("itemStyle")]  # type: ignore[union-attr]
    assert sorted(outlined) == ["New Jersey", "New York"]
    before = seq_of(page)
    page.click("#state-button")
    page.uncheck("#state-options input[value='New York']")
    page.click("#state-done")
    wait_ready(page, before + 1)
    assert kpis_shown(page) == kpis_expected(star_path, {"state": ["New Jersey"]})


def test_a_legend_toggles_its_series(page: Page) -> None:
    page.goto("/analytics?year=2016")
    wait_ready(page)
    x, y = page.evaluate(TEXT_AT_JS, ["chart-trend", "Furniture"])
    page.mouse.click(x, y)
    expect(page.locator("#chart-trend")).to_have_attribute("data-finished", "1")
    assert option(page, "chart-trend", ".legend[0].selected") == {
        "Furniture": False,
        "Office Supplies": True,
        "Technology": True,
    }
    rows = api(page, "category-trend?year=2016&grain=month")["rows"]
    text = hover(page, "chart-trend", "point", "Technology", 5)
    assert "Jun 2016" in text and "Furniture" not in text
    for cat in ("Office Supplies", "Technology"):
        [row] = [r for r in rows if r["category"] == cat and r["period"] == "2016-06"]
        assert f"{cat}: {money(row['value'])}" in text
    page.mouse.click(x, y)  # and back
    expect(page.locator("#chart-trend")).to_have_attribute("data-finished", "1")
    assert option(page, "chart-trend", ".legend[0].selected")["Furniture"] is True  # type: ignore[index]


# ---- keyboard ------------------------------------------------------------------------


def _tab_to(page: Page, element_id: str) -> None:
    for _ in range(120):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def test_keyboard_only_cross_filters_like_a_click(
    page: Page, browser: Browser, server: DashboardServer, star_path: Path
) -> None:
    page.goto("/analytics?year=2017")
    wait_ready(page)
    _tab_to(page, "chart-segments")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    rows = api(page, "segments?year=2017")["rows"]
    second = rows[1]
    expect(page.locator("#announce")).to_contain_text(
        f"{second['segment']}: {money(second['value'])}"
    )
    tip = page.locator("#chart-segments > div").filter(has=page.locator("b")).first
    expect(tip).to_be_visible()  # the focused member shows its own tooltip
    expect(tip.locator("b")).to_have_text(second["segment"])
    expect(tip).to_contain_text(money(second["value"]))
    before = seq_of(page)
    page.keyboard.press("Enter")
    wait_ready(page, before + 1)
    by_keys = kpis_shown(page)
    assert by_keys == kpis_expected(star_path, {"year": [2017], "segment": second["segment"]})
    expect(page.locator('#chips [data-filter="segment"]')).to_have_attribute(
        "data-value", second["segment"]
    )
    context = browser.new_context(base_url=server.url, viewport={"width": 1400, "height": 1000})
    try:
        clicked = context.new_page()
        clicked.goto("/analytics?year=2017")
        wait_ready(clicked)
        click_chart(clicked, "chart-segments", "pie", second["segment"])
        assert kpis_shown(clicked) == by_keys
    finally:
        context.close()


def test_keyboard_reaches_the_trend_points_drawn_after_wiring(page: Page, star_path: Path) -> None:
    """The trend chart's keys read the rows of the latest answer (they were wired before)."""
    page.goto("/analytics?trend=year")
    wait_ready(page)
    _tab_to(page, "chart-trend")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#chart-trend")).to_have_attribute("data-focus-index", "0")
    row = next(
        r for r in api(page, "category-trend?grain=year")["rows"] if r["category"] == "Furniture"
    )
    expect(page.locator("#announce")).to_have_text(f"Furniture, 2014: {money(row['value'])}")
    before = seq_of(page)
    page.keyboard.press("Enter")  # drills into 2014, as a click on the point does
    wait_ready(page, before + 1)
    assert "period=2014" in page.url
    assert kpis_shown(page) == kpis_expected(star_path, {"from": "2014-01-01", "to": "2014-12-31"})


# ---- theme ---------------------------------------------------------------------------


def _rgb(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(h[i : i + 2], 16) for i in (0, 2, 4)))


def _theme_colours(page: Page) -> dict[str, str]:
    return page.evaluate("() => ({ card: SS.theme().card, ink: SS.theme().ink })")


def _tooltip_background(page: Page, chart_id: str, kind: str, name: str) -> str:
    hover(page, chart_id, kind, name)
    tip = page.locator(f"#{chart_id} > div").filter(has=page.locator("b")).first
    return tip.evaluate("(el) => getComputedStyle(el).backgroundColor")


def test_dark_mode_toggle_recolours_tooltips_and_labels(page: Page) -> None:
    page.goto("/analytics?year=2016")
    wait_ready(page)
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    light = _theme_colours(page)
    assert _tooltip_background(page, "chart-segments", "pie", "Consumer") == _rgb(light["card"])
    page.click("#theme-toggle")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.locator("#theme-toggle")).to_have_attribute("aria-pressed", "true")
    dark = _theme_colours(page)
    assert dark != light
    page.mouse.move(5, 5)
    assert _tooltip_background(page, "chart-segments", "pie", "Consumer") == _rgb(dark["card"])
    assert _tooltip_background(page, "chart-regions", "treemap", "West") == _rgb(dark["card"])
    assert option(page, "chart-segments", ".series[0].label.color") == dark["ink"]
    assert option(page, "chart-segments", ".tooltip[0].textStyle.color") == dark["ink"]
    page.reload()  # remembered
    wait_ready(page)
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    assert _tooltip_background(page, "chart-segments", "pie", "Consumer") == _rgb(dark["card"])
    page.click("#theme-toggle")
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    assert option(page, "chart-segments", ".series[0].label.color") == light["ink"]


def test_today_follows_the_theme_too(page: Page) -> None:
    page.goto(f"/today?date={BUSY_DAY}")
    expect(page.locator("body")).to_have_attribute("data-renders", "1")
    light = _theme_colours(page)
    page.click("#theme-toggle")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    dark = _theme_colours(page)
    for chart in ("top-products", "categories"):
        assert option(page, chart, ".tooltip[0].backgroundColor") == dark["card"], chart
        assert option(page, chart, ".series[0].label.color") == dark["ink"], chart
    assert dark != light


def test_prefers_color_scheme_dark(browser: Browser, server: DashboardServer) -> None:
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1400, "height": 1000}, color_scheme="dark"
    )
    try:
        page = context.new_page()
        page.goto("/analytics?year=2016")
        wait_ready(page)
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        dark = _theme_colours(page)
        assert dark["card"].lower() == "#161b22"
        assert _tooltip_background(page, "chart-segments", "pie", "Consumer") == _rgb(dark["card"])
        page.emulate_media(color_scheme="light")  # the system changes: the page follows
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
        assert (
            option(page, "chart-segments", ".series[0].label.color") == _theme_colours(page)["ink"]
        )
    finally:
        context.close()


# ---- data-table view -----------------------------------------------------------------


def _table(page: Page, visual: str) -> list[list[str]]:
    card = page.locator(f'[data-visual="{visual}"]')
    card.locator("[data-table-toggle]").click()
    expect(card.locator(".table-view")).to_be_visible()
    expect(card.locator(".chart-wrap")).to_be_hidden()
    return card.locator(".table-view tbody tr").evaluate_all(
        "(rs) => rs.map((r) => [...r.cells].slice(0, -1).map((c) => c.textContent))"
    )


def test_the_table_view_of_a_visual_equals_the_api(page: Page) -> None:
    page.goto("/analytics?year=2016&segment=Consumer")
    wait_ready(page)
    regions = api(page, "regions?year=2016&segment=Consumer")["rows"]
    assert _table(page, "regions") == [
        [
            r["region"],
            money(r["value"]),
            f"{float(r['share']) * 100:.1f}%",
            money(r["sales"]),
            money(r["profit"]),
        ]
        for r in regions
    ]
    trend = api(page, "category-trend?year=2016&segment=Consumer&grain=month")["rows"]
    periods = sorted({r["period"] for r in trend})
    cats = ["Furniture", "Office Supplies", "Technology"]
    value = {(r["period"], r["category"]): money(r["value"]) for r in trend}
    shown = _table(page, "trend")
    assert [row[1:] for row in shown] == [[value[(p, c)] for c in cats] for p in periods]
    assert shown[0][0] == "Jan 2016" and len(shown) == 12
    before = seq_of(page)
    page.locator('[data-visual="regions"] .table-view button', has_text="Filter").first.click()
    wait_ready(page, before + 1)
    assert f"region={regions[0]['region']}" in page.url


# ---- viewer and analyst, signed in through the OpenID Connect provider -----------------


@pytest.fixture(scope="module")
def signed_dashboards(
    web_pg: PgConfig,
    star_path: Path,
    oidc_provider: OidcProvider,  # noqa: F811
) -> Iterator[DashboardServer]:
    with oidc_dashboards(web_pg, star_path, oidc_provider) as running:
        yield running


CSV_LINKS = (
    "#csv-category-trend, #csv-segments, #csv-regions, #csv-growth, #csv-states, #csv-kpis,"
    " #csv-breakdown, #zip, #lines-csv"
)


def test_a_viewer_is_not_offered_downloads_an_analyst_is(
    signed_dashboards: DashboardServer,
    oidc_provider: OidcProvider,  # noqa: F811
    browser: Browser,
    star_path: Path,
) -> None:
    viewer_context = browser.new_context(base_url=signed_dashboards.url, accept_downloads=True)
    analyst_context = browser.new_context(base_url=signed_dashboards.url, accept_downloads=True)
    try:
        bob = browser_sign_in(viewer_context.new_page(), oidc_provider.account("bob"), "/analytics")
        expect(bob.locator("body")).to_have_attribute("data-me", "viewer")
        wait_ready(bob)
        expect(bob.locator("#who")).to_have_text(
            "bob@superstore.test (viewer; states Oklahoma, Texas)"
        )
        for link in bob.locator(CSV_LINKS).all():
            expect(link).to_be_hidden()
        expect(bob.locator('nav a[href="/docs"]')).to_be_hidden()
        me = bob.request.get("/api/me").json()
        assert me["may"] == {"csv": False, "zip": False, "api": False, "ops": False}
        csv_url = bob.locator("#csv-segments").get_attribute("href")
        assert csv_url and bob.request.get(csv_url).status == 403
        assert bob.request.get("/api/analytics/export").status == 403
        bob.goto("/today")
        expect(bob.locator("body")).to_have_attribute("data-me", "viewer")
        expect(bob.locator('nav a[href="/docs"]')).to_be_hidden()

        alice = browser_sign_in(
            analyst_context.new_page(), oidc_provider.account("alice"), "/analytics?year=2016"
        )
        expect(alice.locator("body")).to_have_attribute("data-me", "analyst")
        wait_ready(alice)
        expect(alice.locator("#who")).to_have_text("alice@superstore.test (analyst; regions West)")
        for link_id in ("#csv-segments", "#csv-kpis", "#zip"):
            expect(alice.locator(link_id)).to_be_visible()
        expect(alice.locator('nav a[href="/docs"]')).to_be_visible()
        with alice.expect_download() as download:
            alice.click("#csv-segments")
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        want = truth(star_path, {"year": [2016], "region": "West"})["sales"]
        assert money(sum(Decimal(r["sales"]) for r in rows)) == money(want)
        with alice.expect_download() as download:
            alice.click("#zip")
        assert download.value.suggested_filename.endswith(".zip")
        assert alice.request.get("/openapi.json").status == 200
    finally:
        viewer_context.close()
        analyst_context.close()
