"""`superstore serve`: the dashboards, /today (live) and /analytics."""

from __future__ import annotations

import datetime as dt
import logging

import typer
from rich.console import Console

from superstore.cli.options import day_option
from superstore.settings import Settings

__all__ = ["serve"]

console = Console(stderr=True)


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

    settings: Settings = ctx.obj
    check_bind(host if host is not None else settings.web_host, settings.web_auth)
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
