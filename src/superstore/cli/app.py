"""The root Typer app: global options build the settings once, then subcommands run."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from superstore import __version__
from superstore.cli import check as check_cmd
from superstore.cli import data as data_cmd
from superstore.cli import etl as etl_cmd
from superstore.cli import export as export_cmd
from superstore.cli import ingest as ingest_cmd
from superstore.cli import produce as produce_cmd
from superstore.cli import run as run_cmd
from superstore.cli import serve as serve_cmd
from superstore.cli import stack as stack_cmd
from superstore.cli import status as status_cmd
from superstore.cli import topic as topic_cmd
from superstore.cli import web as web_cmd
from superstore.logs import setup_logging
from superstore.settings import load_settings, misspelt_variables

__all__ = ["app"]

_log = logging.getLogger("superstore.settings")

app = typer.Typer(
    name="superstore",
    help=(
        "Real-time retail sales pipeline: Kafka -> PostgreSQL (exactly once) -> lake -> "
        "star schema -> dashboards. Settings come from SUPERSTORE_* environment variables "
        "or superstore.toml; `superstore stack env` prints the connection settings."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(stack_cmd.app, name="stack")
app.add_typer(data_cmd.app, name="data")
app.command("produce")(produce_cmd.produce)
app.command("ingest")(ingest_cmd.ingest)
app.command("check")(check_cmd.check)
app.command("run")(run_cmd.run)
app.command("status")(status_cmd.status)
app.command("export")(export_cmd.export)
app.command("etl")(etl_cmd.etl)
app.add_typer(topic_cmd.app, name="topic")
app.command("serve")(serve_cmd.serve)
app.add_typer(web_cmd.app, name="web")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"superstore {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    data_dir: Path = typer.Option(
        None,
        "--data-dir",
        help="State, logs and local data [env SUPERSTORE_DATA_DIR; default ./.superstore]",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug details."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Build the settings once; every command receives them through the context."""
    ctx.obj = load_settings(data_dir=data_dir)
    setup_logging(verbose, json_lines=ctx.obj.log_json)
    for warning in misspelt_variables():
        _log.warning(warning)
