"""`superstore run`: the whole pipeline, supervised."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from superstore.cli.serve import TLS_CERT, TLS_KEY, with_tls
from superstore.settings import Settings
from superstore.stack import stack_up

__all__ = ["run"]

console = Console(stderr=True)


def run(
    ctx: typer.Context,
    every: float = typer.Option(
        None,
        "--every",
        min=1.0,
        help="Demo mode: every S seconds also export + load today's data so far.",
    ),
    no_ingest: bool = typer.Option(False, "--no-ingest", help="Do not run the consumer."),
    no_serve: bool = typer.Option(False, "--no-serve", help="Do not serve the dashboards."),
    no_sync: bool = typer.Option(
        False,
        "--no-sync",
        help="Do not re-export and reload changed days continuously (only the daily close).",
    ),
    tls_cert: Path = TLS_CERT,
    tls_key: Path = TLS_KEY,
    metrics_port: int = typer.Option(
        None,
        "--metrics-port",
        help="Prometheus /metrics port [env SUPERSTORE_METRICS_PORT]; 0 = off.",
    ),
) -> None:
    """Run the whole pipeline until Ctrl-C: ingestion, dashboards, daily export + ETL.

    Starts (or attaches to) the local stack, then supervises: continuous
    ingestion, the dashboard server, the continuous sync (every day whose
    data changed, by a late line, a correction, a cancellation or a return, is
    re-exported and reloaded within seconds; the day still being written at
    most every SUPERSTORE_SYNC_INTERVAL seconds), and a scheduler that closes
    each finished day at SUPERSTORE_SCHEDULE_TIME in SUPERSTORE_TIMEZONE,
    catching up every missed day after downtime. Failed steps are retried
    with backoff and alerted (SUPERSTORE_ALERT_*); they never stop ingestion.
    """
    # lazy: the pipeline loads Arrow and DuckDB (thread pools); the CLI stays single-threaded
    from superstore.ops.metrics import serve_metrics
    from superstore.ops.supervisor import Supervisor, SupervisorOptions
    from superstore.web.hosts import check_bind
    from superstore.web.server import check_tls

    settings: Settings = with_tls(ctx.obj, tls_cert, tls_key)
    tls = False
    if not no_serve:  # before anything starts: a refused bind is one line, not a retry loop
        check_bind(settings.web_host, settings.web_auth)
        tls = check_tls(settings.web_tls_cert, settings.web_tls_key)
    stack_up(settings, report=lambda msg: console.print(f"[green]✓[/] {msg}"))
    port = settings.metrics_port if metrics_port is None else metrics_port
    if port:
        serve_metrics(port)
        console.print(f"metrics: http://127.0.0.1:{port}/metrics")
    options = SupervisorOptions(
        ingest=not no_ingest, serve=not no_serve, sync=not no_sync, every=every
    )
    supervisor = Supervisor(settings, options)
    supervisor.install_signal_handlers()
    if options.serve:
        base = f"{'https' if tls else 'http'}://{settings.web_host}:{settings.web_port}"
        console.print(f"dashboards: {base}/today  {base}/analytics")
    console.print("running; Ctrl-C stops everything")
    supervisor.run()
    console.print("[green]✓[/] stopped cleanly")
