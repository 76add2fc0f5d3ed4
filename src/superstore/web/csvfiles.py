"""CSV and zip downloads: a header row always, no spreadsheet formulas, honest file names.

A downloaded file outlives the page it came from, so its name says which
filters made it (`superstore-segments_year-2016_state-Texas.csv`), and an
empty result still has its header row (a spreadsheet then shows named,
empty columns instead of a blank sheet). Text cells that a spreadsheet would
run as a formula get a leading quote.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

__all__ = ["csv_cell", "csv_text", "describe", "disposition", "filename", "zip_bytes"]

_UNSAFE = re.compile(r"[^A-Za-z0-9.+=-]+")
_MAX_NAME = 180
_PARAM = {"years": "year", "states": "state"}  # named as in the URL


def csv_cell(value: object) -> object:
    """Text cells that a spreadsheet would run as a formula get a leading quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """CSV with a header row (even with no rows), CRLF line ends as RFC 4180 says."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(c)) for c in columns])
    return out.getvalue()


def _value(value: object) -> str:
    if isinstance(value, tuple | list):
        return "+".join(map(str, value))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def describe(active: Mapping[str, object]) -> str:
    """The filters for people: `year 2016; state Ohio, Texas` (or `none`)."""
    parts = []
    for key, value in active.items():
        text = ", ".join(map(str, value)) if isinstance(value, tuple | list) else _value(value)
        parts.append(f"{_PARAM.get(key, key)} {text}")
    return "; ".join(parts) or "none"


def filename(stem: str, active: Mapping[str, object], extra: Mapping[str, object], ext: str) -> str:
    """`superstore-<stem>_<filter>-<value>..._<extra>.<ext>`: what made the file."""
    parts = [f"superstore-{stem}"]
    parts += [f"{_PARAM.get(k, k)}-{_value(v)}" for k, v in active.items()]
    parts += [f"{k}-{_value(v)}" for k, v in extra.items() if v not in (None, "")]
    # "_" separates the parts: the sanitiser turns any other character, "_" included, to "-".
    name = "_".join(_UNSAFE.sub("-", p).strip("-") or "x" for p in parts)
    if len(name) > _MAX_NAME:
        name = name[:_MAX_NAME].rstrip("-_")
    return f"{name}.{ext}"


def disposition(name: str) -> str:
    """Content-Disposition for a download: an ASCII name plus the RFC 5987 form."""
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def zip_bytes(files: Mapping[str, str]) -> bytes:
    """A zip archive of named text files (UTF-8)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text.encode("utf-8"))
    return out.getvalue()
