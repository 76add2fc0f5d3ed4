"""JSON (and CSV) API of /analytics: one endpoint per visual, cached per warehouse version."""

from __future__ import annotations

import csv
import io
import threading
from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from superstore.errors import TransientError
from superstore.web import analytics
from superstore.web.analytics import Grain, Kpis
from superstore.web.cubes import Cubes, CubeStore
from superstore.web.filters import Filters, filters_param

__all__ = ["ResultCache", "router"]

router = APIRouter(prefix="/api/analytics", tags=["analytics"])

Format = Annotated[Literal["json", "csv"], Query(description="`csv` downloads the visual's data.")]
GrainParam = Annotated[Grain, Query(description="Period of each point.")]
FiltersDep = Annotated[Filters, Depends(filters_param)]


class Envelope(BaseModel):
    """What every visual's answer carries: the warehouse version and the filters applied."""

    version: str
    filters: dict[str, Any]


class KpiResponse(Envelope):
    kpis: Kpis


class TrendPoint(BaseModel):
    period: str
    category: str
    sales: Decimal


class TrendResponse(Envelope):
    grain: Grain
    rows: list[TrendPoint]


class SegmentRow(BaseModel):
    segment: str
    sales: Decimal
    profit: Decimal | None
    quantity: int | None
    share: Decimal


class SegmentResponse(Envelope):
    rows: list[SegmentRow]


class RegionRow(BaseModel):
    region: str
    sales: Decimal
    profit: Decimal | None
    quantity: int | None


class RegionResponse(Envelope):
    rows: list[RegionRow]


class StateRow(BaseModel):
    state: str
    sales: Decimal
    profit: Decimal | None
    quantity: int | None


class StateResponse(Envelope):
    rows: list[StateRow]


class GrowthPoint(BaseModel):
    period: str
    sales: Decimal
    prev_sales: Decimal | None
    yoy_pct: float | None


class GrowthResponse(Envelope):
    grain: Grain
    rows: list[GrowthPoint]


class Options(BaseModel):
    """Values of each slicer and cross-filter, and what the pre-aggregates hold."""

    version: str
    years: list[int]
    states: list[str]
    segments: list[str]
    regions: list[str]
    categories: list[str]
    facts: int
    build_seconds: float


class ResultCache:
    """LRU of answers keyed on (warehouse version, visual, filters, grain); size 0 = off."""

    def __init__(self, size: int = 2048) -> None:
        self._items: OrderedDict[tuple[object, ...], Any] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...], compute: Callable[[], Any]) -> Any:
        """The cached answer, or compute and remember it."""
        if not self._size:
            return compute()
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


def _cubes(request: Request, filters: Filters | None = None) -> Cubes:
    store: CubeStore | None = request.app.state.cubes
    if store is None:
        raise HTTPException(503, "no warehouse the dashboards can read is configured")
    try:
        cubes = store.current()
    except TransientError as exc:
        raise HTTPException(503, f"{exc}; run `superstore etl --all` to build it") from exc
    if filters is not None:
        filters.check(cubes.known)
    return cubes


def _csv_cell(value: object) -> object:
    """Text cells that a spreadsheet would run as a formula get a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def _answer(visual: str, fmt: str, body: Envelope) -> Envelope | Response:
    if fmt == "json":
        return body
    rows = getattr(body, "rows", None)
    if rows is None:  # KPIs: one row
        assert isinstance(body, KpiResponse), f"{visual} has neither rows nor KPIs"
        rows = [body.kpis]
    out = io.StringIO()
    fields = list(type(rows[0]).model_fields) if rows else []
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_csv_cell(getattr(row, f)) for f in fields])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="superstore-{visual}.csv"'},
    )


_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"application/json": {}, "text/csv": {}}}}


@router.get("/options", response_model=Options, summary="Slicer values and warehouse state")
def options(request: Request) -> Options:
    """Years, states, segments, regions and categories the warehouse holds."""
    cubes = _cubes(request)
    k = cubes.known
    return Options(
        version=cubes.version,
        years=k["year"],
        states=k["state"],
        segments=k["segment"],
        regions=k["region"],
        categories=k["category"],
        facts=cubes.facts,
        build_seconds=round(cubes.build_seconds, 3),
    )


Compute = Callable[[Cubes, Filters, Grain], dict[str, Any]]


def _serve(
    request: Request, visual: str, model: type[Envelope], compute: Compute,
    filters: Filters, grain: Grain, fmt: str,
) -> Envelope | Response:  # fmt: skip
    cubes = _cubes(request, filters)
    body = request.app.state.results.get(
        (cubes.version, visual, filters.key, grain),
        lambda: model(
            version=cubes.version, filters=filters.active(), **compute(cubes, filters, grain)
        ),
    )
    return _answer(visual, fmt, body)


def _visual(
    visual: str, model: type[Envelope], compute: Compute, summary: str, doc: str,
    grain: bool = False,
) -> None:  # fmt: skip
    """Register GET /api/analytics/<visual> (JSON or CSV), with a `grain` parameter if asked."""

    def with_grain(
        request: Request, filters: FiltersDep, grain: GrainParam = "month", format: Format = "json"
    ) -> Any:
        return _serve(request, visual, model, compute, filters, grain, format)

    def without_grain(request: Request, filters: FiltersDep, format: Format = "json") -> Any:
        return _serve(request, visual, model, compute, filters, "month", format)

    endpoint = with_grain if grain else without_grain

    endpoint.__doc__ = doc
    router.add_api_route(
        f"/{visual}", endpoint, response_model=model, responses=_CSV, summary=summary,
        name=visual, methods=["GET"],
    )  # fmt: skip


_visual(
    "kpis",
    KpiResponse,
    lambda c, f, g: {"kpis": analytics.kpis(c, f)},
    "KPI cards",
    "Total sales, profit, quantity, lines, orders, customers and cities under every filter.",
)
_visual(
    "category-trend",
    TrendResponse,
    lambda c, f, g: {"grain": g, "rows": analytics.category_trend(c, f, g)},
    "Sales by category over time",
    "Sales per period and category; a category click highlights here and filters the others.",
    grain=True,
)
_visual(
    "segments",
    SegmentResponse,
    lambda c, f, g: {"rows": analytics.segments(c, f)},
    "Sales by segment",
    "Sales, profit and share of each customer segment (donut).",
)
_visual(
    "regions",
    RegionResponse,
    lambda c, f, g: {"rows": analytics.regions(c, f)},
    "Sales by region",
    "Sales and profit by region (treemap).",
)
_visual(
    "states",
    StateResponse,
    lambda c, f, g: {"rows": analytics.states(c, f)},
    "Sales by US state",
    "Sales and profit by state (choropleth map).",
)
_visual(
    "growth",
    GrowthResponse,
    lambda c, f, g: {"grain": g, "rows": analytics.growth(c, f, g)},
    "Sales growth",
    "Sales per period with the change against a year before, in %.",
    grain=True,
)
