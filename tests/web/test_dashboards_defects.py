"""The defects an analyst found in both dashboards, each shown on screen and compared with the API.

Each test failed on the dashboards before they were fixed (checked once by
serving the previous static files): tooltips read a neighbour's row, time
axes skipped empty months and smoothed lines, colours followed rank, empty
results showed $0.00, a bad URL blanked the page, CSV files did not say
what made them, the map legend said "more/less", printing clipped charts,
phones scrolled sideways, /today called ingest time "time" and a past day
"live", and the page took 1.7 s to draw.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
import subprocess
from decimal import Decimal
from pathlib import Path

import duckdb
from playwright.sync_api import Browser, Page, expect

from superstore.web import DashboardServer
from tests.support.web import (
    BUSY_DAY,
    FACTS,
    api,
    click_chart,
    hover,
    kpis_expected,
    no_horizontal_scroll,
    option,
    pct,
    truth,
    wait_ready,
)
from tests.support.webstar import money

# The colour ECharts actually painted each member with: {member: colour}.
COLOURS_JS = """
(id) => {
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  const out = {};
  chart.getModel().eachSeries((series) => {
    const data = series.getData();
    if (series.subType === "line") {
      out[series.name] = series.get(["lineStyle", "color"]) || data.getVisual("style").stroke;
      return;
    }
    for (let i = 0; i < data.count(); i++) {
      out[data.getName(i)] = data.getItemVisual(i, "style").fill;
    }
  });
  return out;
}
"""
# The label texts ECharts drew in a chart (what a person reads around the shapes).
LABELS_JS = """
(id) => echarts.getInstanceByDom(document.getElementById(id)).getZr().storage.getDisplayList()
  .filter((e) => e.style && typeof e.style.text === "string" && e.style.text.trim())
  .map((e) => {
    const r = e.getBoundingRect().clone();
    if (e.transform) r.applyTransform(e.transform);
    return { text: e.style.text, x: r.x, y: r.y, w: r.width, h: r.height };
  })
