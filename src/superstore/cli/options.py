"""Option parsers shared by the commands: a calendar day, said the way a user means it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import typer

__all__ = ["day_option", "parse_day"]


def parse_day(value: str | dt.datetime) -> dt.datetime:
    """A day as YYYY-MM-DD, as a midnight `datetime` (what the commands take).

    click's own date type says "does not match the formats" for 2017-02-30
    too, which sends the user looking for a typo in the format; a well-formed
    day that the calendar lacks is named as such.
    """
    if isinstance(value, dt.datetime):
        return value
    text = value.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise typer.BadParameter(f"{text!r} is not a day written YYYY-MM-DD (e.g. 2017-12-30)")
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise typer.BadParameter(f"{text} is not a day that exists") from None


def day_option(*param_decls: str, help: str) -> Any:
    """A ``--flag YYYY-MM-DD`` option (default None) parsed by `parse_day`."""
    return typer.Option(None, *param_decls, parser=parse_day, metavar="YYYY-MM-DD", help=help)
