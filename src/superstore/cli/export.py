"""`superstore export`: one day (or a range, or all days) of PostgreSQL into the lake."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from superstore.cli.options import day_option
from superstore.errors import InputError
from superstore.oltp import stale_days
from superstore.settings import Settings
from superstore.stack import READER_ROLE, pg_config
from superstore.storage import LakeConfig

if TYPE_CHECKING:  # imported by the command: the CLI starts without Arrow and numpy
    from superstore.export import Manifest

__all__ = ["export"]

console = Console(stderr=True)


def _days(
    settings: Settings,
    date: dt.datetime | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    every: bool,
) -> list[dt.date] | None:
    """The days asked for; None means every day (of the database, or of the lake)."""
    if every and (date or start or end):
        raise InputError("--all cannot be combined with --date, --from or --to")
    if date and (start or end):
        raise InputError("use either --date or --from/--to")
    if every:
        return None
    if start or end:
        if not (start and end):
            raise InputError(
                "--from and --to go together", hint="--from 2017-01-01 --to 2017-01-31"
            )
        first, last = start.date(), end.date()
        if last < first:
            raise InputError(f"--to {last} is before --from {first}")
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    if date:
        return [date.date()]
    return [dt.datetime.now(ZoneInfo(settings.timezone)).date()]


def export(
    ctx: typer.Context,
    date: dt.datetime = day_option(
        "--date",
        help="Day to export (default: today in SUPERSTORE_TIMEZONE).",
    ),
    start: dt.datetime = day_option("--from", help="First day of a range."),
    end: dt.datetime = day_option("--to", help="Last day (inclusive)."),
    every: bool = typer.Option(
        False, "--all", help="Every order date in the database (with --verify: every partition)."
    ),
    verify: bool = typer.Option(
        False, "--verify", help="Only re-read partitions and check them against their manifests."
    ),
    stale: bool = typer.Option(
        False,
        "--stale",
        help="The days whose data changed since their partition was exported (late lines, "
        "corrections, cancellations, returns), and days never exported.",
    ),
    lake_url: str = typer.Option(
        None,
        "--lake",
        help="Lake root: a directory or s3://bucket/prefix (env SUPERSTORE_LAKE_URL).",
    ),
) -> None:
    """Export days to raw/date=D/ in the lake: orders, customers, products as CSV and Parquet.

    One snapshot is read with server-side COPY; _manifest.json is written last.
    Rerunning a day replaces its partition atomically; an empty day gets an empty partition.
    --verify checks partitions against their manifests instead of writing them.
    """
    # lazy: the export loads Arrow (thread pools); the CLI stays single-threaded
    from superstore.export import export_days

    settings: Settings = ctx.obj
    if lake_url:
        settings = settings.model_copy(update={"lake_url": lake_url})
    lake = LakeConfig.from_settings(settings)
    if stale and (date or start or end or every or verify):
        raise InputError("--stale chooses the days itself: no --date, --from/--to, --all, --verify")
    days: list[dt.date] | None = None
    if not stale:
        days = _days(settings, date, start, end, every)  # usage errors before any connection
        if verify:
            _verify(lake, days)
            return
    pg = pg_config(settings, READER_ROLE)
    if stale:
        with pg.connect(autocommit=True) as conn:
            days = [s.day for s in stale_days(conn, lake.url)]
        if not days:
            console.print(f"[green]✓[/] no stale day: {lake.raw_url} is up to date")
            return
    started = time.monotonic()
    if days is not None and len(days) == 1:
        manifest = export_days(pg, lake, days)[0]
        console.print(f"[green]✓[/] {_describe(manifest)} → {lake.partition_url(manifest.date)}")
        return
    with Progress(
        TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        TextColumn("{task.description}"), console=console,
    ) as bar:  # fmt: skip
        task = bar.add_task("", total=len(days) if days is not None else None)

        def advance(manifest: Manifest, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=str(manifest.date))

        manifests = export_days(pg, lake, days, on_day=advance)
    lines = sum(m.lines for m in manifests)
    sales = sum((m.sales for m in manifests), Decimal(0))
    console.print(
        f"[green]✓[/] exported {len(manifests):,} partitions, {lines:,} lines, sales {sales} "
        f"to {lake.raw_url} "
        f"in {time.monotonic() - started:.1f}s"
    )


def _describe(manifest: Manifest) -> str:
    return (
        f"{manifest.date}: {manifest.lines:,} lines, {manifest.orders:,} orders, "
        f"sales {manifest.sales}"
    )


def _verify(lake: LakeConfig, days: list[dt.date] | None) -> None:
    """Verify each day; report every bad partition, then fail once naming them."""
    from superstore.export import VerifyError, list_partitions, verify_day  # lazy: Arrow

    todo = list_partitions(lake) if days is None else days
    if not todo:
        raise VerifyError(f"no partitions in {lake.url}", hint="run `superstore export` first")
    failed: list[VerifyError] = []
    for day in todo:
        try:
            manifest = verify_day(lake, day)
        except VerifyError as exc:
            failed.append(exc)
            console.print(f"[red]✗[/] {exc}")
            continue
        if len(todo) <= 10:
            console.print(f"[green]✓[/] verified {_describe(manifest)}")
    if failed:
        if len(failed) == 1:
            raise failed[0]
        raise VerifyError(f"{len(failed)} of {len(todo)} partitions failed verification")
    console.print(f"[green]✓[/] {len(todo):,} partitions match their manifests")
