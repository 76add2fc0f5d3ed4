"""The dashboard web app: two pages, their JSON API, local assets, strict headers.

Pages are static HTML that fill themselves from the JSON API; every asset
(ECharts, the US state geometry, Swagger UI) is served from the package, so
the dashboards work without internet. The Content-Security-Policy allows
scripts from this server only: even if a product name carried a `<script>`
that escaped escaping, the browser would refuse to run it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from superstore import __version__
from superstore.errors import SuperstoreError
from superstore.web.access import install_access
from superstore.web.api_analytics import ResultCache
from superstore.web.api_analytics import router as analytics_router
from superstore.web.api_me import router as me_router
from superstore.web.api_today import router as today_router
from superstore.web.config import WebConfig
from superstore.web.cubes import CubeStore
from superstore.web.live import LiveHub
from superstore.web.metrics import install_metrics
from superstore.web.problems import install_problems
from superstore.web.rowscope import ScopedCubes

__all__ = ["STATIC", "create_app"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        b"frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Adds the CSP and friends to every HTTP response (pure ASGI: streams untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _warm(store: CubeStore) -> None:
    """Build the pre-aggregates at start-up so the first /analytics visit is fast."""
    try:
        store.current()
    except SuperstoreError as exc:
        log.info("analytics not ready yet: %s", exc)
    except Exception:
        log.exception("analytics pre-aggregates failed")


def create_app(config: WebConfig) -> FastAPI:
    """The ASGI app; the live hub starts and stops with it (lifespan)."""
    store = CubeStore(config.warehouse) if config.warehouse else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = LiveHub(config.pg.dsn, config.today, config.timezone)
        app.state.hub = hub
        await hub.start()
        if store is not None:
            threading.Thread(target=_warm, args=(store,), daemon=True, name="cubes").start()
        try:
            yield
        finally:
            await hub.stop()

    app = FastAPI(
        title="superstore dashboards",
        version=__version__,
        summary="Live sales of the day (PostgreSQL) and analytics (star-schema warehouse).",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.config = config
    app.state.cubes = store
    app.state.results = ResultCache(config.result_cache)
    app.state.scoped = ScopedCubes()
    install_access(app, config.auth)
    install_problems(app, auth_on=config.auth.mode != "none")
    install_metrics(app, config.metrics)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(today_router)
    app.include_router(analytics_router)
    app.include_router(me_router)

    def page(name: str) -> Any:
        async def handler() -> FileResponse:
            return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

        return handler

    app.add_api_route("/today", page("today.html"), include_in_schema=False)
    app.add_api_route("/analytics", page("analytics.html"), include_in_schema=False)
    app.add_api_route("/docs", page("docs.html"), include_in_schema=False)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/today")

    @app.get("/api/health", tags=["health"], summary="Is the server live and listening?")
    async def health(request: Request) -> dict[str, Any]:
        """`listening`: live updates flow; `live_source`: "listen" (LISTEN on the primary),
        "replay" (a standby's replay position, polled: LISTEN needs the primary) or "none"."""
        cubes = request.app.state.cubes
        return {
            "status": "ok",
            "listening": request.app.state.hub.listening,
            "live_source": request.app.state.hub.source,
            "warehouse": config.warehouse.display if config.warehouse else None,
            "analytics_error": cubes.last_error if cubes else None,
        }

    return app
