"""`superstore ingest`: the exactly-once consumer Kafka -> PostgreSQL."""

from __future__ import annotations

import typer
from rich.console import Console

from superstore.clients import kafka_config, pg_config
from superstore.ingest.consumer import IngestOptions, Ingestor
from superstore.settings import Settings

__all__ = ["ingest"]

console = Console(stderr=True)


def ingest(
    ctx: typer.Context,
    group: str = typer.Option("superstore-ingest", "--group", help="Consumer group id."),
    batch_size: int = typer.Option(
        20_000, "--batch-size", min=1, help="Max messages per PostgreSQL transaction."
    ),
    until_idle: float = typer.Option(
        None,
        "--until-idle",
        min=0.0,
        help="Exit after the topic has been quiet this many seconds (batch use, tests).",
    ),
    max_lines: int = typer.Option(
        None, "--max-lines", min=1, help="Exit after about N messages (whole batches)."
    ),
) -> None:
    """Consume `sales.lines` into PostgreSQL exactly once; bad messages go to the DLQ.

    Each batch and the consumed offsets are written in ONE transaction; on
    partition assignment the consumer seeks to the offsets stored in
    PostgreSQL, so crashes, restarts and rebalances lose and double nothing.
    Runs until Ctrl-C/SIGTERM unless --until-idle or --max-lines is given.
    Start several processes with the same --group to share partitions.
    """
    settings: Settings = ctx.obj
    options = IngestOptions(
        group_id=group, batch_size=batch_size, until_idle=until_idle, max_lines=max_lines
    )
    ingestor = Ingestor(kafka_config(settings), pg_config(settings), options)
    ingestor.install_signal_handlers()
    stats = ingestor.run()
    console.print(
        f"[green]✓[/] ingested {stats.lines:,} lines, rejected {stats.rejected:,} "
        f"({stats.messages:,} messages, {stats.rate:,.0f}/s)"
    )
