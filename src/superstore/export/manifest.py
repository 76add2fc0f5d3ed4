"""The partition manifest: written last, trusted first.

A partition exists for readers only when its ``_manifest.json`` does. The
manifest records what the exporter saw (rows, exact sums, the source snapshot)
and what it wrote (size and sha256 of every file), so ``verify_day`` can prove
a partition is complete and untouched before anything downstream uses it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from superstore.errors import FatalError
from superstore.export.layout import DATA_FILES, MANIFEST_NAME, ORDERS, SCHEMA_VERSION, TABLES
from superstore.storage import LakeConfig, lake_errors

__all__ = ["FileEntry", "Manifest", "VerifyError", "read_manifest", "verify_day"]

_READ_BLOCK = 8 << 20


class VerifyError(FatalError):
    """A partition is missing, incomplete or does not match its manifest."""


@dataclass(frozen=True)
class FileEntry:
    """One data file: data rows (CSV header excluded), size in bytes, sha256 hex."""

    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What a partition holds. Money is an exact decimal string (``"261.9600"``)."""

    date: dt.date
    lines: int
    orders: int
    customers: int
    products: int
    sales: Decimal
    profit: Decimal
    min_order_date: dt.date | None
    max_order_date: dt.date | None
    files: dict[str, FileEntry]
    snapshot: dict[str, str] = field(default_factory=dict)
    exported_at: str = ""
    tool: str = ""
    schema_version: int = SCHEMA_VERSION
    change_mark: int = 0  # the day's mark in the snapshot (0: before change tracking)
    cancelled_lines: int = 0
    cancelled_sales: Decimal = Decimal(0)
    returned_lines: int = 0
    returned_sales: Decimal = Decimal(0)

    def to_json(self) -> bytes:
        """Stable, human-readable JSON (sorted keys, decimals and dates as strings)."""
        doc: dict[str, Any] = asdict(self)
        money = ("sales", "profit", "cancelled_sales", "returned_sales")
        for key in ("date", "min_order_date", "max_order_date", *money):
            value = doc[key]
            doc[key] = None if value is None else str(value)
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes | str, where: str = "manifest") -> Manifest:
        """Parse a manifest; anything malformed is a VerifyError naming ``where``."""
        try:
            doc = json.loads(raw)
            version = doc.get("schema_version")
            if version not in (1, SCHEMA_VERSION):  # 1: before events; read, never written
                raise ValueError(f"unsupported schema_version {version!r}")
            return cls(
                date=dt.date.fromisoformat(doc["date"]),
                lines=int(doc["lines"]),
                orders=int(doc["orders"]),
                customers=int(doc["customers"]),
                products=int(doc["products"]),
                sales=Decimal(doc["sales"]),
                profit=Decimal(doc["profit"]),
                min_order_date=_opt_date(doc.get("min_order_date")),
                max_order_date=_opt_date(doc.get("max_order_date")),
                files={name: FileEntry(**entry) for name, entry in doc["files"].items()},
                snapshot=dict(doc.get("snapshot") or {}),
                exported_at=str(doc.get("exported_at", "")),
                tool=str(doc.get("tool", "")),
                schema_version=int(version),
                change_mark=int(doc.get("change_mark", 0)),
                cancelled_lines=int(doc.get("cancelled_lines", 0)),
                cancelled_sales=Decimal(doc.get("cancelled_sales", "0")),
                returned_lines=int(doc.get("returned_lines", 0)),
                returned_sales=Decimal(doc.get("returned_sales", "0")),
            )
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            raise VerifyError(f"{where}: malformed manifest ({exc})") from None


def _opt_date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def read_manifest(lake: LakeConfig, day: dt.date) -> Manifest:
    """The manifest of ``day``'s partition; VerifyError when the partition is absent."""
    fs = lake.fs()
    path = f"{lake.partition_path(day)}/{MANIFEST_NAME}"
    with lake_errors(lake, f"reading {path}"):
        try:
            raw = fs.cat_file(path)
        except FileNotFoundError:
            raise VerifyError(
                f"no partition for {day} in {lake.url} (no {MANIFEST_NAME})",
                hint=f"run `superstore export --date {day}`",
            ) from None
    return Manifest.from_json(raw, where=f"{lake.partition_url(day)}/{MANIFEST_NAME}")


