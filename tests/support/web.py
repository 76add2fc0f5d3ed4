"""Shared helpers of the dashboard tests: the truth computed independently, and the browser.

`truth` and `oltp_day` compute what the pages must show straight from the
warehouse file and the OLTP tables, without the app's queries. The browser
helpers drive /analytics as a person would; positions are read from
ECharts' own layout (never guessed), so a test hovers or clicks a member
exactly where a person would.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
from playwright.sync_api import Page, expect

from superstore.clients import PgConfig
from tests.support.webstar import money

__all__ = [
    "BUSY_DAY",
    "FACTS",
    "POINT_JS",
    "api",
    "click_chart",
    "hover",
    "kpis_expected",
    "kpis_shown",
    "no_horizontal_scroll",
    "oltp_day",
    "option",
    "pct",
    "point",
    "seq_of",
    "truth",
    "wait_ready",
]


FACTS = """
FROM star.sales_fact f
JOIN star.time_dim t USING (time_key)
JOIN star.customer_dim c USING (customer_key)
JOIN star.product_dim p USING (product_key)
JOIN star.location_dim l USING (location_key)
"""


def _where(case: dict) -> tuple[str, list]:
    clauses, params = ["TRUE"], []
    if case.get("from"):
        clauses.append("t.full_date >= CAST(? AS DATE)")
        params.append(case["from"])
    if case.get("to"):
        clauses.append("t.full_date <= CAST(? AS DATE)")
        params.append(case["to"])
    if case.get("year"):
        clauses.append(f"t.year IN ({', '.join('?' * len(case['year']))})")
        params += case["year"]
    if case.get("state"):
        clauses.append(f"l.state IN ({', '.join('?' * len(case['state']))})")
        params += case["state"]
    for key, column in (
        ("segment", "c.segment"),
        ("region", "l.region"),
        ("category", "p.category"),
    ):
        if case.get(key):
            clauses.append(f"{column} = ?")
            params.append(case[key])
    return " AND ".join(clauses), params


def truth(star: Path, case: dict) -> dict:
    """KPIs straight from the fact table (no pre-aggregates)."""
    where, params = _where(case)
    with duckdb.connect(str(star), read_only=True) as con:
        row = con.execute(
            f"""SELECT coalesce(sum(f.sales), 0), coalesce(sum(f.profit), 0),
                       coalesce(sum(f.quantity), 0), count(*), count(DISTINCT f.order_id),
                       count(DISTINCT f.customer_key), count(DISTINCT (l.state, l.city))
                {FACTS} WHERE {where}""",
            params,
        ).fetchone()
    names = ("sales", "profit", "quantity", "lines", "orders", "customers", "cities")
    return dict(zip(names, row, strict=True))


BUSY_DAY = "2016-09-05"  # one of the data set's busiest days


def oltp_day(pg: PgConfig, day: str) -> dict[str, object]:
    """The day's truth, computed independently of the app's queries."""
    with pg.connect(autocommit=True) as conn:
        lines, orders, sales = conn.execute(
            """SELECT count(*), count(DISTINCT o.order_id), coalesce(sum(l.sales), 0)
               FROM order_lines l JOIN orders o USING (order_id) WHERE o.order_date = %s""",
            [day],
        ).fetchone()
        cats = conn.execute(
            """SELECT p.category, sum(l.sales) FROM order_lines l
               JOIN orders o USING (order_id)
               JOIN products p USING (product_id, product_name)
               WHERE o.order_date = %s GROUP BY 1""",
            [day],
        ).fetchall()
        top = conn.execute(
            """SELECT sum(l.sales) s FROM order_lines l JOIN orders o USING (order_id)
               WHERE o.order_date = %s GROUP BY l.product_id, l.product_name
               ORDER BY s DESC LIMIT 5""",
            [day],
        ).fetchall()
    return {
        "lines": lines,
        "orders": orders,
        "sales": Decimal(sales),
        "categories": {c: Decimal(s) for c, s in cats},
        "top": [Decimal(s) for (s,) in top],
    }


# Where ECharts drew an item, in page pixels: [x, y] of its middle.
POINT_JS = """
([id, kind, name, index]) => {
  const chart = echarts.getInstanceByDom(document.getElementById(id));
  const box = chart.getDom().getBoundingClientRect();
  const series = chart.getModel().getSeriesByIndex(0);
  let x, y;
  if (kind === "pie") {
    const data = series.getData();
    const l = data.getItemLayout(data.indexOfName(name));
    const a = (l.startAngle + l.endAngle) / 2, r = (l.r0 + l.r) / 2;
    [x, y] = [l.cx + r * Math.cos(a), l.cy + r * Math.sin(a)];
  } else if (kind === "treemap") {
    const root = series.getViewRoot();
    const node = root.children.find((n) => n.name === name);
    const l = node.getLayout(), base = series.layoutInfo;
    [x, y] = [base.x + l.x + l.width / 2, base.y + l.y + l.height / 2];
  } else if (kind === "map") {
    const geo = series.coordinateSystem;
    [x, y] = geo.dataToPoint(geo.getRegion(name).getCenter());
  } else if (kind === "bar") {
    const data = series.getData();
    const l = data.getItemLayout(data.indexOfName(name));
    [x, y] = [l.x + l.width / 2, l.y + l.height / 2];
  } else if (kind === "point" || kind === "segment") {
    const option = chart.getOption();
    const k = option.series.findIndex((s) => s.name === name);
    const i = index ?? Math.floor(option.xAxis[0].data.length / 2);
    const at = (j) => chart.convertToPixel({ seriesIndex: k }, [j, option.series[k].data[j]]);
    if (kind === "point") [x, y] = at(i);
    else { const [a, b] = [at(i), at(i + 1)]; [x, y] = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]; }
  }
  return [box.left + x, box.top + y];
}
"""


def wait_ready(page: Page, seq: int | None = None) -> None:
    """Wait for the analytics page to finish a (numbered) render."""
    body = page.locator("body")
    if seq is not None:
        expect(body).to_have_attribute("data-seq", str(seq), timeout=10_000)
    expect(body).to_have_attribute("data-state", "ready", timeout=10_000)


def seq_of(page: Page) -> int:
    return int(page.locator("body").get_attribute("data-seq") or 0)


def point(page: Page, chart_id: str, kind: str, name: str, index: int | None = None) -> tuple:
    """Page pixels of a chart member, the chart scrolled into view and settled."""
    chart = page.locator(f"#{chart_id}")
    chart.scroll_into_view_if_needed()
    expect(chart).to_have_attribute("data-finished", "1")
    return tuple(page.evaluate(POINT_JS, [chart_id, kind, name, index]))


def hover(page: Page, chart_id: str, kind: str, name: str, index: int | None = None) -> str:
    """Hover a member like a mouse would; returns the tooltip's text once it shows `name`."""
    x, y = point(page, chart_id, kind, name, index)
    page.mouse.move(x - 8, y - 8)
    page.mouse.move(x, y, steps=4)
    tooltip = page.locator(f"#{chart_id} > div").filter(has=page.locator("b"))
    expect(tooltip.first).to_be_visible()
    return tooltip.first.inner_text()


