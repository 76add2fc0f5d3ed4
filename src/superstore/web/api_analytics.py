"""JSON (and CSV) API of /analytics: one endpoint per visual, cached per warehouse version.

Every visual takes the same filters (`superstore.web.filters`), a `measure`
from the registry (`superstore.web.measures`) and, for the time visuals, a
`grain`. Validation errors are a 422 whose `detail` is one sentence naming
the parameter and what it accepts. The breakdown table, drill-through lines
and the zip of the whole page are in `superstore.web.api_detail`.
"""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, create_model
from starlette.concurrency import run_in_threadpool

from superstore.errors import TransientError
from superstore.web import analytics
from superstore.web.access import principal_of
from superstore.web.analytics import Comparison, Kpis
from superstore.web.answers import (
    Envelope,
    FormatParam,
    GrainParam,
    MeasureParam,
    ResultCache,
    choice,
    csv_response,
    cubes_for,
    envelope,
    grain_of,
    json_response,
    measure_of,
    reader_for,
    scoped,
)
from superstore.web.api_detail import breakdown_csv
from superstore.web.api_detail import router as detail_router
from superstore.web.api_stream import router as stream_router
from superstore.web.breakdown import LEVELS, breakdown
from superstore.web.csvfiles import csv_text, describe, disposition, filename, zip_bytes
from superstore.web.cubes import Cubes, CubeStore
from superstore.web.filters import Filters, FiltersDep
from superstore.web.measures import BASE_COLUMNS, INTEGER_COLUMNS, MEASURES, Measure
from superstore.web.periods import GRAINS, PRESETS, Grain

__all__ = ["VISUALS", "ResultCache", "Visual", "router", "visual_csv"]

router = APIRouter(prefix="/api/analytics", tags=["analytics"])
GZIP_MIN = 1024  # bytes: smaller answers go as they are (the app's GZip middleware rule)


def _sums_fields() -> dict[str, Any]:
    return {c: (int if c in INTEGER_COLUMNS else Decimal, ...) for c in BASE_COLUMNS}


def _row_model(name: str, **keys: Any) -> type[BaseModel]:
    """A row: its keys, the exact base sums, the chosen measure's value."""
    fields = {k: (t, ...) for k, t in keys.items()} | _sums_fields()
    return create_model(name, **fields, value=(Decimal | None, None))


if TYPE_CHECKING:  # the row fields come from the measure registry at run time
    TrendPoint: TypeAlias = BaseModel
    SegmentRow: TypeAlias = BaseModel
    RegionRow: TypeAlias = BaseModel
    StateRow: TypeAlias = BaseModel
else:
    TrendPoint = _row_model("TrendPoint", period=str, category=str)
    _SHARE = (Decimal | None, None)
    SegmentRow = create_model("SegmentRow", __base__=_row_model("_S", segment=str), share=_SHARE)
    RegionRow = create_model("RegionRow", __base__=_row_model("_R", region=str), share=_SHARE)
    StateRow = create_model("StateRow", __base__=_row_model("_St", state=str), share=_SHARE)


class GrowthPoint(BaseModel):
    period: str
    sales: Decimal
    prev_sales: Decimal | None
    yoy_pct: float | None
    value: Decimal | None
    prev_value: Decimal | None
    change: float | None


class KpiResponse(Envelope):
    kpis: Kpis
    previous: Comparison | None = None


class TrendResponse(Envelope):
    grain: Grain
    rows: list[TrendPoint]


class SegmentResponse(Envelope):
    rows: list[SegmentRow]


class RegionResponse(Envelope):
    rows: list[RegionRow]


class StateResponse(Envelope):
    rows: list[StateRow]


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
    sub_categories: list[str]
    first_day: dt.date
    last_day: dt.date
    measures: list[dict[str, Any]]
    presets: dict[str, str]
    grains: list[str]
    facts: int
    build_seconds: float
    loaded_at: dt.datetime | None = None  # the warehouse's last load: "data as of"


Compute = Callable[[Cubes, Filters, Grain, Measure, bool], dict[str, Any]]


@dataclass(frozen=True)
class Visual:
    """One visual's endpoint: how to compute it and how its CSV reads."""

    name: str
    model: type[Envelope]
    compute: Compute
    summary: str
    doc: str
    keys: tuple[str, ...]  # the CSV's leading columns
    grain: Grain | None = None  # default grain; None: not a time visual
    tail: tuple[str, ...] = ()  # CSV columns after the measure


def _csv_columns(visual: Visual, m: Measure) -> list[str]:
    if visual.name == "kpis":
        return [*Kpis.model_fields]
    if visual.name == "growth":
        return ["period", "sales", "prev_sales", "yoy_pct", m.name, f"prev_{m.name}", "change"]
    measure_column = [] if m.name in BASE_COLUMNS else [m.name]
    return [*visual.keys, *BASE_COLUMNS, *measure_column, *visual.tail]


