"""`superstore check`: end-to-end reconciliation, Kafka to warehouse."""

from __future__ import annotations

import datetime as dt
import json

import typer
from rich.console import Console
from rich.table import Table

from superstore.cli.options import day_option
from superstore.settings import Settings

__all__ = ["check"]

console = Console()


def check(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the full report as JSON."),
    until: dt.datetime = day_option(
        "--until",
        help="Compare PostgreSQL, lake and warehouse up to this day [default: yesterday].",
    ),
    no_kafka: bool = typer.Option(False, "--no-kafka", help="Skip reading the topic."),
    no_warehouse: bool = typer.Option(False, "--no-warehouse", help="Skip the warehouse layer."),
) -> None:
    """Reconcile lines, orders and exact sales per day across every layer.

    Layers: Kafka (distinct valid lines in the topic), PostgreSQL, lake
    manifests, warehouse facts joined through every dimension. Exits 1 and
    names the days and layers that disagree.
    """
    from superstore.check import run_check  # lazy: the check reads the lake and warehouse

    settings: Settings = ctx.obj
    report = run_check(
        settings,
        until=until.date() if until else None,
        include_kafka=not no_kafka,
        include_warehouse=not no_warehouse,
    )
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
    else:
        table = Table("layer", "days", "lines", "orders", "sales", "notes")
        for layer in report.layers:
            total = layer.total
            notes = ", ".join(f"{k}={v}" for k, v in layer.notes.items())
            table.add_row(
                layer.name, str(len(layer.days)), f"{total.lines:,}", f"{total.orders:,}",
                str(total.sales), notes,
            )  # fmt: skip
        console.print(table)
        for diff in report.differences[:20]:
            console.print(f"[red]✗[/] {diff.describe()}")
        if len(report.differences) > 20:
            console.print(f"... and {len(report.differences) - 20} more differing days")
        for problem in report.problems:
            console.print(f"[red]✗[/] {problem}")
        if report.ok:
            console.print(f"[green]✓[/] every layer agrees (up to {report.until})")
    if not report.ok:
        raise typer.Exit(1)