def click_chart(
    page: Page, chart_id: str, kind: str, name: str, index: int | None = None, refresh: bool = True
) -> None:
    """Click a member of a chart with the real mouse, and wait for the page to refresh."""
    before = seq_of(page)
    x, y = point(page, chart_id, kind, name, index)
    page.mouse.click(x, y)
    if refresh:
        wait_ready(page, before + 1)


def option(page: Page, chart_id: str, path: str = "") -> object:
    """A piece of a chart's current ECharts option (e.g. `.series[0].data`)."""
    return page.evaluate(
        f"() => echarts.getInstanceByDom(document.getElementById('{chart_id}')).getOption(){path}"
    )


def api(page: Page, path: str) -> dict:
    """The JSON the page's API gives for `path` (same server, same filters)."""
    return page.request.get(f"/api/analytics/{path}").json()


def pct(share: str | float) -> str:
    """How the pages show a share or ratio: one decimal."""
    value = (Decimal(str(share)) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{value}%"


def kpis_shown(page: Page) -> dict[str, str]:
    """The KPI cards' text."""
    names = ("sales", "profit", "orders", "quantity", "customers", "cities")
    return {n: page.locator(f"#kpi-{n}").inner_text() for n in names}


def kpis_expected(star: Path, case: dict) -> dict[str, str]:
    """What the KPI cards must show for a filter case, from the fact table."""
    t = truth(star, case)
    return {
        "sales": money(t["sales"]),
        "profit": money(t["profit"]),
        **{n: f"{t[n]:,}" for n in ("orders", "quantity", "customers", "cities")},
    }


def no_horizontal_scroll(page: Page) -> None:
    """The page is no wider than the screen (a phone must never scroll sideways)."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    screen = page.viewport_size["width"]  # type: ignore[index]
    assert width <= screen, f"the page is {width} px wide on a {screen} px screen"
