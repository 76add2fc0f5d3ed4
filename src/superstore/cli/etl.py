"""`superstore etl`: lake partitions -> star schema (DuckDB or Spark) -> warehouse."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from superstore.cli.options import day_option
from superstore.errors import InputError
from superstore.settings import Settings
from superstore.stack import READER_ROLE, pg_config
from superstore.storage import LakeConfig

if TYPE_CHECKING:  # imported by the command: the CLI starts without DuckDB, Arrow, numpy
    from superstore.etl import EtlReport

__all__ = ["etl"]

console = Console(stderr=True)


def _conf(pairs: list[str] | None) -> dict[str, str]:
    conf = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(
                f"--spark-conf {pair!r} is not KEY=VALUE", hint="spark.executor.memory=4g"
            )
        conf[key.strip()] = value.strip()
    return conf


def _choice(value: str | None, allowed: tuple[str, ...], flag: str) -> str | None:
    if value is not None and value not in allowed:
        raise InputError(f"{flag} {value!r}: use one of {', '.join(allowed)}")
    return value


def etl(
    ctx: typer.Context,
    dates: list[dt.datetime] = day_option(
        "--date", help="Day to load (repeatable). Default: today."
    ),
    start: dt.datetime = day_option(
        "--from", help="First day of a range (the lake's partitions in it)."
    ),
    end: dt.datetime = day_option("--to", help="Last day (inclusive)."),
    every: bool = typer.Option(False, "--all", help="Every partition in the lake."),
    stale: bool = typer.Option(
        False,
        "--stale",
        help="The days whose partition is newer than what the warehouse loaded "
        "(re-exported after a change); needs the PostgreSQL the lake was exported from.",
    ),
    engine: str = typer.Option(
        None, "--engine", help="duckdb (default, in process) or spark (env SUPERSTORE_ETL_ENGINE)."
    ),
    warehouse: str = typer.Option(
        None,
        "--warehouse",
        help="duckdb (default: <data-dir>/warehouse.duckdb), postgres or redshift "
        "(env SUPERSTORE_WAREHOUSE).",
    ),
    warehouse_path: Path = typer.Option(
        None, "--warehouse-path", help="DuckDB warehouse file (env SUPERSTORE_WAREHOUSE_PATH)."
    ),
    spark_master: str = typer.Option(
        None,
        "--spark-master",
        help="Spark master, e.g. local[*] (default) or yarn on EMR (env SUPERSTORE_SPARK_MASTER).",
    ),
    spark_conf: list[str] = typer.Option(
        None, "--spark-conf", help="Extra Spark setting KEY=VALUE (repeatable)."
    ),
    lake_url: str = typer.Option(
        None,
        "--lake",
        help="Lake root: a directory or s3://bucket/prefix (env SUPERSTORE_LAKE_URL).",
    ),
    verify_all: bool = typer.Option(
        False,
        "--verify-all",
        help="Check all six files of each partition (CSV too) against the manifest, "
        "not only the orders.parquet the ETL reads.",
    ),
    batch_lines: int = typer.Option(
        5_000_000, "--batch-lines", min=1, help="Lines per transaction when loading many days."
    ),
) -> None:
    """Load lake partitions into the star schema, idempotently.

    Each partition (raw/date=D/) is first checked against its _manifest.json
    (size, sha256 and rows of the file read); a partition that does not match
    is refused by name and nothing is loaded. The one transformation (SQL,
    rendered per engine) builds time_dim, customer_dim, product_dim (one row
    per product version), location_dim (the ORDER's ship-to address) and
    sales_fact (one row per order line). Each batch of days is MERGEd in one
    transaction: the days' facts are replaced, dimensions upserted, so a rerun
    changes nothing and a corrected partition replaces its day. Data-quality
    checks (not-null keys, unique line keys, referential integrity, per-day
    lines and exact sales equal to the manifest) run inside that transaction;
    a failure rolls it back and names the rows.

    Warehouse settings: SUPERSTORE_WAREHOUSE_DSN (postgres: any DSN, default
    the stack's server; redshift: redshift://user:pass@host:5439/dev),
    SUPERSTORE_WAREHOUSE_SCHEMA (default star), SUPERSTORE_REDSHIFT_IAM_ROLE and
    SUPERSTORE_REDSHIFT_STAGE_URL (s3:// prefix COPY reads from).
    """
    # lazy: the ETL loads Arrow and DuckDB (thread pools); the CLI stays single-threaded
    from superstore.etl import ENGINES, behind_in_warehouse, engine_config, run_etl, select_days
    from superstore.warehouse import TARGETS, warehouse_config

    settings: Settings = ctx.obj
    updates = {"lake_url": lake_url, "warehouse_path": warehouse_path}
    settings = settings.model_copy(update={k: v for k, v in updates.items() if v is not None})
    lake = LakeConfig.from_settings(settings)
    target = warehouse_config(settings, kind=_choice(warehouse, tuple(TARGETS), "--warehouse"))
    if stale:
        if dates or start or end or every:
            raise InputError("--stale chooses the days itself: no --date, --from/--to or --all")
        reader = pg_config(settings, READER_ROLE)
        with reader.connect(autocommit=True) as conn, target.open() as store:
            days = behind_in_warehouse(conn, lake, store)
        if not days:
            console.print(f"[green]✓[/] no stale day: {target.kind} holds every partition's mark")
            return
    else:
        if not (dates or start or end or every):
            dates = [dt.datetime.now(ZoneInfo(settings.timezone))]
        days = select_days(
            lake,
            dates=[d.date() for d in dates or []],
            start=start.date() if start else None,
            end=end.date() if end else None,
            all_days=every,
        )
    started = time.monotonic()
    with (
        engine_config(
            settings,
            name=_choice(engine, tuple(ENGINES), "--engine"),
            lake=lake,
            master=spark_master,
            conf=_conf(spark_conf),
        ).open() as runner,
        target.open() as store,
        Progress(
            TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=True,
        ) as bar,
    ):  # fmt: skip
        task = bar.add_task("verifying", total=len(days))

        def progress(phase: str, done: int, total: int) -> None:
            name = "verifying" if phase == "verify" else "loading"
            bar.update(task, description=name, completed=done, total=total)

        report = run_etl(
            lake, runner, store, days,
            full_verify=verify_all, batch_lines=batch_lines, progress=progress,
        )  # fmt: skip
    console.print(_summary(report, time.monotonic() - started))


def _summary(report: EtlReport, seconds: float) -> str:
    phases = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items())
    return (
        f"[green]✓[/] loaded {report.days:,} days, {report.lines:,} lines, sales {report.sales} "
        f"with {report.engine} into {report.warehouse} in {seconds:.1f}s ({phases}); "
        "checks passed"
    )
