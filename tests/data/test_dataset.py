"""The data set loader: exact figures of the seed, its traps, the Kaggle layout, errors."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from superstore.contract import OrderLine
from superstore.data import (
    KAGGLE_COLUMNS,
    SEED_CSV,
    SUPERSTORE_COLUMNS,
    dataset_stats,
    lines_between,
    load_lines,
)
from superstore.errors import InputError

KAGGLE_ROWS = [
    # Row ID, Order ID, Order Date, Ship Date, Ship Mode, Customer ID, Customer Name, Segment,
    # Country, City, State, Postal Code, Region, Product ID, Category, Sub-Category,
    # Product Name, Sales
    ["2", "CA-2017-152156", "08/11/2017", "11/11/2017", "Second Class", "CG-12520",
     "Claire Gute", "Consumer", "United States", "Henderson", "Kentucky", "42420", "South",
     "FUR-CH-10000454", "Furniture", "Chairs", "Hon Deluxe Fabric Chairs", "731.94"],
    ["1", "CA-2017-152156", "08/11/2017", "11/11/2017", "Second Class", "CG-12520",
     "Claire Gute", "Consumer", "United States", "Henderson", "Kentucky", "42420", "South",
     "FUR-BO-10001798", "Furniture", "Bookcases", "Bush Somerset Bookcase", "261.96"],
    ["3", "CA-2016-138688", "31/12/2016", "02/01/2017", "Same Day", "DV-13045",
     "Darrin Van Huff", "Corporate", "United States", "Burlington", "Vermont", "", "East",
     "OFF-LA-10000240", "Office Supplies", "Labels", "Self-Adhesive Labels", "14.6200"],
]  # fmt: skip


@pytest.fixture(scope="module")
def seed() -> list[OrderLine]:
    return load_lines()


def _write_csv(path: Path, header: list[str], rows: list[list[str]], bom: bool = False) -> Path:
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_seed_is_the_21_column_layout() -> None:
    with SEED_CSV.open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert tuple(header) == SUPERSTORE_COLUMNS
    assert len(header) == 21
    assert len(KAGGLE_COLUMNS) == 18


def test_seed_figures_are_exact(seed: list[OrderLine]) -> None:
    stats = dataset_stats(seed)
    assert stats.lines == 9_994
    assert stats.orders == 5_009
    assert stats.customers == 793
    assert stats.order_dates == 1_237
    assert stats.sales == Decimal("2297200.8603")
    assert stats.profit == Decimal("286397.0217")
    assert stats.first_order_date == dt.date(2014, 1, 3)
    assert stats.last_order_date == dt.date(2017, 12, 30)
    assert all(isinstance(line.sales, Decimal) for line in seed)


def test_money_is_kept_as_written(seed: list[OrderLine]) -> None:
    first = seed[0]
    assert (first.row_id, first.sales, first.profit) == (1, Decimal("261.96"), Decimal("41.9136"))
    fourth = seed[3]
    assert fourth.sales == Decimal("957.5775")
    assert str(fourth.discount) == "0.45"
    assert fourth.profit == Decimal("-383.031")


def test_trap_customers_ship_to_many_cities(seed: list[OrderLine]) -> None:
    cities: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for line in seed:
        cities[line.customer_id].add((line.city, line.state))
    assert len(cities) == 793
    assert sum(len(c) > 1 for c in cities.values()) == 780


def test_trap_product_ids_with_two_names(seed: list[OrderLine]) -> None:
    names: dict[str, set[str]] = defaultdict(set)
    for line in seed:
        names[line.product_id].add(line.product_name)
    assert Counter(len(n) for n in names.values())[2] == 32
    assert max(len(n) for n in names.values()) == 2


def test_trap_order_product_pairs_are_not_a_key(seed: list[OrderLine]) -> None:
    pairs = Counter((line.order_id, line.product_id) for line in seed)
    assert sum(count == 2 for count in pairs.values()) == 8
    assert max(pairs.values()) == 2
    keys = {(line.order_id, line.line_number) for line in seed}
    assert len(keys) == 9_994
    assert len({line.key for line in seed}) == 9_994
    assert len({line.row_id for line in seed}) == 9_994


def test_line_numbers_follow_row_id_within_order(seed: list[OrderLine]) -> None:
    by_order: dict[str, list[OrderLine]] = defaultdict(list)
    for line in seed:
        by_order[line.order_id].append(line)
    for lines in by_order.values():
        ordered = sorted(lines, key=lambda line: line.row_id or 0)
        assert [line.line_number for line in ordered] == list(range(1, len(lines) + 1))


def test_postal_codes_restore_lost_leading_zero(seed: list[OrderLine]) -> None:
    assert all(line.postal_code and len(line.postal_code) == 5 for line in seed)
    vermont = {line.postal_code for line in seed if line.state == "Vermont"}
    assert vermont and all(code.startswith("05") for code in vermont if code)
    with SEED_CSV.open(newline="", encoding="utf-8") as fh:
        four_digit = sum(len(r["Postal Code"]) == 4 for r in csv.DictReader(fh))
    assert four_digit == 449  # written without the zero in the CSV


def test_lines_between_is_inclusive(seed: list[OrderLine]) -> None:
    day = dt.date(2017, 12, 30)
    last_day = lines_between(seed, day, day)
    assert last_day and all(line.order_date == day for line in last_day)
    assert len(lines_between(seed, None, None)) == 9_994
    year_2014 = lines_between(seed, until=dt.date(2014, 12, 31))
    rest = lines_between(seed, since=dt.date(2015, 1, 1))
    assert len(year_2014) + len(rest) == 9_994


def test_kaggle_variant_loads(tmp_path: Path) -> None:
    header = [f" {c.upper()} " if c == "Row ID" else c for c in KAGGLE_COLUMNS]
    path = _write_csv(tmp_path / "train.csv", header, KAGGLE_ROWS, bom=True)
    lines = load_lines(path)
    assert [line.row_id for line in lines] == [1, 2, 3]
    assert [line.line_number for line in lines] == [1, 2, 1]
    assert all(line.quantity is None and line.discount is None for line in lines)
    assert all(line.profit is None for line in lines)
    assert lines[0].order_date == dt.date(2017, 11, 8)
    assert lines[2].order_date == dt.date(2016, 12, 31)
    assert lines[2].ship_date == dt.date(2017, 1, 2)
    assert lines[2].postal_code is None
    assert lines[2].sales == Decimal("14.6200")
    stats = dataset_stats(lines)
    assert stats.profit is None
    assert stats.sales == Decimal("1008.5200")


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(InputError, match="not found") as info:
        load_lines(missing)
    assert str(missing) in str(info.value)
    assert info.value.hint


def test_wrong_header_names_missing_columns(tmp_path: Path) -> None:
    header = [c for c in SUPERSTORE_COLUMNS if c not in ("Sales", "Profit")]
    path = _write_csv(tmp_path / "bad.csv", header, [])
    with pytest.raises(InputError) as info:
        load_lines(path)
    missing, layouts = str(info.value).split(";", 1)
    assert missing.endswith("missing columns: Sales, Profit")
    assert "21-column" in layouts and "18-column" in layouts


@pytest.mark.parametrize(
    ("row", "column", "value", "error"),
    [
        (1, 17, "abc", r"line 3: Sales: .*'abc'"),
        (2, 2, "2016-12-31", r"line 4: Order Date: '2016-12-31' is not a dd/mm/yyyy date"),
        (2, 3, "30/12/2016", r"line 4: ship_date 2016-12-30 is before order_date 2016-12-31"),
        (2, 0, "1", r"line 4: Row ID: 1 already used on line 3"),
        (0, 6, "", r"line 2: Customer Name: String should have at least 1 character"),
    ],
)
def test_bad_row_names_file_line_and_reason(
    tmp_path: Path, row: int, column: int, value: str, error: str
) -> None:
    rows = [list(r) for r in KAGGLE_ROWS]
    rows[row][column] = value
    path = _write_csv(tmp_path / "bad.csv", list(KAGGLE_COLUMNS), rows)
    with pytest.raises(InputError, match=error) as info:
        load_lines(path)
    assert str(info.value).startswith(f"{path}: ")
