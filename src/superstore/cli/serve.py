"""`superstore serve`: the dashboards, /today (live) and /analytics."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import typer
from rich.console import Console

from superstore.cli.options import day_option
from superstore.settings import Settings

__all__ = ["TLS_CERT", "TLS_KEY", "serve", "with_tls"]

console = Console(stderr=True)


# shared by `serve` and `run`: both serve the dashboards
TLS_CERT = typer.Option(
    None,
    "--tls-cert",
    help="Serve https with this PEM certificate (chain) (env SUPERSTORE_WEB_TLS_CERT).",
)
TLS_KEY = typer.Option(
    None, "--tls-key", help="PEM private key of --tls-cert (env SUPERSTORE_WEB_TLS_KEY)."
)


def with_tls(settings: Settings, cert: Path | None, key: Path | None) -> Settings:
    """The settings with --tls-cert/--tls-key (when given) over SUPERSTORE_WEB_TLS_*."""
    updates = {"web_tls_cert": cert, "web_tls_key": key}
    return settings.model_copy(update={k: v for k, v in updates.items() if v is not None})


def serve(
    ctx: typer.Context,
    host: str = typer.Option(
        None, "--host", help="Address to bind [env SUPERSTORE_WEB_HOST; default 127.0.0.1]."
    ),
    port: int = typer.Option(
        None,
        "--port",
        min=0,
        max=65535,
        help="Port [env SUPERSTORE_WEB_PORT; default 8000]; 0 picks a free one.",
    ),
    tls_cert: Path = TLS_CERT,
    tls_key: Path = TLS_KEY,
    date: dt.datetime = day_option(
        "--date",
        help="Show this day on /today instead of today (e.g. 2017-12-30 for the replayed "
        "history); pages can still pick another with ?date=.",
    ),
) -> None:
    """Serve the dashboards until Ctrl-C: /today (live) and /analytics, plus /docs.

    /today reads PostgreSQL in read-only sessions and is pushed every committed
    ingest transaction (LISTEN/NOTIFY -> server-sent events). /analytics reads
    the warehouse star schema (SUPERSTORE_WAREHOUSE) through pre-aggregates
    rebuilt when it changes. All assets are local: no internet needed.
    """
    # lazy: the dashboards load DuckDB (thread pools); the CLI stays single-threaded
    from superstore.web import serve as run_server
    from superstore.web import web_config
    from superstore.web.hosts import check_bind
    from superstore.web.server import check_tls

    settings = with_tls(ctx.obj, tls_cert, tls_key)
    check_bind(host if host is not None else settings.web_host, settings.web_auth)
    check_tls(settings.web_tls_cert, settings.web_tls_key)
    # The pool retries an unreachable server quietly; the page shows "reconnecting".
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    config = web_config(settings, day=date.date() if date else None)
    day_hint = f"?date={config.day}" if config.day else ""

    def announce(url: str) -> None:
        for line in (
            f"[green]✓[/] dashboards on {url}  (Ctrl-C stops)",
            f"  today      {url}/today{day_hint}",
            f"  analytics  {url}/analytics",
            f"  API docs   {url}/docs",
        ):
            console.print(line, soft_wrap=True)

    run_server(
        config,
        host if host is not None else settings.web_host,
        port if port is not None else settings.web_port,
        announce,
    )
