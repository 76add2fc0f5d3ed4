"""`superstore stack ...`: start, stop and inspect the local Kafka + PostgreSQL."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from superstore.settings import Settings
from superstore.stack import stack_down, stack_env, stack_status, stack_up

__all__ = ["app"]

app = typer.Typer(
    help="Start, stop and inspect the local stack (Kafka broker + PostgreSQL).",
    no_args_is_help=True,
)
console = Console(stderr=True)


@app.command("up")
def up(ctx: typer.Context) -> None:
    """Start the local broker and PostgreSQL (idempotent: running services are reused).

    Services given by SUPERSTORE_KAFKA_BOOTSTRAP or SUPERSTORE_PG_DSN are used
    as they are and never started here. Creates the topics if missing.
    """
    settings: Settings = ctx.obj
    stack_up(settings, report=lambda msg: console.print(f"[green]✓[/] {msg}"))
    console.print("stack is up; `superstore stack env` prints its connection settings")


@app.command("down")
def down(
    ctx: typer.Context,
    purge: bool = typer.Option(False, "--purge", help="Also delete Kafka and PostgreSQL data."),
) -> None:
    """Stop what `stack up` started, and nothing else."""
    stack_down(ctx.obj, purge=purge, report=lambda msg: console.print(f"[green]✓[/] {msg}"))


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Show each service, where it runs and whether it answers. Exit 1 if any is down."""
    rows = stack_status(ctx.obj)
    table = Table("service", "origin", "address", "health", "detail")
    for row in rows:
        health = "[green]up[/]" if row.healthy else "[red]down[/]"
        table.add_row(row.name, row.origin, row.address, health, row.detail)
    Console().print(table)
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


@app.command("env")
def env(ctx: typer.Context) -> None:
    """Print connection settings as KEY=value lines (eval-able by a shell)."""
    for key, value in stack_env(ctx.obj).items():
        typer.echo(f"{key}={value}")
