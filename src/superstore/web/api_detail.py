"""The API behind the breakdown table and drill-through: why a number is what it is.

`/breakdown` ranks categories, sub-categories, products, customers or
cities by the chosen measure (top-N, the rest as one row, the total);
`/lines` pages through the order lines under any mark's filters, sorted by
a column from a fixed list. Both take the page's filters plus the row a
click came from (`sub_category`, `product_id`, `customer_id`, `city`), and
both download as CSV with the filters in the file name.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from superstore.contract import MAX_TEXT
from superstore.errors import TransientError
from superstore.web.answers import (
    Envelope,
    FormatParam,
    MeasureParam,
    choice,
    csv_response,
    cubes_for,
    envelope,
    json_response,
    measure_of,
    reader_for,
)
from superstore.web.breakdown import LEVELS, breakdown
from superstore.web.csvfiles import csv_text, filename
from superstore.web.cubes import Cubes
from superstore.web.drill import COLUMNS, CSV_LIMIT, ORDERS, SORTS, lines, lines_csv_rows
from superstore.web.filters import FiltersDep, filter_text
from superstore.web.measures import BASE_COLUMNS, Measure

__all__ = ["breakdown_csv", "router"]

router = APIRouter()

_KEYS = {
    "category": ("category",),
    "sub_category": ("sub_category", "category"),
    "product": ("product_id", "product_name", "names", "category", "sub_category"),
    "customer": ("customer_id", "customer_name", "segment"),
    "city": ("city", "state", "region"),
}


class Sums(BaseModel):
    sales: Decimal
    profit: Decimal
    quantity: int
    lines: int
    returns: Decimal = Decimal(0)
    net_sales: Decimal = Decimal(0)
    value: Decimal | None = None
    members: int | None = None


class BreakdownRow(Sums):
    category: str | None = None
    sub_category: str | None = None
    product_id: str | None = None
    product_name: str | None = None
    names: int | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    segment: str | None = None
    city: str | None = None
    state: str | None = None
    region: str | None = None


class BreakdownResponse(Envelope):
    level: str
    top: int
    sub_category: str | None = None
    rows: list[BreakdownRow]
    others: Sums | None
    total: Sums


class LineRow(BaseModel):
    order_id: str
    line_number: int
    order_date: dt.date
    customer_id: str
    customer_name: str
    segment: str
    city: str
    state: str
    region: str
    product_id: str
    product_name: str
    category: str
    sub_category: str
    sales: Decimal
    quantity: int | None
    discount: Decimal | None
    profit: Decimal | None
    status: str = "sold"  # sold, returned or partly returned (cancelled lines are left out)
    returned_sales: Decimal = Decimal(0)


class LineTotals(BaseModel):
    lines: int
    orders: int
    sales: Decimal
    profit: Decimal
    quantity: int
    returns: Decimal = Decimal(0)


class LinesResponse(Envelope):
    detail: dict[str, str]
    totals: LineTotals
    page: int
    size: int
    pages: int
    sort: str
    order: str
    rows: list[LineRow]


def _text(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    return filter_text(value, name)


def _sub_category(cubes: Cubes, value: str | None) -> str | None:
    value = _text(value, "sub_category")
    if value is not None and value not in cubes.known.get("sub_category", []):
        raise HTTPException(
            422, f"unknown sub_category {value!r}: not a value held by the warehouse"
        )
    return value


def _read(compute: Any) -> Any:
    try:
        return compute()
    except TransientError as exc:
        raise HTTPException(503, str(exc)) from exc


def breakdown_csv(body: dict[str, Any], level: str, m: Measure) -> str:
    """The table as CSV: its rows, then the others and the total (all filters applied)."""
    keys = _KEYS[level]
    columns = [*keys, *BASE_COLUMNS, *([] if m.name in BASE_COLUMNS else [m.name])]
    rows = []
    for row in body["rows"]:
        rows.append({**row, m.name: row["value"]})
    if body["others"] is not None:
        others = body["others"]
        rows.append({**others, keys[0]: f"({others['members']:,} others)", m.name: others["value"]})
    total = body["total"]
    rows.append({**total, keys[0]: "(total)", m.name: total["value"]})
    return csv_text(columns, rows)


@router.get(
    "/breakdown",
    response_model=BreakdownResponse,
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
    summary="Breakdown table",
)
def breakdown_endpoint(
    request: Request,
    filters: FiltersDep,
    by: Annotated[
        str,
        Query(
            description="Rows: `category`, `sub_category`, `product`, `customer` or `city`.",
            json_schema_extra={"enum": list(LEVELS)},
            max_length=20,
        ),
    ] = "category",
    top: Annotated[int, Query(ge=1, le=100, description="Rows shown; the rest is one row.")] = 10,
    sub_category: Annotated[
        str | None, Query(description="Only this sub-category (products).", max_length=MAX_TEXT)
    ] = None,
    measure: MeasureParam = "sales",
    format: FormatParam = "json",
) -> Response:
    """The top members by the measure, the others as one row and the total under the filters."""
    level = choice(by, LEVELS, "by")
    m = measure_of(measure)
    fmt = choice(format, ("json", "csv"), "format")
    cubes = cubes_for(request, filters)
    sub = _sub_category(cubes, sub_category)
    reader = reader_for(request) if level in ("product", "customer", "city") else None
    key = (*cubes.cache_key, "breakdown", filters.key, level, top, sub, m.name, fmt)

    def compute() -> Any:
        body = _read(lambda: breakdown(cubes, reader, filters, level, m, top, sub))
        if fmt == "csv":
            name = filename(
                f"breakdown-{level}",
                filters.active(),
                {"sub_category": sub, "top": top, "measure": m.name},
                "csv",
            )
            return name, breakdown_csv(body, level, m)
        model = BreakdownResponse(**envelope(cubes, filters, m), top=top, sub_category=sub, **body)
        return model.model_dump_json().encode()

    answer = request.app.state.results.get(key, compute)
    return csv_response(answer[1], answer[0]) if fmt == "csv" else json_response(answer)


@router.get(
    "/lines",
    response_model=LinesResponse,
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
    summary="Order lines behind a number (drill-through)",
)
def lines_endpoint(
    request: Request,
    filters: FiltersDep,
    sub_category: Annotated[str | None, Query(max_length=MAX_TEXT)] = None,
    product_id: Annotated[str | None, Query(max_length=MAX_TEXT)] = None,
    customer_id: Annotated[str | None, Query(max_length=MAX_TEXT)] = None,
    city: Annotated[str | None, Query(max_length=MAX_TEXT, description="With `state`.")] = None,
    sort: Annotated[str, Query(json_schema_extra={"enum": list(SORTS)}, max_length=20)] = "sales",
    order: Annotated[str, Query(json_schema_extra={"enum": ["asc", "desc"]}, max_length=4)] = (
        "desc"
    ),
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 50,
    format: FormatParam = "json",
) -> Response:
    """The lines under every filter (plus the clicked row), their count and exact sums."""
    sort = choice(sort, tuple(SORTS), "sort")
    direction = choice(order, ORDERS, "order")
    fmt = choice(format, ("json", "csv"), "format")
    cubes = cubes_for(request, filters)
    detail = {
        "sub_category": _sub_category(cubes, sub_category),
        "product_id": _text(product_id, "product_id"),
        "customer_id": _text(customer_id, "customer_id"),
        "city": _text(city, "city"),
    }
    reader = reader_for(request)
    m = measure_of("sales")
    shown = {k: v for k, v in detail.items() if v is not None}
    if fmt == "csv":
        count, rows = _read(lambda: lines_csv_rows(cubes, reader, filters, detail, sort, direction))
        if count > CSV_LIMIT:
            raise HTTPException(
                422,
                f"{count:,} lines: more than the {CSV_LIMIT:,} one CSV holds; narrow the filters",
            )
        name = filename(
            "lines", filters.active(), {**shown, "sort": sort, "order": direction}, "csv"
        )
        return csv_response(csv_text(COLUMNS, rows), name)
    key = (
        *cubes.cache_key,
        "lines",
        filters.key,
        tuple(detail.values()),
        sort,
        direction,
        page,
        size,
    )

    def compute() -> bytes:
        body = _read(lambda: lines(cubes, reader, filters, detail, sort, direction, page, size))
        model = LinesResponse(**envelope(cubes, filters, m), detail=shown, **body)
        return model.model_dump_json().encode()

    return json_response(request.app.state.results.get(key, compute))
