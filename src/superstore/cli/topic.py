"""`superstore topic stats`: read a topic back and reconcile it with the data set."""

from __future__ import annotations

import typer
from rich.console import Console

from superstore.data import dataset_path, dataset_stats, load_lines
from superstore.errors import FatalError
from superstore.produce import read_topic
from superstore.settings import Settings
from superstore.stack import kafka_config

__all__ = ["app"]

app = typer.Typer(help="Inspect what a Kafka topic holds.", no_args_is_help=True)
console = Console()


@app.command("stats")
def stats(
    ctx: typer.Context,
    topic: str = typer.Option(None, "--topic", help="Topic to read [default: the lines topic]."),
    expect_dataset: bool = typer.Option(
        False,
        "--expect-dataset",
        help="Fail unless the distinct lines and their sales sum equal the data set's.",
    ),
) -> None:
    """Read every message from offset 0 to the current end; count and sum exactly."""
    settings: Settings = ctx.obj
    config = kafka_config(settings)
    summary = read_topic(config, topic)
    console.print(
        f"{topic or config.topic}: {summary.messages:,} messages, {summary.valid:,} valid, "
        f"{summary.invalid:,} invalid, {summary.distinct_lines:,} distinct lines, "
        f"sales {summary.sales_sum}"
    )
    split = [o for o, parts in summary.partitions_by_order.items() if len(parts) > 1]
    if split:
        raise FatalError(
            f"{len(split)} orders have lines in more than one partition, e.g. {split[0]}"
        )
    if expect_dataset:
        expected = dataset_stats(load_lines(dataset_path(settings.data_dir)))
        if (summary.distinct_lines, summary.sales_sum) != (expected.lines, expected.sales):
            raise FatalError(
                f"topic holds {summary.distinct_lines:,} lines / sales {summary.sales_sum}, "
                f"data set has {expected.lines:,} / {expected.sales}"
            )
        console.print(
            f"[green]✓[/] matches the data set: {expected.lines:,} lines, sales {expected.sales}"
        )
