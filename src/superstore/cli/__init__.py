"""The `superstore` command line: thin commands over importable functions."""

from __future__ import annotations

import os
import sys

import typer

from superstore.cli.app import app
from superstore.errors import SuperstoreError

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: user errors become one clear line and a non-zero exit, never a traceback.

    Typer handles usage errors and Ctrl-C itself (standalone mode); our own
    errors propagate out of it and are printed here, hint included, on one line
    so that logs and scripts that keep the last line of stderr keep all of it.
    """
    # Lake files, warehouse.duckdb, run_state.json, logs: readable by their owner only.
    os.umask(0o077)
    try:
        app(prog_name="superstore")
    except SuperstoreError as exc:
        hint = f" (hint: {exc.hint})" if exc.hint else ""
        typer.secho(f"error: {exc}{hint}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:  # the environment refused (permissions, disk full): no traceback
        where = f": {exc.filename}" if exc.filename else ""
        typer.secho(f"error: {exc.strerror or exc}{where}", fg="red", err=True)
        sys.exit(1)
