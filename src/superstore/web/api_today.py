"""JSON and server-sent-events API of /today."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from superstore.errors import TransientError
from superstore.oltp import TodaySnapshot
from superstore.web.live import LiveHub

__all__ = ["router"]

router = APIRouter(prefix="/api/today", tags=["today"])

KEEPALIVE_SECONDS = 15.0

DayParam = Annotated[
    dt.date | None,
    Query(
        alias="date",
        description="Day to show (YYYY-MM-DD); default: the server's --date, else today "
        "in the configured time zone.",
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
        return await _hub(request).snapshot(day)
    except TransientError as exc:
        raise HTTPException(503, str(exc)) from exc


def _event(snap: TodaySnapshot) -> str:
    return f"event: snapshot\ndata: {snap.model_dump_json()}\n\n"


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

    async def events() -> AsyncIterator[str]:
        async with hub.subscribe(day) as queue:
            try:
                yield _event(await hub.snapshot(day))
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
                yield _event(snap)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