def verify_day(lake: LakeConfig, day: dt.date) -> Manifest:
    """Re-read ``day``'s partition and check every file against its manifest.

    Checks presence, size, sha256 and row count of each file, then that the
    orders files add up to the manifest's lines, orders and sales. Raises
    VerifyError listing every problem, each naming its file.
    """
    manifest = read_manifest(lake, day)
    fs = lake.fs()
    problems: list[str] = []
    if manifest.date != day:
        problems.append(f"{MANIFEST_NAME}: says date {manifest.date}, expected {day}")
    for name in DATA_FILES:
        entry = manifest.files.get(name)
        if entry is None:
            problems.append(f"{name}: not listed in the manifest")
            continue
        path = f"{lake.partition_path(day)}/{name}"
        with lake_errors(lake, f"reading {path}"):
            try:
                data = fs.cat_file(path)
            except FileNotFoundError:
                problems.append(f"{name}: missing")
                continue
        problems.extend(_check_file(name, data, entry, manifest))
    if problems:
        raise VerifyError(
            f"partition {lake.partition_url(day)} does not match its manifest: "
            + "; ".join(problems),
            hint=f"re-export it: `superstore export --date {day}`",
        )
    return manifest


def _check_file(name: str, data: bytes, entry: FileEntry, manifest: Manifest) -> list[str]:
    if len(data) != entry.bytes:
        return [f"{name}: size {len(data)} bytes, manifest says {entry.bytes}"]
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry.sha256:
        return [f"{name}: sha256 {digest[:12]}…, manifest says {entry.sha256[:12]}…"]
    table_name, _, kind = name.partition(".")
    spec = next(t for t in TABLES if t.name == table_name)
    try:
        if kind == "csv":
            table = spec.conform(pa_csv.read_csv(pa.py_buffer(data), **spec.csv_options()))
        else:
            table = pq.read_table(pa.BufferReader(data))
            if table.schema != spec.schema:
                return [f"{name}: schema differs from the layout ({table.schema.names})"]
    except (pa.ArrowException, ValueError) as exc:
        return [f"{name}: unreadable ({exc})"]
    if table.num_rows != entry.rows:
        return [f"{name}: {table.num_rows} rows, manifest says {entry.rows}"]
    if spec is ORDERS:
        stats = order_stats(table)
        found = tuple(stats[k] for k in _FIGURES)
        said = tuple(getattr(manifest, k) for k in _FIGURES)
        if found != said:
            pairs = ", ".join(
                f"{k} {a} vs {b}" for k, a, b in zip(_FIGURES, found, said, strict=True) if a != b
            )
            return [f"{name}: the file and the manifest differ: {pairs}"]
    return []


# What the orders files must add up to, as the manifest says.
_FIGURES = (
    "lines", "orders", "sales", "cancelled_lines", "cancelled_sales", "returned_lines",
    "returned_sales",
)  # fmt: skip


def order_stats(orders: pa.Table) -> dict[str, Any]:
    """Lines, distinct orders, exact sums, date range, cancelled and returned figures."""

    def total(values: pa.ChunkedArray | pa.Array) -> Decimal:
        value = pc.sum(values).as_py()
        return Decimal("0.0000") if value is None else value

    dates = pc.min_max(orders["order_date"]).as_py()
    cancelled = pc.equal(orders["status"], "cancelled")
    returned = pc.is_in(orders["status"], pa.array(["returned", "partly returned"]))
    return {
        "lines": orders.num_rows,
        "orders": pc.count_distinct(orders["order_id"]).as_py(),
        "sales": total(orders["sales"]),
        "profit": total(orders["profit"]),
        "min_order_date": dates["min"],
        "max_order_date": dates["max"],
        "cancelled_lines": int(pc.sum(cancelled).as_py() or 0),
        "cancelled_sales": total(pc.filter(orders["sales"], cancelled)),
        "returned_lines": int(pc.sum(returned).as_py() or 0),
        "returned_sales": total(orders["returned_sales"]),
    }
