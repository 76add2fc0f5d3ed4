"""/analytics with cancellations and returns, through the real pipeline, and following changes.

Lines and order events go through the ingest transaction (`write_batch`) into
a fresh PostgreSQL database, are exported to a lake and loaded by the ETL;
the API must then show gross sales without the cancelled orders, returns,
net sales and the return rate exactly as computed here by hand, on every
visual; the drill-through leaves cancelled lines out; `options` says when
the warehouse was loaded; `/api/analytics/stream` announces a newer load;
and any text the contract accepts can be filtered on.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
import pytest

from superstore.clients import PgConfig
from superstore.contract import MAX_TEXT, OrderEvent, OrderLine
from superstore.data import lines_between, load_lines
from superstore.etl import DuckDBEngine, run_etl
from superstore.export import export_days
from superstore.oltp import migrate
from superstore.storage import LakeConfig
from superstore.warehouse import DuckDBReader, DuckDBWarehouse
from superstore.web import DashboardServer, WebConfig
from tests.support.ingest import Feed

FIRST, LAST = dt.date(2016, 11, 1), dt.date(2016, 11, 30)
AT = dt.datetime(2016, 12, 2, 9, 0, tzinfo=dt.UTC)
ODD_CATEGORY = "Garden\u00a0Tools"  # a non-breaking space: valid text, not str.isprintable()
LONG_SUB = "S" * MAX_TEXT


class Pipeline:
    """A database, a lake and a warehouse of one month, and a way to change it."""

    def __init__(self, pg: PgConfig, root: Path) -> None:
        migrate(pg)
        self.pg = pg
        self.lake = LakeConfig(url=str(root / "lake"))
        self.path = root / "warehouse.duckdb"
        self.feed = Feed(pg)
        month = lines_between(load_lines(), FIRST, LAST)
        odd = month[0].model_copy(
            update={
                "order_id": "ODD-1", "line_number": 1, "row_id": None,
                "category": ODD_CATEGORY, "sub_category": LONG_SUB,
                "product_id": "ODD-PR-1", "product_name": "Odd item",
            }
        )  # fmt: skip
        self.lines: list[OrderLine] = [*month, odd]
        orders: dict[str, list[OrderLine]] = {}
        for line in month:
            orders.setdefault(line.order_id, []).append(line)
        multi = [o for o in orders.values() if len(o) >= 2]
        self.cancelled = multi[0]
        self.returned = multi[1]  # the whole order
        self.partly = next(o for o in multi[2:] if (o[0].quantity or 0) >= 2)  # 1 unit of line 1
        self.events = [
            OrderEvent(event="order_cancelled", order_id=self.cancelled[0].order_id, event_time=AT),
            OrderEvent(event="order_returned", order_id=self.returned[0].order_id, event_time=AT),
            OrderEvent.model_validate({
                "event": "order_returned", "order_id": self.partly[0].order_id,
                "event_time": AT.isoformat(),
                "lines": [{"line_number": self.partly[0].line_number, "quantity": 1}]}),
        ]  # fmt: skip
        self.feed.write(self.lines, self.events)
        self.load()

    def load(self) -> None:
        days = sorted({x.order_date for x in self.lines})
        export_days(self.pg, self.lake, days)
        with DuckDBEngine() as engine, DuckDBWarehouse(self.path) as warehouse:
            run_etl(self.lake, engine, warehouse, days)

    def expected(self, cancelled: list[list[OrderLine]]) -> dict[str, Decimal]:
        gone = {o[0].order_id for o in cancelled}
        kept = [x for x in self.lines if x.order_id not in gone]
        sales = sum((x.sales for x in kept), Decimal(0))
        returns = Decimal(0)
        if self.returned[0].order_id not in gone:
            returns += sum((x.sales for x in self.returned), Decimal(0))
        line = self.partly[0]
        if line.order_id not in gone:
            share = line.sales * 1 / (line.quantity or 1)
            returns += share.quantize(Decimal("0.0001"), ROUND_HALF_UP)
        return {
            "sales": sales,
            "returns": returns,
            "net_sales": sales - returns,
            "return_rate": (returns / sales).quantize(Decimal("0.000001")),
            "lines": Decimal(len(kept)),
        }


@pytest.fixture
def pipeline(fresh_pg: PgConfig, tmp_path: Path) -> Iterator[Pipeline]:
    built = Pipeline(fresh_pg, tmp_path)
    yield built
    built.feed.close()


@pytest.fixture
def client(pipeline: Pipeline) -> Iterator[httpx.Client]:
    config = WebConfig(pg=PgConfig(pipeline.pg.dsn).read_only(),
                       warehouse=DuckDBReader(pipeline.path))  # fmt: skip
    with DashboardServer(config) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def _kpis(client: httpx.Client, **params: str) -> dict[str, Decimal]:
    body = client.get("/api/analytics/kpis", params=params).raise_for_status().json()["kpis"]
    names = ("sales", "returns", "net_sales", "return_rate", "lines")
    return {n: Decimal(str(body[n])) for n in names}


def test_cancelled_orders_leave_and_returns_show_on_every_visual(
    pipeline: Pipeline, client: httpx.Client
) -> None:
    want = pipeline.expected([pipeline.cancelled])
    assert _kpis(client) == want
    for measure in ("sales", "returns", "net_sales"):
        for visual in ("segments", "regions", "states", "category-trend"):
            rows = client.get(f"/api/analytics/{visual}", params={"measure": measure}).json()
            total = sum(Decimal(str(r["value"])) for r in rows["rows"])
            assert total == want[measure], (visual, measure)
    options = client.get("/api/analytics/options").json()
    assert [m["name"] for m in options["measures"]][-3:] == ["returns", "net_sales", "return_rate"]
    loaded = dt.datetime.fromisoformat(options["loaded_at"])
    assert abs(dt.datetime.now(dt.UTC) - loaded) < dt.timedelta(minutes=10)


def test_drill_through_shows_outcomes_and_no_cancelled_line(
    pipeline: Pipeline, client: httpx.Client
) -> None:
    body = client.get("/api/analytics/lines", params={"size": 500}).json()
    rows = body["rows"]
    assert len(rows) == len(pipeline.lines) - len(pipeline.cancelled)
    assert not {r["order_id"] for r in rows} & {pipeline.cancelled[0].order_id}
    status = {(r["order_id"], r["line_number"]): r["status"] for r in rows}
    for line in pipeline.returned:
        assert status[line.order_id, line.line_number] == "returned"
    first = pipeline.partly[0]
    assert status[first.order_id, first.line_number] == "partly returned"
    assert (
        Decimal(str(body["totals"]["returns"]))
        == pipeline.expected([pipeline.cancelled])["returns"]
    )


def test_anything_ingested_can_be_filtered(pipeline: Pipeline, client: httpx.Client) -> None:
    odd = pipeline.lines[-1]
    assert _kpis(client, category=ODD_CATEGORY)["sales"] == odd.sales
    answer = client.get("/api/analytics/breakdown", params={
        "by": "product", "category": ODD_CATEGORY, "sub_category": LONG_SUB})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert Decimal(str(answer.json()["total"]["sales"])) == odd.sales
    refused = client.get("/api/analytics/kpis", params={"category": "Garden\u0007"})
    assert refused.status_code == 422 and "control characters" in refused.text
    too_long = client.get("/api/analytics/kpis", params={"region": "R" * (MAX_TEXT + 1)})
    assert too_long.status_code == 422


def test_the_stream_announces_a_newer_warehouse(pipeline: Pipeline, client: httpx.Client) -> None:
    versions: list[dict] = []
    done = threading.Event()

    def listen() -> None:
        with client.stream("GET", "/api/analytics/stream", timeout=60) as answer:
            for line in answer.iter_lines():
                if line.startswith("data: "):
                    versions.append(json.loads(line[6:]))
                    if len(versions) == 2:
                        done.set()
                        return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    first = client.get("/api/analytics/options").json()["version"]
    more = pipeline.returned
    pipeline.feed.write([], [OrderEvent(event="order_cancelled", order_id=more[0].order_id,
                                        event_time=AT)])  # fmt: skip
    pipeline.load()

    assert done.wait(30), f"no second version event: {versions}"
    assert versions[0]["version"] == first and versions[1]["version"] != first
    assert versions[1]["loaded_at"] >= versions[0]["loaded_at"]
    assert _kpis(client) == pipeline.expected([pipeline.cancelled, more])
