"""`superstore ingest`: the exactly-once consumer Kafka -> PostgreSQL."""

from __future__ import annotations

import logging

import typer
from rich.console import Console

from superstore.contract import Expectations
from superstore.ingest import IngestOptions, run_member, run_workers
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
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        help="Consumer processes to run in the group (about one per core; more than "
        "the topic's partitions sit idle). Decoding is per-process Python work.",
    ),
    max_wait_ms: int = typer.Option(
        round(IngestOptions.batch_timeout * 1000),
        "--max-wait-ms",
        min=1,
        help="Longest wait for a batch to fill before writing what has arrived "
        "(lower: fresher /today; higher: fewer, larger transactions when traffic is light).",
    ),
) -> None:
    """Consume `sales.lines` into PostgreSQL exactly once; bad messages go to the DLQ.

    Each batch and the consumed offsets are written in ONE transaction; on
    partition assignment the consumer seeks to the offsets stored in
    PostgreSQL, so crashes, restarts and rebalances lose and double nothing.
    Runs until Ctrl-C/SIGTERM unless --until-idle or --max-lines is given.
    --workers N runs N processes in one group (or start several commands with
    the same --group): they share the topic's partitions.
    """
    settings: Settings = ctx.obj
    if workers > 1 and max_lines is not None:
        raise typer.BadParameter(
            "--max-lines counts one process's messages; use it with --workers 1",
            param_hint="--max-lines",
        )
    options = IngestOptions(
        expect=Expectations.from_settings(settings),
        group_id=group,
        batch_size=batch_size,
        batch_timeout=max_wait_ms / 1000,
        until_idle=until_idle,
        max_lines=max_lines,
    )
    if workers > 1:
        verbose = logging.getLogger().isEnabledFor(logging.DEBUG)
        result = run_workers(settings, options, workers, verbose)
        rate = result.messages / result.seconds if result.seconds else 0.0
        if not result.ok:
            console.print(f"[red]✗[/] ingest workers failed: exit codes {result.exit_codes}")
            raise typer.Exit(1)
        console.print(
            f"[green]✓[/] {workers} workers ingested {result.lines:,} lines, rejected "
            f"{result.rejected:,} ({result.messages:,} messages, {rate:,.0f}/s)"
        )
        return
    stats = run_member(settings, options)
    console.print(
        f"[green]✓[/] ingested {stats.lines:,} lines, rejected {stats.rejected:,} "
        f"({stats.messages:,} messages, {stats.rate:,.0f}/s)"
    )
