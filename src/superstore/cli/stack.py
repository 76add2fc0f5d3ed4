"""`superstore stack ...`: start, stop and inspect the local Kafka + PostgreSQL."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from superstore.clients import PgConfig
from superstore.settings import Settings
from superstore.stack import stack_down, stack_env, stack_status, stack_up
from superstore.stack.cluster import stack_partitions
from superstore.stack.standby import failover as pg_failover

__all__ = ["app"]

app = typer.Typer(
    help="Start, stop and inspect the local stack (Kafka broker + PostgreSQL).",
    no_args_is_help=True,
)
console = Console(stderr=True)


@app.command("up")
def up(
    ctx: typer.Context,
    brokers: int | None = typer.Option(
        None, "--brokers", help="1, or 3 for a local KRaft cluster (default: as last time, else 1)."
    ),
    pg_standby: bool | None = typer.Option(
        None, "--pg-standby/--no-pg-standby", help="Run a streaming PostgreSQL standby too."
    ),
    kafka_secure: bool | None = typer.Option(
        None,
        "--kafka-secure/--no-kafka-secure",
        help="Broker with SASL/SCRAM-SHA-512 over TLS, as MSK (certificates and passwords "
        "generated locally when its storage is formatted; default: as formatted, else plaintext).",
    ),
) -> None:
    """Start the local broker and PostgreSQL (idempotent: running services are reused).

    Services given by SUPERSTORE_KAFKA_BOOTSTRAP or SUPERSTORE_PG_DSN are used
    as they are and never started here. Creates the topics if missing. The
    stack's shape (--brokers, --pg-standby) is remembered for this data dir.
    """
    settings: Settings = ctx.obj
    report = lambda msg: console.print(f"[green]✓[/] {msg}")  # noqa: E731
    stack_up(
        settings, report=report, brokers=brokers, pg_standby=pg_standby, kafka_secure=kafka_secure
    )
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
    partitions = stack_partitions(ctx.obj)
    if partitions:
        table = Table("topic", "partition", "leader", "replicas", "in sync", title="partitions")
        for part in partitions:
            isr = ",".join(map(str, part.isr))
            table.add_row(
                part.topic, str(part.partition), str(part.leader),
                ",".join(map(str, part.replicas)),
                f"[red]{isr} (under-replicated)[/]" if part.under_replicated else isr,
            )  # fmt: skip
        Console().print(table)
    if not all(row.healthy for row in rows):
        raise typer.Exit(1)


@app.command("failover")
def failover(ctx: typer.Context) -> None:
    """Promote the PostgreSQL standby to primary; the old primary is fenced and never primary again.

    A running old primary is shut down first (its last WAL reaches the standby);
    a dead one is recorded as such. The DSN of `stack env` names both nodes and
    connects to whichever is primary; `stack up` rebuilds the old one as a standby.
    """
    pg_failover(ctx.obj, report=lambda msg: console.print(f"[green]✓[/] {msg}"))


@app.command("env")
def env(
    ctx: typer.Context,
    show_secrets: bool = typer.Option(
        False, "--show-secrets", help="Print passwords in clear (default: masked as ***)."
    ),
) -> None:
    """Print connection settings as KEY=value lines (eval-able by a shell).

    Passwords are masked unless --show-secrets: terminals, screen shares and CI logs keep
    what is printed, and the DSN's password is the key to every sales row.
    """
    for key, value in stack_env(ctx.obj).items():
        if key == "SUPERSTORE_PG_DSN" and not show_secrets:
            masked = PgConfig(value).display
            value = masked if "***" in masked else value
        if key == "SUPERSTORE_KAFKA_SASL_PASSWORD" and not show_secrets:
            value = "***"
        typer.echo(f"{key}={value}")