"""
EMPTY = "state=Wyoming&year=2017"  # Wyoming sold in 2016 only
TECH_FIRST_DAY = "2017-09-02"  # Technology sold most, Furniture least: ranks reversed


def test_every_tooltip_reads_its_own_member(page: Page) -> None:
    page.goto("/analytics?year=2016")
    wait_ready(page)
    for r in api(page, "regions?year=2016")["rows"]:  # every tile, the last one included
        text = hover(page, "chart-regions", "treemap", r["region"])
        assert r["region"] in text and money(r["sales"]) in text and money(r["profit"]) in text
    for r in api(page, "segments?year=2016")["rows"]:
        text = hover(page, "chart-segments", "pie", r["segment"])
        assert r["segment"] in text and money(r["sales"]) in text and pct(r["share"]) in text
    for r in api(page, "states?year=2016")["rows"]:
        if r["state"] in ("California", "Texas", "Vermont", "Wyoming", "Florida"):
            text = hover(page, "chart-states", "map", r["state"])
            assert r["state"] in text and money(r["sales"]) in text and money(r["profit"]) in text
    trend = api(page, "category-trend?year=2016&grain=month")["rows"]
    june = [r for r in trend if r["period"] == "2016-06"]
    text = hover(page, "chart-trend", "point", "Technology", 5)
    assert "Jun 2016" in text
    for r in june:
        assert f"{r['category']}: {money(r['value'])}" in text
    growth = api(page, "growth?year=2016&grain=quarter")["rows"]
    text = hover(page, "chart-growth", "point", "Gross sales", 2)
    q3 = growth[2]
    assert money(q3["value"]) in text and money(q3["prev_value"]) in text
    assert f"+{q3['change']:.1f}%" in text or f"{q3['change']:.1f}%" in text


def test_bars_tooltips_when_a_measure_is_not_parts_of_a_whole(page: Page) -> None:
    page.goto("/analytics?year=2016&measure=margin")
    wait_ready(page)
    assert option(page, "chart-regions", ".series[0].type") == "bar"
    for r in api(page, "regions?year=2016&measure=margin")["rows"]:
        text = hover(page, "chart-regions", "bar", r["region"])
        assert f"Profit margin: {pct(r['value'])}" in text and money(r["sales"]) in text


def test_one_region_left_still_hovers_and_filters(page: Page) -> None:
    page.goto("/analytics?state=Texas")
    wait_ready(page)
    (central,) = api(page, "regions?state=Texas")["rows"]
    text = hover(page, "chart-regions", "treemap", "Central")
    assert money(central["sales"]) in text and money(central["profit"]) in text
    click_chart(page, "chart-regions", "treemap", "Central")
    expect(page.locator('#chips [data-filter="region"]')).to_contain_text("Central")


def test_time_axes_keep_empty_periods_and_straight_lines(page: Page) -> None:
    """North Dakota sold in few months: 2017-05 is followed by 2017-06, at zero."""
    page.goto("/analytics?state=North+Dakota&growth=quarter")
    wait_ready(page)
    months = option(page, "chart-trend", ".xAxis[0].data")
    assert months == [f"{y}-{m:02d}" for y in range(2014, 2018) for m in range(1, 13)]
    series = option(page, "chart-trend", ".series")
    assert all(s["smooth"] in (False, 0) for s in series)
    june = months.index("2017-06")
    assert all(s["data"][june] == 0 for s in series)
    quarters = option(page, "chart-growth", ".xAxis[0].data")
    assert quarters == [f"{y}-Q{q}" for y in range(2014, 2018) for q in (1, 2, 3, 4)]
    assert all(s.get("smooth") in (None, False, 0) for s in option(page, "chart-growth", ".series"))


def test_colours_belong_to_members_whatever_the_filters(page: Page) -> None:
    page.goto("/analytics")
    wait_ready(page)
    before = {
        c: page.evaluate(COLOURS_JS, c) for c in ("chart-regions", "chart-segments", "chart-trend")
    }
    page.goto("/analytics?category=Technology&year=2017")  # other ranks
    wait_ready(page)
    after = {
        c: page.evaluate(COLOURS_JS, c) for c in ("chart-regions", "chart-segments", "chart-trend")
    }
    for chart, colours in before.items():
        assert {k: after[chart][k] for k in colours if k in after[chart]} == colours, chart
    # /today colours a category as /analytics does, whichever sold most that day.
    seen = {}
    for day in (BUSY_DAY, TECH_FIRST_DAY):
        page.goto(f"/today?date={day}")
        expect(page.locator("body")).to_have_attribute("data-renders", "1")
        expect(page.locator("#categories")).to_have_attribute("data-finished", "1")
        seen[day] = page.evaluate(COLOURS_JS, "categories")
    assert seen[BUSY_DAY] == seen[TECH_FIRST_DAY] == before["chart-trend"]


def test_empty_results_say_so(page: Page) -> None:
    page.goto(f"/analytics?{EMPTY}")
    wait_ready(page)
    expect(page.locator("#notice")).to_contain_text("No sales match these filters")
    for kpi in ("sales", "profit", "orders", "customers"):
        expect(page.locator(f"#kpi-{kpi}")).to_have_text("–")
    for chart in ("trend", "segments", "regions"):  # growth shows 2016, the map every state
        empty = page.locator(f"#chart-{chart} + .empty")
        expect(empty).to_be_visible()
        expect(empty).to_contain_text("No sales")
    with page.expect_download() as download:
        page.click("#csv-segments")
    assert Path(download.value.path()).read_text().splitlines() == [
        "segment,sales,profit,quantity,lines,returns,net_sales,share"
    ]


def test_a_bad_url_is_recovered_with_a_notice(page: Page, star_path: Path) -> None:
    page.goto("/analytics?year=1999&year=2016&state=Atlantis&trend=decade")
    wait_ready(page)
    notice = page.locator("#notice")
    for word in ("1999", "Atlantis", "decade"):
        expect(notice).to_contain_text(word)
    assert (
        page.locator("#kpi-sales").inner_text()
        == kpis_expected(star_path, {"year": [2016]})["sales"]
    )
    assert "1999" not in page.url and "Atlantis" not in page.url and "decade" not in page.url
    expect(page.locator("#reset")).to_be_enabled()
    for chart in ("trend", "segments", "regions", "growth", "states"):
        expect(page.locator(f"#chart-{chart}")).to_have_attribute("data-finished", "1")


def test_csv_files_say_which_filters_made_them(page: Page) -> None:
    page.goto("/analytics?year=2016&state=Texas&state=Ohio")
    wait_ready(page)
    with page.expect_download() as download:
        page.click("#csv-states")
    assert download.value.suggested_filename == "superstore-states_year-2016_state-Ohio+Texas.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert sorted(r["state"] for r in rows) == ["Ohio", "Texas"]
    total = sum(Decimal(r["sales"]) for r in rows)
    assert total == Decimal(page.locator("#kpi-sales").get_attribute("data-value"))


def test_map_legend_pie_labels_and_cities_say_what_they_count(page: Page, star_path: Path) -> None:
    page.goto("/analytics?year=2017")
    wait_ready(page)
    states = api(page, "states?year=2017")["rows"]
    top, bottom = option(page, "chart-states", ".visualMap[0].text")
    assert money(max(Decimal(r["sales"]) for r in states)) in top
    assert "$0.00" in bottom
    labels = [t["text"] for t in page.evaluate(LABELS_JS, "chart-segments") if "%" in t["text"]]
    assert len(labels) == 3 and all(re.fullmatch(r"\d{1,3}\.\d%", t) for t in labels), labels
    expect(page.locator('.kpi[data-kpi="cities"] .label')).to_contain_text("city + state")
    with duckdb.connect(str(star_path), read_only=True) as con:
        (names,) = con.execute(
            f"SELECT count(DISTINCT l.city) {FACTS} WHERE t.year = 2017"
        ).fetchone()
    pairs = truth(star_path, {"year": [2017]})["cities"]
    expect(page.locator("#kpi-cities-note")).to_have_text(
        f"{pairs:,} city + state pairs; {names:,} city names"
    )


def test_print_lays_the_page_out_on_paper(page: Page, tmp_path: Path) -> None:
    page.goto("/analytics?year=2016&segment=Consumer")
    wait_ready(page)
    page.emulate_media(media="print")
    expect(page.locator("#print-filters")).to_be_visible()
    expect(page.locator("#print-filters")).to_contain_text("year 2016; segment Consumer")
    for hidden in ("#reset", "#print", "#zip", ".tools", "#measure", "#year-slicer"):
        for el in page.locator(hidden).all():
            expect(el).to_be_hidden()
    a4_height = (297 - 24) / 25.4 * 96  # printable px at 12 mm margins
    for card in page.locator(".card").all():
        assert card.evaluate("(e) => getComputedStyle(e).breakInside") == "avoid"
        box = card.bounding_box()
        assert box and box["height"] < a4_height
        for canvas in card.locator("canvas").all():
            c = canvas.bounding_box()
            assert c and c["x"] + c["width"] <= box["x"] + box["width"] + 1, "a chart is clipped"
    for paper in ("A4", "Letter"):
        pdf = tmp_path / f"{paper}.pdf"
        page.pdf(path=str(pdf), format=paper, print_background=True)
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        pages = text.split("\f")
        assert "year 2016; segment Consumer" in pages[0]
        for title in (
            "by category over time",
            "by segment",
            "by region",
            "growth, year over year",
            "by state",
        ):
            assert sum(title in p for p in pages) == 1, (paper, title)
        assert "Reset filters" not in text and "Download all" not in text


def test_phones_never_scroll_sideways(phone_page: Page) -> None:
    page = phone_page
    page.goto("/analytics?year=2016")
    wait_ready(page)
    no_horizontal_scroll(page)
    for chart in ("trend", "segments", "regions", "growth", "states"):
        box = page.locator(f"#chart-{chart}").bounding_box()
        assert box and 300 < box["width"] <= 390
    labels = [t["text"] for t in page.evaluate(LABELS_JS, "chart-segments")]
    assert not any("..." in t or "…" in t for t in labels)
    page.goto(f"/today?date={BUSY_DAY}")
    expect(page.locator("body")).to_have_attribute("data-renders", "1")
    expect(page.locator("#top-products")).to_have_attribute("data-finished", "1")
    no_horizontal_scroll(page)
    widths = page.evaluate(
        """() => { const s = echarts.getInstanceByDom(document.getElementById('top-products'))
            .getModel().getSeriesByIndex(0).getData();
          return Array.from({length: s.count()}, (_, i) => s.getItemLayout(i).width); }"""
    )
    assert len(widths) == 5 and min(widths) > 20, widths
    boxes = [t for t in page.evaluate(LABELS_JS, "top-products") if not t["text"].startswith("$")]
    for a in boxes:  # product names never pile on each other
        for b in boxes:
            if a is not b:
                assert a["y"] + a["h"] <= b["y"] + 0.5 or b["y"] + b["h"] <= a["y"] + 0.5, (a, b)
    texts = [t["text"] for t in page.evaluate(LABELS_JS, "categories")]
    assert not any("..." in t or "…" in t for t in texts), texts
    for name in ("Furniture", "Office Supplies", "Technology"):  # named in the legend, with a share
        assert any(re.fullmatch(rf"{name} \d{{1,3}}\.\d%", t) for t in texts), (name, texts)


def test_today_says_what_its_times_are(page: Page) -> None:
    page.goto(f"/today?date={BUSY_DAY}")
    expect(page.locator("body")).to_have_attribute("data-renders", "1")
    expect(page.locator("#latest-table th").first).to_contain_text("received (ingest time)")
    first = page.locator("#latest tr").first.locator("td").first.inner_text()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", first), (
        first
    )  # ingested another day
    assert re.fullmatch(
        r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \(UTC\)", page.locator("#last-update").inner_text()
    )
    expect(page.locator("#live")).to_have_attribute("data-state", "history")
    expect(page.locator("#live")).to_contain_text("not live")
    page.goto("/today")  # today: pushes for today make it live
    expect(page.locator("#live")).to_have_attribute("data-state", "live")


def test_the_first_paint_is_not_animated(browser: Browser, server: DashboardServer) -> None:
    """Every chart's first paint skips ECharts' animation (the time it costs is measured by
    bench/dashboard.py, not asserted here: this machine's speed drifts too much for that)."""
    drawn = """() => new Promise((done) => {
      const check = () => {
        const charts = [...document.querySelectorAll('.chart')];
        if (document.body && document.body.dataset.state === 'ready' && charts.length &&
            charts.every((c) => c.dataset.finished === '1')) done(performance.now());
        else requestAnimationFrame(check);
      };
      check();
    })"""
    times = []
    for _ in range(3):
        context = browser.new_context(base_url=server.url, viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.goto("/analytics?year=2016", wait_until="commit")
        times.append(tab.evaluate(drawn) / 1000)
        animated = tab.evaluate(
            "() => [...document.querySelectorAll('.chart')].map((c) =>"
            " [c.id, echarts.getInstanceByDom(c).getOption().animation])"
        )
        context.close()
        assert animated and all(flag is False for _, flag in animated), animated
    median = statistics.median(times)
    print(f"/analytics: every visual drawn {median:.2f}s after navigation (loads: {times})")
