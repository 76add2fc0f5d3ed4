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

from superstore.clients import PgConfig
from superstore.contract import OrderLine
from superstore.oltp import load_lines_direct
from superstore.web import DashboardServer, WebConfig
from tests.support.web import BUSY_DAY, oltp_day
from tests.support.webstar import new_order


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
        PgConfig(web_pg.dsn).read_only().connect(autocommit=True) as conn,
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
    config = WebConfig(pg=PgConfig(fresh_pg.dsn).read_only(), warehouse=None)
    with DashboardServer(config) as server, httpx.Client(base_url=server.url) as client:
        response = client.get("/api/today")
        assert response.status_code == 503 and "superstore ingest" in response.json()["detail"]
        with client.stream("GET", "/api/today/stream") as stream:
            lines = stream.iter_lines()
            assert next(lines) == "event: problem"
            assert "superstore ingest" in json.loads(next(lines)[6:])["detail"]
        analytics = client.get("/api/analytics/kpis")
        assert analytics.status_code == 503 and "no warehouse" in analytics.json()["detail"]
