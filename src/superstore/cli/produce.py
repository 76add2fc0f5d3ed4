"""`superstore produce`: publish order lines to the `sales.lines` topic."""

from __future__ import annotations

import datetime as dt
import random
import signal
import threading

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from superstore.cli.options import day_option
from superstore.data import dataset_path, lines_between, load_lines
from superstore.errors import InputError, TransientError
from superstore.produce import (
    EventSynthesizer,
    LineSynthesizer,
    bad_records,
    cancellation,
    event_record,
    mix_bad,
    produce_live,
    produce_records,
    return_of,
)
from superstore.settings import Settings
from superstore.stack import kafka_config

__all__ = ["produce"]

console = Console(stderr=True)


def _check_modes(replay: bool, live: bool, events: bool) -> None:
    if sum((replay, live, events)) != 1:
        raise InputError(
            "choose exactly one of --replay, --live, or --cancel/--return",
            hint="superstore produce --replay  |  --live --rate 50  |  --cancel CA-2016-152156",
        )


def _returned_lines(specs: list[str] | None) -> list[tuple[int, int | None]]:
    """`--return-line N` (the whole line) or `N:Q` (Q of its quantity)."""
    out: list[tuple[int, int | None]] = []
    for spec in specs or []:
        number, _, quantity = spec.partition(":")
        try:
            out.append((int(number), int(quantity) if quantity else None))
        except ValueError:
            raise InputError(
                f"--return-line {spec!r}: a line number, or LINE:QUANTITY", hint="--return-line 2:1"
            ) from None
    return out


def produce(
    ctx: typer.Context,
    replay: bool = typer.Option(False, "--replay", help="Send the data set as fast as possible."),
    live: bool = typer.Option(False, "--live", help="Synthesise new orders dated today."),
    since: dt.datetime = day_option("--since", help="Replay: first order date (inclusive)."),
    until: dt.datetime = day_option("--until", help="Replay: last order date (inclusive)."),
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
    cancel_rate: float = typer.Option(
        0.0, "--cancel-rate", min=0.0, max=1.0, help="Live: fraction of orders later cancelled."
    ),
    return_rate: float = typer.Option(
        0.0,
        "--return-rate",
        min=0.0,
        max=1.0,
        help="Live: fraction of orders later returned (whole, or a line with part of it).",
    ),
    cancel: list[str] = typer.Option(None, "--cancel", help="Cancel this order (repeatable)."),
    return_order: list[str] = typer.Option(
        None, "--return", help="Return this order (repeatable); whole unless --return-line."
    ),
    return_line: list[str] = typer.Option(
        None, "--return-line", help="With one --return: line N returned, or N:Q for Q of it."
    ),
    reason: str = typer.Option(None, "--reason", help="With --cancel/--return: why."),
) -> None:
    """Publish order lines and order events as JSON (key = order id), idempotent, acks=all.

    --replay sends the data set; --live synthesises orders dated today (with
    --cancel-rate/--return-rate, some of them are later cancelled or returned);
    --cancel and --return send one event each for the orders named.
    """
    settings: Settings = ctx.obj
    one_off = bool(cancel or return_order)
    _check_modes(replay, live, one_off)
    config = kafka_config(settings)
    config.ping(timeout=10.0)
    if one_off:
        if return_line and len(return_order or []) != 1:
            raise InputError("--return-line goes with exactly one --return ORDER")
        events = [cancellation(o, reason) for o in cancel or []] + [
            return_of(o, _returned_lines(return_line), reason) for o in return_order or []
        ]
        result = produce_records(config, [event_record(e) for e in events])
        console.print(f"[green]✓[/] delivered {result.sent:,} order event(s) to {config.topic}")
        return
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
        later = (
            EventSynthesizer(cancel_rate, return_rate, seed) if cancel_rate or return_rate else None
        )
        result = produce_live(
            config, synth, rate, settings.timezone, stop, max_lines, duration,
            on_progress=lambda n: console.print(f"  +{n} messages"), events=later,
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