def _csv_rows(visual: Visual, body: dict[str, Any], m: Measure) -> list[dict[str, Any]]:
    if visual.name == "kpis":
        return [dict(body["kpis"])]
    rows = [dict(r) for r in body["rows"]]
    for row in rows:
        row[m.name] = row.get("value")
        if visual.name == "growth":
            row[f"prev_{m.name}"] = row.get("prev_value")
    return rows


def visual_csv(
    visual: Visual, cubes: Cubes, filters: Filters, grain: Grain, m: Measure
) -> tuple[str, str]:
    """(file name, CSV text) of a visual, every filter applied."""
    body = visual.compute(cubes, filters, grain, m, True)
    text = csv_text(_csv_columns(visual, m), _csv_rows(visual, body, m))
    extra = {"measure": None if m.name == "sales" else m.name, "by": visual.grain and grain}
    return filename(visual.name, filters.active(), extra, "csv"), text


def _answer_key(
    cubes: Cubes, visual: Visual, filters: Filters, g: Grain, m: Measure, fmt: str
) -> tuple[Any, ...]:
    """The result cache's key of one answer (the same for the fast path and the computing one).

    It carries the caller's row scope through `cubes.cache_key`: two scopes never share an answer.
    """
    return (*cubes.cache_key, visual.name, filters.key, g, m.name, fmt)


def _serve(
    request: Request, visual: Visual, filters: Filters, grain: str, measure: str, fmt: str
) -> Response:
    m = measure_of(measure)
    g = grain_of(grain)
    fmt = choice(fmt, ("json", "csv"), "format")
    cubes = cubes_for(request, filters)
    key = _answer_key(cubes, visual, filters, g, m, fmt)

    def compute() -> Any:
        if fmt == "csv":
            return visual_csv(visual, cubes, filters, g, m)
        fields = visual.compute(cubes, filters, g, m, False)
        body = visual.model(**envelope(cubes, filters, m), **fields)
        return body.model_dump_json().encode()

    answer = request.app.state.results.get(key, compute)
    if fmt == "csv":
        return csv_response(answer[1], answer[0])
    return json_response(answer)


def _cached(
    request: Request, visual: Visual, filters: Filters, grain: str, measure: str, fmt: str
) -> Response | None:
    """The answer if it is cached for the version checked last second (no I/O, no waiting)."""
    store: CubeStore | None = request.app.state.cubes
    cubes = store.recent() if store is not None else None
    if cubes is not None:  # the caller's row scope, if its copy is built already
        cubes = scoped(request).peek(cubes, principal_of(request).scope)
    if cubes is None or fmt != "json":
        return None
    m = measure_of(measure)  # checked in the order _serve checks them
    key = _answer_key(cubes, visual, filters, grain_of(grain), m, fmt)
    results: ResultCache = request.app.state.results
    answer = results.peek(key)
    if (
        answer is None
        or len(answer) < GZIP_MIN
        or "gzip" not in request.headers.get("accept-encoding", "")
    ):
        return None if answer is None else json_response(answer)
    packed = results.get((*key, "gzip"), lambda: gzip.compress(answer, 6, mtime=0))
    headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
    return Response(packed, media_type="application/json", headers=headers)


async def _answer(
    request: Request, visual: Visual, filters: Filters, grain: str, measure: str, fmt: str
) -> Response:
    """A repeated view is answered on the event loop; computing one goes to a thread.

    A thread hop costs more than the cached answer itself (under 50 busy clients
    it was a third of each request's time), and so does compressing the same
    answer again for every browser: it is compressed once, and cached too.
    """
    hit = _cached(request, visual, filters, grain, measure, fmt)
    if hit is not None:
        return hit
    return await run_in_threadpool(_serve, request, visual, filters, grain, measure, fmt)


def _register(visual: Visual) -> None:
    """GET /api/analytics/<visual> (JSON or CSV), with `grain` for the time visuals."""
    default_grain = visual.grain or "month"

    async def with_grain(
        request: Request,
        filters: FiltersDep,
        grain: GrainParam = default_grain,
        measure: MeasureParam = "sales",
        format: FormatParam = "json",
    ) -> Any:
        return await _answer(request, visual, filters, grain, measure, format)

    async def without_grain(
        request: Request,
        filters: FiltersDep,
        measure: MeasureParam = "sales",
        format: FormatParam = "json",
    ) -> Any:
        return await _answer(request, visual, filters, "month", measure, format)

    endpoint = with_grain if visual.grain is not None else without_grain
    endpoint.__doc__ = visual.doc
    router.add_api_route(
        f"/{visual.name}",
        endpoint,
        response_model=visual.model,
        responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
        summary=visual.summary,
        name=visual.name,
        methods=["GET"],
    )


def _kpis(c: Cubes, f: Filters, g: Grain, m: Measure, csv: bool) -> dict[str, Any]:
    current = analytics.kpis(c, f)
    return {"kpis": current, "previous": analytics.kpi_comparison(c, f, current)}


def _trend(c: Cubes, f: Filters, g: Grain, m: Measure, csv: bool) -> dict[str, Any]:
    rows = analytics.category_trend(c, f, g, m)
    if csv and f.category is not None:  # the CSV applies the category the chart highlights
        rows = [r for r in rows if r["category"] == f.category]
    return {"grain": g, "rows": rows}


