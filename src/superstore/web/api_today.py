"""JSON and server-sent-events API of /today.

Every viewer of a day receives the same snapshot object from the live hub;
it is serialised once and the same text sent to all of them (with 200 open
pages that is 200x less JSON work per update). The hourly context of the
sparkline (`superstore.oltp.today_hours`) scans the day's lines, so it is
cached for a few seconds per day: however many pages ask, the database sees
at most one such query per day every few seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from psycopg import AsyncConnection
from pydantic import BaseModel, BeforeValidator

from superstore.errors import TransientError
from superstore.oltp import TodaySnapshot, today_hours
from superstore.web.access import principal_of
from superstore.web.live import LiveHub
from superstore.web.principal import Scope

__all__ = ["router"]

router = APIRouter(prefix="/api/today", tags=["today"])

KEEPALIVE_SECONDS = 15.0


def _iso_day(value: object) -> object:
    """Only YYYY-MM-DD is a day: pydantic alone takes `date=0` as a timestamp (1970-01-01)."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


YEARS_1900_2200 = r"^(19[0-9]{2}|2[01][0-9]{2}|2200)-[0-9]{2}-[0-9]{2}$"
DayParam = Annotated[
    dt.date | None,
    BeforeValidator(_iso_day),
    Query(
        alias="date",
        description="Day to show (YYYY-MM-DD, 1900-2200); default: the server's --date, "
        "else today in the configured time zone.",
        json_schema_extra={"pattern": YEARS_1900_2200},  # the range, said in the schema
    ),
]


def _hub(request: Request) -> LiveHub:
    hub: LiveHub = request.app.state.hub
    return hub


def _check_day(day: dt.date | None) -> None:
    if day is not None and not dt.date(1900, 1, 1) <= day <= dt.date(2200, 12, 31):
        raise HTTPException(422, "date must be between 1900-01-01 and 2200-12-31")


@router.get("", response_model=TodaySnapshot, summary="The day's sales, orders and top products")
async def today(request: Request, day: DayParam = None) -> TodaySnapshot:
    """Total sales, order and line counts, top-5 products, sales by category, latest orders."""
    _check_day(day)
    try:
        return await _hub(request).snapshot(day, principal_of(request).scope)
    except TransientError as exc:
        raise HTTPException(503, str(exc)) from exc


_EVENTS: OrderedDict[int, tuple[TodaySnapshot, str]] = OrderedDict()


def _event(snap: TodaySnapshot) -> str:
    """The SSE event of a snapshot, serialised once for every viewer of it."""
    found = _EVENTS.get(id(snap))
    if found is not None and found[0] is snap:
        return found[1]
    text = f"event: snapshot\ndata: {snap.model_dump_json()}\n\n"
    _EVENTS[id(snap)] = (snap, text)  # holding the snapshot keeps its id from being reused
    while len(_EVENTS) > 16:
        _EVENTS.popitem(last=False)
    return text


class HourSales(BaseModel):
    hour: int
    sales: Decimal
    lines: int = 0


class TodayHours(BaseModel):
    """The day's sales by hour received (ingest time) and the same weekday's average."""

    date: dt.date
    timezone: str
    basis: str = "ingest time: when the pipeline stored each line (orders carry dates only)"
    hours: list[HourSales]
    average: list[HourSales]
    averaged_days: list[dt.date]
    categories: list[str]
    generated_at: dt.datetime


HOURS_TTL = 5.0  # seconds a day's hours are reused
AVERAGE_TTL = 60.0  # past weekdays and the categories change rarely
_CACHE: dict[tuple[str, dt.date, object], tuple[float, Any]] = {}
_LOCK = asyncio.Lock()


def _fresh(key: tuple[str, dt.date, object], ttl: float) -> Any | None:
    hit = _CACHE.get(key)
    return hit[1] if hit and time.monotonic() - hit[0] < ttl else None


