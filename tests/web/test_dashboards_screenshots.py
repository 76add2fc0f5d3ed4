"""Screenshots of both pages for the README (`make screenshots`; skipped otherwise)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.web import BUSY_DAY, wait_ready

TARGET = os.environ.get("DASHBOARD_SCREENSHOTS")

pytestmark = pytest.mark.skipif(not TARGET, reason="set DASHBOARD_SCREENSHOTS=<dir>")


def _settled(page: Page) -> None:
    for chart in page.locator(".chart").all():
        expect(chart).to_have_attribute("data-finished", "1")


def test_screenshots(page: Page) -> None:
    out = Path(str(TARGET))
    out.mkdir(parents=True, exist_ok=True)
    page.goto(f"/today?date={BUSY_DAY}")
    expect(page.locator("body")).to_have_attribute("data-renders", "1")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    _settled(page)
    page.screenshot(path=out / "today.png", full_page=True)
    page.goto("/analytics?year=2016&year=2017&segment=Consumer")
    wait_ready(page)
    _settled(page)
    page.screenshot(path=out / "analytics.png", full_page=True)
