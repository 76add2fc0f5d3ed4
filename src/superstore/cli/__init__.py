"""The `superstore` command line: thin commands over importable functions."""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import typer

from superstore.cli.app import app
from superstore.errors import SuperstoreError

__all__ = ["app", "main"]

# Typer >= 0.25 carries its own copy of click (typer._click), older ones use click:
# the exception classes are reached through the public typer.BadParameter either way.
_USAGE_ERROR: Any = typer.BadParameter.__mro__[1]
_CLICK_ERROR: type[Exception] = typer.BadParameter.__mro__[2]
assert _USAGE_ERROR.__name__ == "UsageError" and _CLICK_ERROR.__name__ == "ClickException"


def main() -> None:
    """Entry point: user errors become one clear line and a non-zero exit, never a traceback.

    Usage errors (an unknown flag, a bad value, a day that does not exist) and
    our own errors are printed here, hint included, on one line, so that logs
    and scripts that keep the last line of stderr keep all of it; Typer's
    standalone mode would draw a boxed, multi-line panel for the former.
    """
    # Lake files, warehouse.duckdb, run_state.json, logs: readable by their owner only.
    os.umask(0o077)
    try:
        code = app(prog_name="superstore", standalone_mode=False)
    except _CLICK_ERROR as exc:  # UsageError included
        _click_error(exc)
    except typer.Abort:  # Ctrl-C at a prompt, or EOF
        typer.secho("aborted", fg="red", err=True)
        sys.exit(1)
    except SuperstoreError as exc:
        hint = f" (hint: {exc.hint})" if exc.hint else ""
        typer.secho(f"error: {exc}{hint}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:  # the environment refused (permissions, disk full): no traceback
        where = f": {exc.filename}" if exc.filename else ""
        typer.secho(f"error: {exc.strerror or exc}{where}", fg="red", err=True)
        sys.exit(1)
    # non-standalone: an explicit typer.Exit(code) comes back as its code; commands return None
    if isinstance(code, int) and code:
        sys.exit(code)


def _click_error(exc: Any) -> NoReturn:
    """A wrong flag or value as one line, pointing at the command's --help."""
    if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help, as before
        exc.show()
    elif isinstance(exc, _USAGE_ERROR):
        where = exc.ctx.command_path if exc.ctx else "superstore"
        typer.secho(f"error: {exc.format_message()} (see '{where} --help')", fg="red", err=True)
    else:
        typer.secho(f"error: {exc.format_message()}", fg="red", err=True)
    sys.exit(exc.exit_code)