async def _context(dsn: str, day: dt.date, tz: str, scope: Scope) -> tuple[Any, Any, Any]:
    """(hours, (average, days averaged), categories): cached per row scope, one connection."""
    wanted: dict[
        tuple[str, dt.date, object], tuple[float, Callable[[AsyncConnection], Awaitable[Any]]]
    ]
    place = scope.key
    wanted = {
        ("hours", day, place): (
            HOURS_TTL,
            lambda c: today_hours.sales_by_hour(c, day, tz, place),
        ),
        ("average", day, place): (
            AVERAGE_TTL,
            lambda c: today_hours.weekday_average(c, day, tz, place=place),
        ),
        ("categories", dt.date.min, None): (AVERAGE_TTL, today_hours.known_categories),
    }
    found = {k: _fresh(k, ttl) for k, (ttl, _) in wanted.items()}
    if any(v is None for v in found.values()):
        async with _LOCK:  # one query per stale item, whatever the number of pages asking
            found = {k: _fresh(k, ttl) for k, (ttl, _) in wanted.items()}
            missing = [k for k, v in found.items() if v is None]
            if missing:
                async with await psycopg.AsyncConnection.connect(
                    dsn, autocommit=True, connect_timeout=5
                ) as conn:
                    for key in missing:
                        found[key] = await wanted[key][1](conn)
                        _CACHE[key] = (time.monotonic(), found[key])
        while len(_CACHE) > 256:
            _CACHE.pop(next(iter(_CACHE)))
    now, average, categories = found.values()
    return now, average, categories


@router.get(
    "/hours", response_model=TodayHours, summary="Sales by hour received, and the weekday average"
)
async def hours(request: Request, day: DayParam = None) -> TodayHours:
    """Per hour of the day (configured time zone): sales of the day's order lines by the time
    the pipeline received them, and the average of the same weekday over the previous weeks.

    Cached for a few seconds per day; the page asks after updates, at most every few seconds.
    """
    _check_day(day)
    config = request.app.state.config
    shown = config.today(day)
    try:
        now, (average, used), categories = await _context(
            config.pg.dsn, shown, config.timezone, principal_of(request).scope
        )
    except psycopg.errors.UndefinedTable as exc:
        raise HTTPException(
            503, "PostgreSQL has no sales tables yet: run `superstore ingest` first"
        ) from exc
    except psycopg.OperationalError as exc:
        raise HTTPException(503, "PostgreSQL is not reachable") from exc
    return TodayHours(
        date=shown,
        timezone=config.timezone,
        hours=[HourSales(hour=h, sales=s, lines=n) for h, s, n in now],
        average=[HourSales(hour=h, sales=s) for h, s in average],
        averaged_days=used,
        categories=categories,
        generated_at=dt.datetime.now(dt.UTC),
    )


@router.get(
    "/stream",
    summary="Live snapshots as server-sent events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(request: Request, day: DayParam = None) -> StreamingResponse:
    """`event: snapshot` with the day's full snapshot now and after every committed change.

    `event: problem` (JSON `detail`) says why there is no snapshot yet (PostgreSQL
    down or not ingested into); the stream stays open and recovers by itself.

    Driven by PostgreSQL LISTEN/NOTIFY (one listener per server), not polling;
    a comment line every 15 s keeps proxies from closing the stream.
    """
    _check_day(day)
    hub = _hub(request)
    scope = principal_of(request).scope

    async def events() -> AsyncIterator[str]:
        async with hub.subscribe(day) as queue:
            try:
                yield _event(await hub.snapshot(day, scope))
            except TransientError as exc:  # the next committed change will bring data
                yield f"event: problem\ndata: {json.dumps({'detail': str(exc)})}\n\n"
            while True:
                try:
                    snap = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if snap is None:
                    return
                if not scope.unlimited:  # the pushed snapshot is everyone's: read the scope's
                    try:
                        snap = await hub.snapshot(day, scope)
                    except TransientError:
                        continue
                yield _event(snap)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
