"""/metrics on the dashboard port: Prometheus text, for loopback peers or admins.

Prometheus usually scrapes from the same host, so a loopback peer needs no
token (access control lets it through); from anywhere else /metrics is an
operations page and needs the admin role. Behind a proxy the peer is the
forwarded client (`superstore.web.proxies`), so proxied requests are not
mistaken for local ones.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

__all__ = ["install_metrics"]


def install_metrics(app: FastAPI, registry: CollectorRegistry | None) -> None:
    """Serve `registry` (default: the process's own collectors) at /metrics."""
    source = registry if registry is not None else REGISTRY

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(source), media_type=CONTENT_TYPE_LATEST)
