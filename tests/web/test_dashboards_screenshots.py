"""Pictures of the dashboards for the docs (`make screenshots`; skipped otherwise).

Desktop (1400x1000) and phone (390x844) of both pages, dark mode, a date
drill-down with its breadcrumb, and a print preview: the PDF Chromium prints,
its first page rendered to PNG by pdftoppm (poppler-utils).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.web import BUSY_DAY, wait_ready

TARGET = os.environ.get("DASHBOARD_SCREENSHOTS")
VIEW = "/analytics?year=2016&year=2017&segment=Consumer"

pytestmark = pytest.mark.skipif(not TARGET, reason="set DASHBOARD_SCREENSHOTS=<dir>")


def _out() -> Path:
    out = Path(str(TARGET))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _settled(page: Page) -> None:
    for chart in page.locator(".chart").all():
        expect(chart).to_have_attribute("data-finished", "1")


def _today(page: Page) -> None:
    page.goto(f"/today?date={BUSY_DAY}")
    expect(page.locator("body")).to_have_attribute("data-renders", "1")
    _settled(page)


def _analytics(page: Page, url: str = VIEW) -> None:
    page.goto(url)
    wait_ready(page)
    _settled(page)


def test_desktop_dark_and_drill_down(page: Page) -> None:
    out = _out()
    _today(page)
    page.screenshot(path=out / "today.png", full_page=True)
    _analytics(page)
    page.screenshot(path=out / "analytics.png", full_page=True)
    _analytics(page, "/analytics?year=2016&period=2016-Q4")  # what clicking 2016 > Q4 shows
    crumbs = page.locator("#trend-crumbs")
    expect(crumbs).to_be_visible()
    expect(crumbs).to_contain_text("Q4")
    page.locator('[data-visual="trend"]').screenshot(path=out / "analytics-drill.png")
    page.emulate_media(color_scheme="dark")
    page.reload()
    wait_ready(page)
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    _settled(page)
    page.screenshot(path=out / "analytics-dark.png", full_page=True)


def test_phone(phone_page: Page) -> None:
    out = _out()
    _analytics(phone_page)
    phone_page.screenshot(path=out / "analytics-phone.png", full_page=True)
    _today(phone_page)
    phone_page.screenshot(path=out / "today-phone.png", full_page=True)


def test_print_preview(page: Page, tmp_path: Path) -> None:
    if not shutil.which("pdftoppm"):
        pytest.fail("pdftoppm not found: run `bash scripts/system-deps.sh --browser`")
    _analytics(page, "/analytics?year=2016&segment=Consumer")
    page.emulate_media(media="print")  # what the browser's print does first: charts fit paper
    _settled(page)
    pdf = tmp_path / "analytics.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    stem = tmp_path / "page"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(stem)],
        check=True,
    )
    shutil.copyfile(stem.with_suffix(".png"), _out() / "analytics-print.png")
