"""/api/analytics/stream: tells open /analytics pages that the warehouse changed.

The continuous sync reloads changed days within seconds; a page should show
them without a reload. Each stream checks the pre-aggregates' version once a
second (the store caches the warehouse's version check, so many viewers cost
one stat call or one catalog query a second, not one each) and sends
`event: version` with the new version and when the warehouse was last
loaded, once the pre-aggregates of that version are built: the page then
asks for its visuals again, and every answer is already of the new version.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from superstore.errors import SuperstoreError
from superstore.web.access import principal_of
from superstore.web.answers import scoped
from superstore.web.cubes import Cubes, CubeStore

__all__ = ["POLL_SECONDS", "router", "version_event"]

router = APIRouter()
POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0


def version_event(cubes: Cubes) -> str:
    """One SSE `version` event: the version and the warehouse's last load (ISO, UTC)."""
    loaded = cubes.loaded_at.isoformat() if cubes.loaded_at else None
    body = {"version": cubes.version, "loaded_at": loaded, "facts": cubes.facts}
    return f"event: version\ndata: {json.dumps(body)}\n\n"


async def _built(store: CubeStore) -> Cubes | None:
    """The newest pre-aggregates built, after asking the store to catch up (in a thread)."""
    with contextlib.suppress(SuperstoreError):  # no warehouse yet: nothing to say until there is
        await asyncio.to_thread(store.current)  # starts a rebuild when the warehouse changed
    return store.built()


@router.get(
    "/stream",
    summary="Warehouse changes as server-sent events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(request: Request) -> StreamingResponse:
    """`event: version` now and whenever the pre-aggregates of a newer warehouse are ready.

    Data: `{"version": ..., "loaded_at": ISO time or null, "facts": n}`. A
    comment line every 15 s keeps proxies from closing the stream.
    """
    store: CubeStore | None = request.app.state.cubes
    scope = principal_of(request).scope

    async def events() -> AsyncIterator[str]:
        sent: str | None = None
        quiet = dt.datetime.now(dt.UTC)
        while store is not None:
            cubes = await _built(store)
            if cubes is not None:  # the caller's row scope: its own count of facts
                cubes = await asyncio.to_thread(scoped(request).get, cubes, scope)
            if cubes is not None and cubes.version != sent:
                sent = cubes.version
                quiet = dt.datetime.now(dt.UTC)
                yield version_event(cubes)
            elif (dt.datetime.now(dt.UTC) - quiet).total_seconds() >= KEEPALIVE_SECONDS:
                quiet = dt.datetime.now(dt.UTC)
                yield ": keep-alive\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