VISUALS: dict[str, Visual] = {
    v.name: v
    for v in (
        Visual(
            "kpis", KpiResponse, _kpis, "KPI cards",
            "Sales, profit, margin, quantity, lines, orders, customers and distinct "
            "(city, state) pairs under every filter, and the same over the comparable span "
            "just before (`previous`, with the change: % for sums, points for the margin).",
            (),
        ),
        Visual(
            "category-trend", TrendResponse,
            _trend,
            "Measure by category over time",
            "The measure per period and category, every period of the span (zero when "
            "nothing sold); a category click highlights here and filters the others.",
            ("period", "category"), grain="month",
        ),
        Visual(
            "segments", SegmentResponse,
            lambda c, f, g, m, csv: {"rows": analytics.segments(c, f, m, csv)},
            "Measure by segment",
            "The measure and share of each customer segment (donut, or bars when the "
            "measure is not parts of a whole).",
            ("segment",), tail=("share",),
        ),
        Visual(
            "regions", RegionResponse,
            lambda c, f, g, m, csv: {"rows": analytics.regions(c, f, m, csv)},
            "Measure by region",
            "The measure by region (treemap, or bars when the measure is not parts of a whole).",
            ("region",), tail=("share",),
        ),
        Visual(
            "states", StateResponse,
            lambda c, f, g, m, csv: {"rows": analytics.states(c, f, m, csv)},
            "Measure by US state",
            "The measure by state (choropleth map). JSON lists every state (the map "
            "highlights the selected ones); the CSV only the selected ones.",
            ("state",), tail=("share",),
        ),
        Visual(
            "growth", GrowthResponse,
            lambda c, f, g, m, csv: {"grain": g, "rows": analytics.growth(c, f, g, m)},
            "Growth, year over year",
            "The measure per period with the same days a year before and the change "
            "(% for sums, percentage points for ratios).",
            ("period",), grain="quarter",
        ),
    )
}  # fmt: skip

for _visual in VISUALS.values():
    _register(_visual)


@router.get("/options", response_model=Options, summary="Slicer values and warehouse state")
def options(request: Request) -> Options:
    """Years, states, segments, regions, categories, the days held, measures and presets."""
    cubes = cubes_for(request)
    k = cubes.known
    return Options(
        version=cubes.version,
        years=k["year"],
        states=k["state"],
        segments=k["segment"],
        regions=k["region"],
        categories=k["category"],
        sub_categories=k.get("sub_category", []),
        first_day=cubes.first_day,
        last_day=cubes.last_day,
        measures=[m.public() for m in MEASURES.values()],
        presets=PRESETS,
        grains=list(GRAINS),
        facts=cubes.facts,
        build_seconds=round(cubes.build_seconds, 3),
        loaded_at=cubes.loaded_at,
    )


@router.get(
    "/export",
    responses={200: {"content": {"application/zip": {}}}},
    response_class=Response,
    summary="Every visual's data as CSV files in one zip",
)
def export(
    request: Request,
    filters: FiltersDep,
    measure: MeasureParam = "sales",
    trend: GrainParam = "month",
    growth: GrainParam = "quarter",
    by: Annotated[str, Query(json_schema_extra={"enum": list(LEVELS)}, max_length=20)] = "category",
    top: Annotated[int, Query(ge=1, le=100)] = 10,
) -> Response:
    """The page as you see it: a CSV per visual and the breakdown table, plus README.txt."""
    m = measure_of(measure)
    grains = {"category-trend": grain_of(trend), "growth": grain_of(growth)}
    level = choice(by, LEVELS, "by")
    cubes = cubes_for(request, filters)
    files: dict[str, str] = {}
    for visual in VISUALS.values():
        name, text = visual_csv(visual, cubes, filters, grains.get(visual.name, "month"), m)
        files[name] = text
    reader = reader_for(request) if level in ("product", "customer", "city") else None
    try:
        table = breakdown(cubes, reader, filters, level, m, top)
    except TransientError as exc:
        raise HTTPException(503, str(exc)) from exc
    files[filename(f"breakdown-{level}", filters.active(), {"top": top}, "csv")] = breakdown_csv(
        table, level, m
    )
    head = envelope(cubes, filters, m)
    days = head["days"]
    files["README.txt"] = "\r\n".join(
        [
            "superstore analytics export",
            f"warehouse version: {cubes.version}",
            f"filters: {describe(filters.active())}",
            f"days: {days.first} to {days.last}" if days else "days: none selected",
            f"measure: {m.label}",
            "money: exact decimals (4 places) as the warehouse holds them",
            "",
        ]
    )
    name = filename("analytics", filters.active(), {"measure": m.name}, "zip")
    return Response(
        zip_bytes(files),
        media_type="application/zip",
        headers={"Content-Disposition": disposition(name)},
    )


router.include_router(detail_router)
router.include_router(stream_router)
