"""`superstore produce`: publish order lines to the `sales.lines` topic."""

from __future__ import annotations

import datetime as dt
import random
import signal
import threading

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from superstore.data import dataset_path, lines_between, load_lines
from superstore.errors import InputError, TransientError
from superstore.produce import LineSynthesizer, bad_records, mix_bad, produce_live, produce_records
from superstore.settings import Settings
from superstore.stack import kafka_config

__all__ = ["produce"]

console = Console(stderr=True)


def _check_modes(replay: bool, live: bool) -> None:
    if replay == live:
        raise InputError(
            "choose exactly one of --replay or --live",
            hint="superstore produce --replay  |  superstore produce --live --rate 50",
        )


def produce(
    ctx: typer.Context,
    replay: bool = typer.Option(False, "--replay", help="Send the data set as fast as possible."),
    live: bool = typer.Option(False, "--live", help="Synthesise new orders dated today."),
    since: dt.datetime = typer.Option(
        None, "--since", formats=["%Y-%m-%d"], help="Replay: first order date (inclusive)."
    ),
    until: dt.datetime = typer.Option(
        None, "--until", formats=["%Y-%m-%d"], help="Replay: last order date (inclusive)."
    ),
    rate: float = typer.Option(10.0, "--rate", min=0.001, help="Live: lines per second."),
    max_lines: int = typer.Option(None, "--max-lines", min=1, help="Live: stop after N lines."),
    duration: float = typer.Option(None, "--duration", min=0.0, help="Live: stop after S seconds."),
    inject_bad: int = typer.Option(
        0,
        "--inject-bad",
        min=0,
        help="Mix in N malformed messages (bad JSON, missing field, wrong type, "
        "negative quantity, unknown schema version) to exercise the dead-letter path.",
    ),
    seed: int = typer.Option(None, "--seed", help="Random seed for --live and --inject-bad."),
) -> None:
    """Publish order lines as JSON (key = order id) with an idempotent, acks=all producer."""
    settings: Settings = ctx.obj
    _check_modes(replay, live)
    config = kafka_config(settings)
    config.ping(timeout=10.0)
    lines = load_lines(dataset_path(settings.data_dir))
    if replay:
        chosen = lines_between(
            lines, since.date() if since else None, until.date() if until else None
        )
        records = mix_bad(chosen, inject_bad, random.Random(seed))
        total = len(chosen) + inject_bad
        with Progress(
            TextColumn("producing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=console,
        ) as bar:  # fmt: skip
            task = bar.add_task("produce", total=total)
            result = produce_records(config, records, lambda n: bar.advance(task, n))
    else:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        synth = LineSynthesizer(lines, seed=seed)
        console.print(f"producing live orders at {rate:g} lines/s to {config.topic}; Ctrl-C stops")
        if inject_bad:
            produce_records(config, bad_records(inject_bad, lines[0]))
        result = produce_live(
            config, synth, rate, settings.timezone, stop, max_lines, duration,
            on_progress=lambda n: console.print(f"  +{n} lines"),
        )  # fmt: skip
    console.print(
        f"[green]✓[/] delivered {result.sent:,} messages to {config.topic} in "
        f"{result.seconds:.1f}s ({result.rate:,.0f}/s)"
    )
    if result.failed:
        raise TransientError(
            f"{result.failed} messages were not delivered: {result.first_error}",
            hint=f"check the broker at {config.bootstrap}",
        )
