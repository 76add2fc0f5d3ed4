"""/analytics in Chromium: the time from navigation to every visual drawn, fresh loads.

Drawn means what a person sees: the page says it is ready (``body
data-state="ready"``) and every chart has fired ECharts' ``finished``
event (``data-finished="1"``: rendered, and its animation, if any, over).
A MutationObserver installed before any of the page's scripts
(``add_init_script``) takes ``performance.now()`` (ms since navigation
start) the moment both hold. Both the current page and the previous main's
(which sets the same attributes, but no performance marks) are timed by this
one definition; the page's own marks (``scripts-run``, ``options``, ``data``,
``visuals-drawn``) are recorded where it has them.

Each load is a new browser context (empty cache, new connections, as a first
visit); the servers' answer caches are warmed by one load each first, not
counted. Contenders take turns load by load, so a slower stretch of the
shared machine falls on both.
"""

from __future__ import annotations

import statistics
from typing import Any

from playwright.sync_api import Browser, sync_playwright

__all__ = ["CHROMIUM", "time_to_drawn"]

CHROMIUM = "/usr/bin/chromium"
_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
VIEWPORT = {"width": 1400, "height": 1000}  # the desktop of the dashboard tests

_WATCH = """
(() => {
  const drawn = () => {
    const charts = document.querySelectorAll(".chart");
    return document.body !== null && document.body.dataset.state === "ready" &&
      charts.length > 0 && [...charts].every((c) => c.dataset.finished === "1");
  };
  new MutationObserver(() => {
    if (window.__drawnAt === undefined && drawn()) window.__drawnAt = performance.now();
  }).observe(document, { subtree: true, attributes: true,
                         attributeFilter: ["data-finished", "data-state"] });
})();
"""

_READ = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const api = performance.getEntriesByType("resource").filter((r) => r.name.includes("/api/"));
  return {
    drawn_ms: window.__drawnAt,
    dom_content_loaded_ms: nav ? nav.domContentLoadedEventEnd : null,
    last_api_answer_ms: api.length ? Math.max(...api.map((r) => r.responseEnd)) : null,
    api_requests: api.length,
    charts: document.querySelectorAll(".chart").length,
    marks: Object.fromEntries(
      performance.getEntriesByType("mark").map((m) => [m.name, m.startTime])),
  };
}
"""


def _one(browser: Browser, url: str) -> dict[str, Any]:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        page.add_init_script(_WATCH)
        page.goto(url)
        page.wait_for_function("() => window.__drawnAt !== undefined", timeout=60_000)
        got: dict[str, Any] = page.evaluate(_READ)
        return got
    finally:
        context.close()


def _summary(loads: list[dict[str, Any]]) -> dict[str, Any]:
    drawn = [x["drawn_ms"] for x in loads]
    out: dict[str, Any] = {
        "loads": len(loads),
        "median_ms": round(statistics.median(drawn), 1),
        "min_ms": round(min(drawn), 1),
        "max_ms": round(max(drawn), 1),
        "drawn_ms": [round(x, 1) for x in drawn],
        "median_dom_content_loaded_ms": round(
            statistics.median(x["dom_content_loaded_ms"] for x in loads), 1
        ),
        "median_last_api_answer_ms": round(
            statistics.median(x["last_api_answer_ms"] or 0 for x in loads), 1
        ),
        "api_requests": loads[0]["api_requests"],
        "charts": loads[0]["charts"],
    }
    names = set().union(*(x["marks"] for x in loads))
    out["median_marks_ms"] = {
        n: round(statistics.median(x["marks"][n] for x in loads if n in x["marks"]), 1)
        for n in sorted(names)
    }
    return out


def time_to_drawn(pages: dict[str, str], loads: int = 10) -> dict[str, dict[str, Any]]:
    """Per contender (name -> page URL): the median and every load's time to all drawn."""
    got: dict[str, list[dict[str, Any]]] = {name: [] for name in pages}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=_ARGS)
        try:
            for url in pages.values():  # warm each server's answer cache: not counted
                _one(browser, url)
            order = list(pages)
            for n in range(loads):
                for name in order if n % 2 == 0 else reversed(order):
                    got[name].append(_one(browser, pages[name]))
        finally:
            browser.close()
    return {name: _summary(x) for name, x in got.items()}
