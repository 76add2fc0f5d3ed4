"""/analytics' analysis depth and /today's hourly view, in Chromium, checked against the API.

The measure switch, the breakdown table (sort, top-N, levels, CSV), the KPI
cards' change against the previous comparable period, drill-through to the
order lines (paging, sorting, CSV), PNG and zip exports, accessible names,
and /today's sales by hour against the same weekday's average. Every number
read from the screen is compared with the API of the same server (or the
fact table), never with itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, cast

from playwright.sync_api import Page, expect

from tests.support.web import BUSY_DAY, api, hover, option, seq_of, truth, wait_ready
from tests.support.webstar import money

MEMBER_VISUALS = {"segments": "segment", "regions": "region", "states": "state"}
VISUALS = ("trend", "segments", "regions", "growth", "states")


def _one_decimal(x: float) -> str:
    """JavaScript's `toFixed(1)`: the double's exact value, a tie rounded away from zero."""
    return str(Decimal(x).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _fmt(unit: str, value: object) -> str:
    """A value as the pages show it (common.js `SS.fmt`)."""
    if value is None:
        return "n/a"
    if unit == "money":
        return money(Decimal(str(value)))
    if unit == "ratio":
        return f"{_one_decimal(float(value) * 100)}%"  # type: ignore[arg-type]
    return f"{int(Decimal(str(value))):,}"


def _change(unit: str, value: float | None) -> str:
    """A change against the previous period as the pages show it (`SS.change`)."""
    if value is None:
        return "n/a"
    sign = "+" if value > 0 else ""
    text = _one_decimal(value)
    return f"{sign}{text} pts" if unit == "ratio" else f"{sign}{text}%"


def _units(page: Page) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in page.request.get("/api/analytics/options").json()["measures"]}


def _table_view(page: Page, visual: str) -> list[list[str]]:
    """The data-table view of a visual, opened with its Table button: rows of cell texts."""
    card = page.locator(f'[data-visual="{visual}"]')
    toggle = card.locator("[data-table-toggle]")
    if toggle.get_attribute("aria-pressed") != "true":
        toggle.click()
    rows = card.locator(".table-view tbody tr")
    return cast(
        list[list[str]],
        rows.evaluate_all(
            "(trs) => trs.map((tr) => [...tr.querySelectorAll('td:not(.actions)')]"
            ".map((td) => td.textContent))"
        ),
    )


def _click_and_wait(page: Page, selector: str) -> None:
    before = seq_of(page)
    page.locator(selector).click()
    wait_ready(page, before + 1)


# ---- 1. the measure switch ------------------------------------------------------------


def test_measure_switch_changes_every_visual_and_kpi(page: Page) -> None:
    page.goto("/analytics?year=2016")
    wait_ready(page)
    units = _units(page)
    for name in ("profit", "quantity", "margin", "sales"):
        m = units[name]
        _click_and_wait(page, f'#measure button[data-measure="{name}"]')
        expect(page.locator(f'#measure button[data-measure="{name}"]')).to_have_attribute(
            "aria-pressed", "true"
        )
        kpis = api(page, "kpis?year=2016")["kpis"]
        expect(page.locator(f"#kpi-{name}")).to_have_text(_fmt(m["unit"], kpis[name]))
        for visual, key in MEMBER_VISUALS.items():
            rows = api(page, f"{visual}?year=2016&measure={name}")["rows"]
            shown = {r[0]: r[1] for r in _table_view(page, visual)}
            expected = {r[key]: _fmt(m["unit"], r["value"]) for r in rows}
            assert shown == expected, (name, visual)
            title = page.locator(f'[data-visual="{visual}"] .title')
            expect(title).to_contain_text(m["label"])
        trend = api(page, f"category-trend?year=2016&measure={name}&grain=month")["rows"]
        for cat in ("Furniture", "Office Supplies", "Technology"):
            drawn = option(page, "chart-trend", f".series.find((s) => s.name === '{cat}').data")
            want = [float(r["value"]) for r in trend if r["category"] == cat]
            assert drawn == want, (name, cat)
        growth = api(page, f"growth?year=2016&measure={name}&grain=quarter")["rows"]
        shown_growth = _table_view(page, "growth")
        assert [r[1] for r in shown_growth] == [_fmt(m["unit"], r["value"]) for r in growth]
        # A hover reads the same number as the table: one member of the donut/bars.
        for visual in ("segments", "regions", "states"):
            toggle = page.locator(f'[data-visual="{visual}"] [data-table-toggle]')
            toggle.click()  # back to the chart
        regions = api(page, f"regions?year=2016&measure={name}")["rows"]
        first = regions[0]
        parts = m["additive"] and all(r.get("share") is not None for r in regions)
        kind = "treemap" if parts else "bar"
        text = hover(page, "chart-regions", kind, first["region"])
        assert _fmt(m["unit"], first["value"]) in text, (name, text)
        page.mouse.move(5, 5)


# ---- 2. the breakdown table ------------------------------------------------------------


def _breakdown_rows(page: Page) -> list[list[str]]:
    rows = page.locator("#breakdown-table tbody tr:not(.sum)")
    return cast(
        list[list[str]],
        rows.evaluate_all(
            "(trs) => trs.map((tr) => [...tr.querySelectorAll('td:not(.actions)')]"
            ".map((td) => td.textContent))"
        ),
    )


def test_breakdown_levels_top_n_sort_and_csv(page: Page) -> None:
    page.goto("/analytics?year=2017")
    wait_ready(page)
    body = api(page, "breakdown?year=2017&by=category&top=5")
    assert [r[0] for r in _breakdown_rows(page)] == [r["category"] for r in body["rows"]]
    assert [r[1] for r in _breakdown_rows(page)] == [money(r["sales"]) for r in body["rows"]]
    # Down a level: the sub-categories of Technology, then the products of Phones.
    before = seq_of(page)
    page.get_by_role("button", name="sub-categories of Technology").click()
    wait_ready(page, before + 1)
    body = api(page, "breakdown?year=2017&by=sub_category&category=Technology&top=5")
    shown = _breakdown_rows(page)
    assert [(r[0], r[2]) for r in shown] == [
        (r["sub_category"], money(r["sales"])) for r in body["rows"]
    ]
    before = seq_of(page)
    page.get_by_role("button", name="products of Phones").click()
    wait_ready(page, before + 1)
    expect(page.locator("#breakdown-crumbs .crumb")).to_have_text(
        ["All categories", "Technology", "Phones"]
    )
    before = seq_of(page)
    page.select_option("#breakdown-top", "20")
    wait_ready(page, before + 1)
    query = "year=2017&by=product&category=Technology&sub_category=Phones&top=20"
    body = api(page, f"breakdown?{query}")
    shown = _breakdown_rows(page)
    assert len(shown) == len(body["rows"]) == min(20, body["total"]["members"])
    assert [(r[1], r[3]) for r in shown] == [
        (r["product_id"], money(r["sales"])) for r in body["rows"]
    ]
    total = page.locator("#breakdown-table tbody tr.sum").last.locator("td").nth(3)
    expect(total).to_have_text(money(body["total"]["sales"]))
    # Sort by profit, ascending on the second click.
    sort = page.locator("#breakdown-table thead").get_by_role("button", name="sort by profit")
    sort.click()
    expect(page.locator('#breakdown-table th[aria-sort="descending"]')).to_contain_text("profit")
    by_profit = sorted(body["rows"], key=lambda r: Decimal(r["profit"]), reverse=True)
    assert [r[1] for r in _breakdown_rows(page)] == [r["product_id"] for r in by_profit]
    page.locator("#breakdown-table thead").get_by_role("button", name="sort by profit").click()
    expect(page.locator('#breakdown-table th[aria-sort="ascending"]')).to_contain_text("profit")
    assert [r[1] for r in _breakdown_rows(page)] == [r["product_id"] for r in by_profit[::-1]]
    # Its CSV is the API's rows.
    with page.expect_download() as download:
        page.click("#csv-breakdown")
    got = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    listed = [r for r in got if r.get("product_id")]
    assert [(r["product_id"], Decimal(r["sales"])) for r in listed][: len(body["rows"])] == [
        (r["product_id"], Decimal(r["sales"])) for r in body["rows"]
    ]
    assert "year-2017" in download.value.suggested_filename
    # By city: rows on screen equal the API's.
    before = seq_of(page)
    page.select_option("#breakdown-by", "city")
    wait_ready(page, before + 1)
    body = api(page, "breakdown?year=2017&by=city&top=20&category=Technology")
    shown = _breakdown_rows(page)
    assert [(r[0], r[3]) for r in shown] == [
        (f"{r['city']}, {r['state']}", money(r["sales"])) for r in body["rows"]
    ]


# ---- 3. KPI change against the previous comparable period --------------------------------


def test_kpi_cards_show_the_change_against_the_previous_period(page: Page) -> None:
    kpis = (
        ("sales", "money"),
        ("returns", "money"),
        ("net_sales", "money"),
        ("return_rate", "ratio"),
        ("profit", "money"),
        ("margin", "ratio"),
        ("orders", "count"),
        ("quantity", "count"),
        ("customers", "count"),
        ("cities", "count"),
    )
    for query in ("period=2016-Q3", "year=2016", "range=month-to-date"):
        page.goto(f"/analytics?{query}")
        wait_ready(page)
        body = api(page, f"kpis?{query}")
        prev = body["previous"]
        assert prev is not None, query
        for name, unit in kpis:
            expect(page.locator(f"#kpi-{name}")).to_have_text(_fmt(unit, body["kpis"][name]))
            want = f"{_change(unit, prev['change'][name])} vs {prev['label']}"
            expect(page.locator(f"#kpi-{name}-delta")).to_have_text(want)
    page.goto("/analytics")
    wait_ready(page)
    assert api(page, "kpis")["previous"] is None
    expect(page.locator("#kpi-sales-delta")).to_have_text("")


# ---- 4. drill-through ------------------------------------------------------------------


def _dialog_rows(page: Page) -> list[list[str]]:
    rows = page.locator("#lines-table tbody tr")
    return cast(
        list[list[str]],
        rows.evaluate_all(
            "(trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent))"
        ),
    )


def test_drill_through_from_a_mark_and_a_kpi(page: Page, star_path: Path) -> None:
    page.goto("/analytics?year=2016")
    wait_ready(page)
    dialog = page.locator("#lines-dialog")
    # From a mark: the West region's row in the regions' table view -> its lines.
    page.locator('[data-visual="regions"] [data-table-toggle]').click()
    page.get_by_role("button", name="Lines: West").click()
    expect(dialog).to_have_attribute("data-state", "ready")
    expect(page.locator("#lines-title")).to_have_text("Order lines: West")
    query = "year=2016&region=West"
    first = api(page, f"lines?{query}&sort=sales&order=desc&page=1&size=50")
    expected = truth(star_path, {"year": [2016], "region": "West"})
    assert first["totals"]["lines"] == expected["lines"]
    assert Decimal(first["totals"]["sales"]) == expected["sales"]
    summary = page.locator("#lines-summary")
    expect(summary).to_contain_text(f"{expected['lines']:,} lines")
    expect(summary).to_contain_text(f"sales {money(expected['sales'])}")

    def shown_keys() -> list[str]:
        return [r[1] for r in _dialog_rows(page)]

    def api_keys(body: dict[str, Any]) -> list[str]:
        return [f"{r['order_id']} #{r['line_number']}" for r in body["rows"]]

    assert shown_keys() == api_keys(first)
    assert [r[7] for r in _dialog_rows(page)] == [money(r["sales"]) for r in first["rows"]]
    expect(page.locator("#lines-page")).to_have_text(f"page 1 of {first['pages']}")
    expect(page.locator("#lines-prev")).to_be_disabled()
    # Paging.
    page.click("#lines-next")
    expect(page.locator("#lines-page")).to_have_text(f"page 2 of {first['pages']}")
    expect(dialog).to_have_attribute("data-state", "ready")
    second = api(page, f"lines?{query}&sort=sales&order=desc&page=2&size=50")
    assert shown_keys() == api_keys(second)
    # Sort by date: descending first, ascending on the second click, back to page 1.
    page.get_by_role("button", name="sort lines by date").click()
    expect(page.locator('#lines-table th[aria-sort="descending"]')).to_have_text("date")
    expect(dialog).to_have_attribute("data-state", "ready")
    page.get_by_role("button", name="sort lines by date").click()
    expect(page.locator('#lines-table th[aria-sort="ascending"]')).to_have_text("date")
    expect(dialog).to_have_attribute("data-state", "ready")
    expect(page.locator("#lines-page")).to_have_text(f"page 1 of {first['pages']}")
    by_date = api(page, f"lines?{query}&sort=date&order=asc&page=1&size=50")
    assert shown_keys() == api_keys(by_date)
    assert [r[0] for r in _dialog_rows(page)] == sorted(r[0] for r in _dialog_rows(page))
    # Its CSV: every line behind the number, in the dialog's order.
    with page.expect_download() as download:
        page.click("#lines-csv")
    got = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(got) == expected["lines"]
    assert sum(Decimal(r["sales"]) for r in got) == expected["sales"]
    assert [f"{r['order_id']} #{r['line_number']}" for r in got[:50]] == api_keys(by_date)
    page.click("#lines-close")
    expect(dialog).not_to_have_attribute("open", "")
    # From a KPI card: every line under the filters.
    page.locator('.kpi[data-kpi="profit"]').click()
    expect(dialog).to_have_attribute("data-state", "ready")
    everything = truth(star_path, {"year": [2016]})
    expect(summary).to_have_attribute("data-lines", str(everything["lines"]))
    expect(summary).to_contain_text(f"profit {money(everything['profit'])}")
    kpi_first = api(page, "lines?year=2016&sort=sales&order=desc&page=1&size=50")
    assert shown_keys() == api_keys(kpi_first)
    page.click("#lines-close")


# ---- 5. PNG and zip ----------------------------------------------------------------------


def test_png_of_a_visual_and_the_zip_of_the_page(page: Page) -> None:
    page.goto("/analytics?year=2016&region=West&measure=profit")
    wait_ready(page)
    for visual in ("regions", "trend"):
        chart = page.locator(f"#chart-{visual}")
        chart.scroll_into_view_if_needed()
        expect(chart).to_have_attribute("data-finished", "1")
        with page.expect_download() as download:
            page.locator(f'[data-visual="{visual}"] [data-png]').click()
        data = Path(download.value.path()).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", visual
        assert len(data) > 10_000, (visual, len(data))
        name = download.value.suggested_filename
        assert name.endswith(".png") and "year-2016" in name and "region-West" in name, name
        assert "measure-profit" in name, name
    with page.expect_download() as download:
        page.click("#zip")
    archive = zipfile.ZipFile(Path(download.value.path()))
    names = archive.namelist()
    assert "README.txt" in names
    stems = ("kpis_", "category-trend_", "segments_", "regions_", "growth_", "states_")
    for stem in (*stems, "breakdown-category_"):
        found = [n for n in names if n.startswith(f"superstore-{stem}")]
        assert len(found) == 1, (stem, names)
        assert "year-2016" in found[0] and "region-West" in found[0], found
    segments = next(n for n in names if n.startswith("superstore-segments_"))
    rows = list(csv.DictReader(io.StringIO(archive.read(segments).decode())))
    api_rows = api(page, "segments?year=2016&region=West&measure=profit")["rows"]
    assert {r["segment"]: Decimal(r["profit"]) for r in rows} == {
        r["segment"]: Decimal(r["profit"]) for r in api_rows
    }


# ---- 6. accessible names ----------------------------------------------------------------

NAMELESS_JS = """
() => {
  const named = (el) => {
    if ((el.getAttribute("aria-label") || "").trim()) return true;
    const by = el.getAttribute("aria-labelledby");
    const text = (id) => (document.getElementById(id)?.textContent || "").trim();
    if (by && by.split(" ").some(text)) return true;
    if (el.labels && [...el.labels].some((l) => l.textContent.trim())) return true;
    if (el.tagName !== "SELECT" && el.tagName !== "INPUT" && el.textContent.trim()) return true;
    return !!(el.title || "").trim();
  };
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  return [...document.querySelectorAll("button, select, input, a[href], [role=button]")]
    .filter((el) => visible(el) && !named(el)).map((el) => el.outerHTML.slice(0, 120));
}
"""


def test_every_chart_and_control_has_an_accessible_name(page: Page) -> None:
    page.goto("/analytics?year=2016")
    wait_ready(page)
    for visual in VISUALS:
        chart = page.locator(f"#chart-{visual}")
        label = chart.get_attribute("aria-label") or ""
        assert label.strip(), visual
        assert chart.get_attribute("role") in ("img", "application"), visual
    # Playwright finds each chart by its role and name (what a screen reader announces).
    labels = [page.locator(f"#chart-{v}").get_attribute("aria-label") or "" for v in VISUALS]
    for label in labels:
        expect(page.get_by_role("application", name=label, exact=True)).to_have_count(1)
    assert page.evaluate(NAMELESS_JS) == []
    for name in ("Gross sales", "Reset filters", "Print", "Dark mode"):
        expect(page.get_by_role("button", name=name).first).to_be_visible()
    for name in ("Dates", "by", "top"):
        expect(page.get_by_role("combobox", name=name, exact=True)).to_have_count(1)
    page.goto(f"/today?date={BUSY_DAY}")
    expect(page.locator("body")).to_have_attribute("data-renders", "1")
    assert page.evaluate(NAMELESS_JS) == []


# ---- 7. /today: sales by hour against the same weekday -----------------------------------


def test_today_hours_against_the_weekday_average(page: Page) -> None:
    page.goto(f"/today?date={BUSY_DAY}")
    expect(page.locator("body")).to_have_attribute("data-renders", "1")
    body = page.request.get(f"/api/today/hours?date={BUSY_DAY}").json()
    chart = page.locator("#hours")
    chart.scroll_into_view_if_needed()
    expect(chart).to_have_attribute("data-finished", "1")
    series = option(page, "hours", ".series")
    assert isinstance(series, list)
    assert series[0]["data"] == [float(h["sales"]) for h in body["hours"]]
    assert series[1]["data"] == [float(h["sales"]) for h in body["average"]]
    assert option(page, "hours", ".xAxis[0].data") == [f"{h['hour']:02d}:00" for h in body["hours"]]
    days = len(body["averaged_days"])
    note = page.locator("#hours-note")
    expect(note).to_contain_text(f"({days} of the previous 4)" if days else "no earlier")
    # The tooltip of the busiest hour reads the API's figures.
    busiest = max(range(24), key=lambda i: Decimal(body["hours"][i]["sales"]))
    x, y = page.evaluate(
        """(i) => { const c = echarts.getInstanceByDom(document.getElementById('hours'));
                  const box = c.getDom().getBoundingClientRect();
                  const [x, y] = c.convertToPixel({ seriesIndex: 0 }, [i, 0]);
                  return [box.left + x, box.top + y - 4]; }""",
        busiest,
    )
    page.mouse.move(x, y - 10)
    page.mouse.move(x, y, steps=3)
    tooltip = page.locator("#hours > div").filter(has=page.locator("b")).first
    expect(tooltip).to_be_visible()
    hour = body["hours"][busiest]
    expect(tooltip).to_contain_text(f"received: {money(hour['sales'])} ({hour['lines']:,} lines)")
    average = money(body["average"][busiest]["sales"]) if days else "n/a"
    weekday = dt.date.fromisoformat(BUSY_DAY).strftime("%A")
    expect(tooltip).to_contain_text(f"average {weekday}: {average}")
