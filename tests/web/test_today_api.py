"""/today's API against the PostgreSQL it reads: exact numbers, live push, read-only."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from decimal import Decimal

import httpx
import psycopg
import pytest
from webstar import new_order  # type: ignore[import-not-found]

from superstore.clients import PgConfig
from superstore.ingest import load_lines_direct
from superstore.messages import OrderLine
from superstore.web import DashboardServer, WebConfig
from superstore.web.source import read_only_dsn

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


def test_snapshot_equals_the_database(api: httpx.Client, web_pg: PgConfig) -> None:
    snap = api.get("/api/today", params={"date": BUSY_DAY}).raise_for_status().json()
    truth = oltp_day(web_pg, BUSY_DAY)
    assert snap["date"] == BUSY_DAY
    assert (snap["lines"], snap["orders"]) == (truth["lines"], truth["orders"])
    assert Decimal(snap["sales"]) == truth["sales"]  # exact, as a decimal string
    assert {c["category"]: Decimal(c["sales"]) for c in snap["categories"]} == truth["categories"]
    assert [Decimal(p["sales"]) for p in snap["top_products"]] == truth["top"]
    assert len(snap["latest_orders"]) == min(10, truth["orders"])
    assert sum(Decimal(c["sales"]) for c in snap["categories"]) == truth["sales"]


def test_empty_day_and_bad_dates(api: httpx.Client) -> None:
    snap = api.get("/api/today", params={"date": "1999-01-01"}).json()
    assert (snap["lines"], snap["orders"], Decimal(snap["sales"])) == (0, 0, 0)
    assert snap["top_products"] == [] and snap["last_update"] is None
    for bad in ("2016-13-01", "2016-09-05' OR '1'='1", "0001-01-01", "x" * 500):
        response = api.get("/api/today", params={"date": bad})
        assert response.status_code == 422, bad


def test_sessions_are_read_only(web_pg: PgConfig) -> None:
    with (
        PgConfig(read_only_dsn(web_pg.dsn)).connect(autocommit=True) as conn,
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
    ):
        conn.execute("DELETE FROM order_lines")


def test_stream_pushes_each_commit(
    server: DashboardServer, web_pg: PgConfig, dataset: list[OrderLine]
) -> None:
    """The SSE stream sends the new snapshot within a second of the commit (no polling)."""
    day = dt.date(2031, 1, 2)
    events: list[dict] = []
    got = threading.Condition()

    def listen() -> None:
        with (
            httpx.Client(base_url=server.url, timeout=None) as client,
            client.stream("GET", "/api/today/stream", params={"date": str(day)}) as response,
        ):
            for line in response.iter_lines():
                if line.startswith("data: "):
                    with got:
                        events.append(json.loads(line[6:]))
                        got.notify_all()
                    if len(events) >= 2:
                        return

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    with got:
        assert got.wait_for(lambda: len(events) >= 1, timeout=10)
    assert events[0]["lines"] == 0
    committed = time.monotonic()
    load_lines_direct(web_pg, new_order(dataset[0], "WEB-SSE-1", day, lines=3))
    with got:
        assert got.wait_for(lambda: len(events) >= 2, timeout=5)
    latency = time.monotonic() - committed
    assert events[1]["lines"] == 3 and Decimal(events[1]["sales"]) == Decimal("600.0006")
    print(f"SSE: commit -> event in {latency * 1000:.0f} ms")
    assert latency < 1.0, f"pushed {latency:.2f}s after the commit"
    reader.join(timeout=5)


def test_empty_database_says_what_to_do(fresh_pg: PgConfig) -> None:
    """No sales tables yet: a 503 with the fix, and a stream that says so and stays open."""
    config = WebConfig(pg=PgConfig(read_only_dsn(fresh_pg.dsn)), warehouse=None)
    with DashboardServer(config) as server, httpx.Client(base_url=server.url) as client:
        response = client.get("/api/today")
        assert response.status_code == 503 and "superstore ingest" in response.json()["detail"]
        with client.stream("GET", "/api/today/stream") as stream:
            lines = stream.iter_lines()
            assert next(lines) == "event: problem"
            assert "superstore ingest" in json.loads(next(lines)[6:])["detail"]
        analytics = client.get("/api/analytics/kpis")
        assert analytics.status_code == 503 and "no warehouse" in analytics.json()["detail"]
