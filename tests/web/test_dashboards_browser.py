"""Both dashboards in a real browser (Debian's Chromium via Playwright), used as a person would.

Numbers on screen are compared with the databases, charts are clicked where
they are drawn (pixel positions read from ECharts' own layout), slicers are
used, CSVs downloaded, and /today is watched updating while lines flow
through Kafka and the ingest consumer. The `page` fixture fails any test
whose page logged a console error.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
import time
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Page, expect

from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import OrderLine
from superstore.ingest.consumer import IngestOptions, Ingestor
from superstore.produce import produce_records, to_records
from tests.support.web import (
    BUSY_DAY,
    click_chart,
    kpis_expected,
    kpis_shown,
    oltp_day,
    seq_of,
    wait_ready,
)
from tests.support.webstar import money, new_order


def test_analytics_shows_the_warehouse_numbers_quickly(page: Page, star_path: Path) -> None:
    page.goto("/analytics")
    wait_ready(page)
    started = time.monotonic()
    page.reload()
    wait_ready(page)
    load = time.monotonic() - started
    assert kpis_shown(page) == kpis_expected(star_path, {})
    print(f"/analytics: every visual shown {load:.2f}s after navigation")
    assert load < 1.5, f"/analytics took {load:.2f}s to show every visual"


def test_cross_filtering_by_click_and_reset(page: Page, star_path: Path) -> None:
    page.goto("/analytics")
    wait_ready(page)
    regions_before = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('chart-regions'))"
        ".getOption().series[0].data.map((d) => d.value)"
    )
    click_chart(page, "chart-segments", "pie", "Corporate")
    assert kpis_shown(page) == kpis_expected(star_path, {"segment": "Corporate"})
    expect(page.locator('#chips [data-filter="segment"]')).to_have_attribute(
        "data-value", "Corporate"
    )
    regions_after = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('chart-regions'))"
        ".getOption().series[0].data.map((d) => d.value)"
    )
    assert regions_after != regions_before and sum(regions_after) < sum(regions_before)
    assert "segment=Corporate" in page.url

    click_chart(page, "chart-regions", "treemap", "West")
    assert kpis_shown(page) == kpis_expected(star_path, {"segment": "Corporate", "region": "West"})
    click_chart(page, "chart-trend", "segment", "Technology")  # the line, not a point
    case = {"segment": "Corporate", "region": "West", "category": "Technology"}
    assert kpis_shown(page) == kpis_expected(star_path, case)
    click_chart(page, "chart-states", "map", "California")
    assert kpis_shown(page) == kpis_expected(star_path, {**case, "state": ["California"]})

    before = seq_of(page)
    page.click("#reset")
    wait_ready(page, before + 1)
    assert kpis_shown(page) == kpis_expected(star_path, {})
    expect(page.locator("#reset")).to_be_disabled()


def test_slicers(page: Page, star_path: Path) -> None:
    page.goto("/analytics")
    wait_ready(page)
    for year, expected in ((2016, [2016]), (2017, [2016, 2017])):
        before = seq_of(page)
        page.click(f'#year-slicer button[data-year="{year}"]')
        wait_ready(page, before + 1)
        assert kpis_shown(page) == kpis_expected(star_path, {"year": expected})
    before = seq_of(page)
    page.click("#state-button")
    page.fill("#state-search", "cali")
    expect(page.locator("#state-options label:visible")).to_have_count(1)
    page.check("#state-options input[value='California']")
    page.fill("#state-search", "tex")
    page.check("#state-options input[value='Texas']")
    page.click("#state-done")
    wait_ready(page, before + 1)
    expect(page.locator("#state-button")).to_have_text("States: California, Texas")
    case = {"year": [2016, 2017], "state": ["California", "Texas"]}
    assert kpis_shown(page) == kpis_expected(star_path, case)
    # The growth line only shows the selected years' periods.
    periods = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('chart-growth'))"
        ".getOption().xAxis[0].data"
    )
    assert periods == [f"{y}-Q{q}" for y in (2016, 2017) for q in range(1, 5)]


def test_csv_export(page: Page) -> None:
    page.goto("/analytics?year=2016")
    wait_ready(page)
    with page.expect_download() as download:
        page.click("#csv-segments")
    assert download.value.suggested_filename == "superstore-segments_year-2016.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    api = page.request.get("/api/analytics/segments?year=2016").json()["rows"]
    assert [(r["segment"], Decimal(r["sales"])) for r in rows] == [
        (r["segment"], Decimal(r["sales"])) for r in api
    ]
    assert sum(Decimal(r["sales"]) for r in rows) == Decimal(
        page.locator("#kpi-sales").get_attribute("data-value")
    )


def test_today_shows_the_database_numbers(page: Page, web_pg: PgConfig) -> None:
    page.goto(f"/today?date={BUSY_DAY}")
    expect(page.locator("body")).to_have_attribute("data-renders", "1")
    expected = oltp_day(web_pg, BUSY_DAY)
    expect(page.locator("#sales")).to_have_text(money(expected["sales"]))
    expect(page.locator("#orders")).to_have_text(f"{expected['orders']:,}")
    expect(page.locator("#lines")).to_have_text(f"{expected['lines']:,}")
    bars = page.evaluate(
        "() => echarts.getInstanceByDom(document.getElementById('top-products'))"
        ".getOption().series[0].data"
    )
    assert sorted(Decimal(str(b)) for b in bars) == sorted(expected["top"])
    expect(page.locator("#latest tr")).to_have_count(10)


def test_today_updates_live_from_kafka(
    page: Page, web_pg: PgConfig, fresh_kafka: KafkaConfig, dataset: list[OrderLine]
) -> None:
    """produce -> Kafka -> exactly-once ingest -> NOTIFY -> SSE -> the page, under 2 s."""
    page.goto("/today")
    expect(page.locator("body")).to_have_attribute("data-renders", "1")
    day = dt.date.fromisoformat(page.locator("#day-picker").input_value())
    page.evaluate("() => { window.__sameDocument = true; }")
    ingestor = Ingestor(fresh_kafka, web_pg, IngestOptions(group_id="web-live", batch_timeout=0.05))
    worker = threading.Thread(target=ingestor.run, daemon=True)
    worker.start()
    try:
        shown = Decimal(page.locator("#sales").get_attribute("data-value"))
        for n, size in enumerate((2, 3), start=1):
            order = new_order(dataset[n], f"WEB-LIVE-{day:%Y%m%d}-{n}", day, size, unit="10.5050")
            shown += sum(x.sales for x in order)
            sent = time.monotonic()
            produce_records(fresh_kafka, list(to_records(order)))
            # The first order also waits for the consumer to join its group.
            expect(page.locator("#sales")).to_have_attribute(
                "data-value", f"{shown:.4f}", timeout=20_000 if n == 1 else 2_000
            )
            seen = time.monotonic() - sent
            expect(page.locator("#latest tr").first).to_contain_text(order[0].order_id)
        print(f"/today: produced -> shown in {seen:.2f}s")
        assert seen < 2.0, f"the page showed the second order {seen:.2f}s after producing it"
        assert page.evaluate("() => window.__sameDocument") is True  # no reload happened
        expect(page.locator("#live")).to_have_attribute("data-state", "live")
    finally:
        ingestor.stop_event.set()
        worker.join(timeout=30)
