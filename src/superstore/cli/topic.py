"""`superstore topic stats`: read a topic back and reconcile it with the data set."""

from __future__ import annotations

import psycopg
import typer
from rich.console import Console

from superstore.contract import Expectations
from superstore.data import dataset_path, load_lines
from superstore.errors import FatalError, SuperstoreError
from superstore.oltp import refused_offsets
from superstore.produce import read_topic
from superstore.settings import Settings
from superstore.stack import kafka_config, pg_config

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
        help="Fail unless every line of the data set is in the topic, as the data set has it "
        "(live orders, corrections and events beside it are fine).",
    ),
) -> None:
    """Read every message from offset 0 to the current end; count and sum exactly.

    Messages are judged as the ingest judges them; with a PostgreSQL configured,
    those the ingest dead-lettered for PostgreSQL's reasons count as invalid too.
    """
    settings: Settings = ctx.obj
    config = kafka_config(settings)
    wanted = None
    if expect_dataset:
        wanted = {line.key: line.sales for line in load_lines(dataset_path(settings.data_dir))}
    summary = read_topic(
        config,
        topic,
        expect=Expectations.from_settings(settings),
        refused=_refused(settings, topic or config.topic),
        wanted=wanted,
    )
    console.print(
        f"{topic or config.topic}: {summary.messages:,} messages, {summary.valid:,} valid lines, "
        f"{summary.events:,} order events, {summary.invalid:,} invalid, "
        f"{summary.distinct_lines:,} distinct lines, sales {summary.sales_sum}"
    )
    split = [o for o, parts in summary.partitions_by_order.items() if len(parts) > 1]
    if split:
        raise FatalError(
            f"{len(split)} orders have lines in more than one partition, e.g. {split[0]}"
        )
    if wanted is not None:
        missing = sorted(set(wanted) - summary.contained)
        if missing:
            raise FatalError(
                f"{len(missing):,} of the data set's {len(wanted):,} lines are not in the topic "
                f"as the data set has them, e.g. {missing[0]}",
                hint="run `superstore produce --replay`",
            )
        others = summary.distinct_lines - len(wanted)
        console.print(
            f"[green]✓[/] holds all {len(wanted):,} lines of the data set"
            + (f", and {others:,} more lines" if others > 0 else "")
        )


def _refused(settings: Settings, topic: str) -> set[tuple[int, int]]:
    """The offsets the ingest dead-lettered, when a PostgreSQL is there to ask."""
    try:
        with pg_config(settings).connect(autocommit=True, connect_timeout=2) as conn:
            return refused_offsets(conn, topic)
    except (SuperstoreError, psycopg.Error):  # no database, or not migrated yet
        return set()
