"""Which lake partitions an ETL run reads, and proof they are what the exporter wrote.

Before anything is transformed, every selected partition is checked against
its ``_manifest.json``: the ``orders.parquet`` the engines read must have the
manifest's size, sha256 and row count (``full=True`` re-checks all six files,
CSV included, with the export package's ``verify_day``). Every bad partition
is reported at once, each by name; nothing is loaded if one is bad. The day
sums (lines, orders, exact sales) are then checked again after the load, in
the warehouse, by the data-quality checks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from superstore.errors import InputError
from superstore.export import (
    SCHEMA_VERSION,
    Manifest,
    VerifyError,
    list_partitions,
    read_manifest,
)
from superstore.export import verify_day as export_verify_day
from superstore.storage import LakeConfig, lake_errors

__all__ = ["ORDERS_FILE", "Partition", "select_days", "verify_partitions"]

ORDERS_FILE = "orders.parquet"
OnVerified = Callable[[int, int], None]


@dataclass(frozen=True)
class Partition:
    """A verified day: its manifest and the URL of the file the engines read."""

    day: dt.date
    manifest: Manifest
    orders_url: str


def select_days(
    lake: LakeConfig,
    dates: Sequence[dt.date] = (),
    start: dt.date | None = None,
    end: dt.date | None = None,
    all_days: bool = False,
) -> list[dt.date]:
    """The days to load: explicit dates (each must exist), a range, or every partition."""
    if sum((bool(dates), start is not None or end is not None, all_days)) != 1:
        raise InputError("choose exactly one of --date, --from/--to or --all")
    available = list_partitions(lake)
    if dates:
        missing = sorted(set(dates) - set(available))
        if missing:
            raise InputError(
                f"no partition in {lake.url} for {', '.join(str(d) for d in missing)}",
                hint=f"run `superstore export --date {missing[0]}` first",
            )
        return sorted(set(dates))
    if all_days:
        if not available:
            raise InputError(f"the lake {lake.url} holds no partition", hint="run export first")
        return available
    low, high = start or dt.date.min, end or dt.date.max
    if low > high:
        raise InputError(f"--from {low} is after --to {high}")
    chosen = [d for d in available if low <= d <= high]
    if not chosen:
        raise InputError(f"no partition in {lake.url} between {start or '...'} and {end or '...'}")
    return chosen


def _check_orders(lake: LakeConfig, day: dt.date, manifest: Manifest) -> list[str]:
    entry = manifest.files.get(ORDERS_FILE)
    if entry is None:
        return [f"{ORDERS_FILE}: not listed in the manifest"]
    path = f"{lake.partition_path(day)}/{ORDERS_FILE}"
    with lake_errors(lake, f"reading {path}"):
        try:
            data = lake.fs().cat_file(path)
        except FileNotFoundError:
            return [f"{ORDERS_FILE}: missing"]
    if len(data) != entry.bytes:
        return [f"{ORDERS_FILE}: size {len(data)} bytes, manifest says {entry.bytes}"]
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        return [f"{ORDERS_FILE}: sha256 {digest[:12]}…, manifest says {entry.sha256[:12]}…"]
    try:
        rows = pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows
    except pa.ArrowException as exc:
        return [f"{ORDERS_FILE}: unreadable ({exc})"]
    if rows != entry.rows or rows != manifest.lines:
        return [f"{ORDERS_FILE}: {rows} rows, manifest says {entry.rows} (lines {manifest.lines})"]
    return []


def _verify_one(lake: LakeConfig, day: dt.date, full: bool) -> Partition | str:
    url = lake.partition_url(day)
    try:
        manifest = export_verify_day(lake, day) if full else read_manifest(lake, day)
    except VerifyError as exc:
        return str(exc)
    if manifest.schema_version < SCHEMA_VERSION:
        return (
            f"partition {url} has the lake layout {manifest.schema_version}, before order "
            f"events (layout {SCHEMA_VERSION}): export it again (`superstore export --stale`)"
        )
    problems = _check_orders(lake, day, manifest)
    if manifest.date != day:
        problems.insert(0, f"manifest says date {manifest.date}")
    if problems:
        return f"partition {url} does not match its manifest: {'; '.join(problems)}"
    return Partition(day=day, manifest=manifest, orders_url=f"{url}/{ORDERS_FILE}")


def verify_partitions(
    lake: LakeConfig,
    days: Sequence[dt.date],
    full: bool = False,
    on_verified: OnVerified | None = None,
    workers: int = 4,
) -> list[Partition]:
    """Verified partitions of ``days``; VerifyError naming EVERY partition that fails."""
    results: list[Partition | str] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify") as pool:
        for done, result in enumerate(
            pool.map(lambda d: _verify_one(lake, d, full), days), start=1
        ):
            results.append(result)
            if on_verified:
                on_verified(done, len(days))
    bad = [r for r in results if isinstance(r, str)]
    if bad:
        shown = " | ".join(bad[:10]) + (f" | and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise VerifyError(
            f"{len(bad)} of {len(days)} partitions refused, nothing loaded: {shown}",
            hint="re-export them with `superstore export --date D`",
        )
    return [r for r in results if isinstance(r, Partition)]
