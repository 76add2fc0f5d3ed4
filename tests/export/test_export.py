"""Exporting days to a local lake: contents, empty days, reruns, crashes, verification."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.local import LocalFileSystem

from superstore.clients import PgConfig
from superstore.data import SUPERSTORE_COLUMNS, load_lines
from superstore.errors import ConfigError, FatalError, TransientError
from superstore.export import (
    DATA_FILES,
    VerifyError,
    export_day,
    export_days,
    list_partitions,
    read_manifest,
    verify_day,
)
from superstore.export.layout import CUSTOMERS, ORDERS, PRODUCTS
from superstore.oltp import load_lines_direct, try_lock_export, unlock_export
from superstore.storage import LakeConfig


def _db(pg: PgConfig, sql: str, *params: object) -> tuple:
    with pg.connect() as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_normal_day_matches_the_database(seed_pg: PgConfig, lake: LakeConfig, seed_lines) -> None:
    busiest = Counter(line.order_date for line in seed_lines).most_common(1)[0][0]
    manifest = export_day(seed_pg, lake, busiest)
    lines, orders, sales, profit = _db(
        seed_pg,
        "SELECT count(*), count(DISTINCT o.order_id), sum(l.sales), sum(l.profit)"
        " FROM orders o JOIN order_lines l USING (order_id) WHERE o.order_date = %s",
        busiest,
    )
    assert (manifest.lines, manifest.orders, manifest.sales, manifest.profit) == (
        lines, orders, sales, profit,
    )  # fmt: skip
    assert lines > 20 and manifest.min_order_date == manifest.max_order_date == busiest

    part = Path(lake.partition_path(busiest))
    assert sorted(p.name for p in part.iterdir()) == sorted([*DATA_FILES, "_manifest.json"])
    header = (part / "orders.csv").read_text().splitlines()[0]
    outcome = ["Status", "Returned Quantity", "Returned Sales"]
    assert header.split(",") == [*SUPERSTORE_COLUMNS, "Line Number", *outcome]
    rows = _csv_rows(part / "orders.csv")
    assert len(rows) == lines
    assert sum(Decimal(r["Sales"]) for r in rows) == sales
    assert all(len(r["Sales"].split(".")[1]) == 4 for r in rows)  # NUMERIC(18,4) as stored

    # The CSV reads back through the data set loader into the very lines that were loaded.
    expected = sorted((x for x in seed_lines if x.order_date == busiest), key=lambda x: x.row_id)
    assert load_lines(part / "orders.csv") == expected

    # Parquet holds exactly the CSV's rows, typed.
    from_csv = ORDERS.conform(pa_csv.read_csv(part / "orders.csv", **ORDERS.csv_options()))
    from_parquet = pq.read_table(part / "orders.parquet")
    assert from_parquet.schema == ORDERS.schema
    assert from_parquet.schema.field("sales").type == pa.decimal128(18, 4)
    assert from_parquet.schema.field("order_date").type == pa.date32()
    assert from_parquet.equals(from_csv)

    customers = {(r["Customer ID"], r["Customer Name"], r["Segment"]) for r in
                 _csv_rows(part / "customers.csv")}  # fmt: skip
    assert customers == {(x.customer_id, x.customer_name, x.segment) for x in expected}
    products = _csv_rows(part / "products.csv")
    assert {(r["Product ID"], r["Product Name"]) for r in products} == {
        (x.product_id, x.product_name) for x in expected
    }
    assert pq.read_table(part / "products.parquet").num_rows == len(products)
    assert manifest.customers == len(customers) and manifest.products == len(products)

    doc = json.loads((part / "_manifest.json").read_text())
    assert doc["sales"] == str(sales) and doc["lines"] == lines and doc["schema_version"] == 2
    assert doc["files"]["orders.csv"]["rows"] == lines
    assert {"pg_snapshot", "wal_lsn", "taken_at"} <= doc["snapshot"].keys()
    assert verify_day(lake, busiest) == manifest == read_manifest(lake, busiest)


def test_empty_day_writes_a_partition_saying_so(seed_pg: PgConfig, lake: LakeConfig) -> None:
    day = dt.date(2013, 6, 1)  # before the data set starts
    manifest = export_day(seed_pg, lake, day)
    assert (manifest.lines, manifest.orders, manifest.sales) == (0, 0, Decimal("0"))
    assert manifest.min_order_date is None and manifest.files["orders.parquet"].rows == 0
    part = Path(lake.partition_path(day))
    assert (part / "orders.csv").read_text().count("\n") == 1  # the header only
    assert pq.read_table(part / "orders.parquet").schema == ORDERS.schema
    assert pq.read_table(part / "customers.parquet").schema == CUSTOMERS.schema
    assert verify_day(lake, day).lines == 0
    assert list_partitions(lake) == [day]


def test_range_covers_every_day_including_empty_ones(seed_pg: PgConfig, lake: LakeConfig) -> None:
    days = [dt.date(2014, 1, 1) + dt.timedelta(days=i) for i in range(7)]
    seen: list[tuple[int, int]] = []
    manifests = export_days(seed_pg, lake, days, on_day=lambda m, done, total: seen.append(
        (done, total)))  # fmt: skip
    assert [m.date for m in manifests] == days == list_partitions(lake)
    assert seen[-1] == (7, 7)
    assert manifests[0].lines == 0 and sum(m.lines for m in manifests) > 0  # data starts 01-03
    assert {m.snapshot["pg_snapshot"] for m in manifests} == {manifests[0].snapshot["pg_snapshot"]}


def test_rerun_replaces_the_partition(scratch_pg: PgConfig, lake: LakeConfig, invent) -> None:
    day = dt.date(2031, 3, 1)
    load_lines_direct(scratch_pg, invent(day, orders=2))
    first = export_day(scratch_pg, lake, day)
    again = export_day(scratch_pg, lake, day)
    assert again.files == first.files  # byte-identical CSV and Parquet
    assert (again.lines, again.sales) == (first.lines, first.sales) == (4, first.sales)

    load_lines_direct(scratch_pg, invent(day, orders=1, skip=10))
    third = export_day(scratch_pg, lake, day)
    assert third.lines == 6 and third.orders == 3
    assert third.files["orders.csv"] != first.files["orders.csv"]
    assert verify_day(lake, day) == third
    raw = Path(lake.path("raw"))
    assert sorted(p.name for p in raw.iterdir()) == [f"date={day}"]  # no temp or old dirs


class _CrashAfterFirstFile(LocalFileSystem):
    """A disk that fails on the second file an export writes."""

    cachable = False  # fsspec would otherwise hand back the same instance (and counter)

    def __init__(self) -> None:
        super().__init__(auto_mkdir=True)
        self.writes = 0

    def open(self, path, mode="rb", **kwargs):  # type: ignore[override]
        if "w" in mode:
            self.writes += 1
            if self.writes == 2:
                raise OSError(28, "No space left on device (injected)")
        return super().open(path, mode, **kwargs)


def test_crash_between_files_keeps_the_previous_partition(
    scratch_pg: PgConfig, lake: LakeConfig, invent
) -> None:
    day, fresh = dt.date(2031, 4, 1), dt.date(2031, 4, 2)
    load_lines_direct(scratch_pg, invent(day))
    before = export_day(scratch_pg, lake, day)
    load_lines_direct(scratch_pg, invent(day) + invent(fresh))

    crashing = LakeConfig(url=lake.url, filesystem=_CrashAfterFirstFile())
    with pytest.raises(FatalError, match="No space left"):
        export_day(scratch_pg, crashing, day)
    with pytest.raises(FatalError, match="No space left"):
        export_day(scratch_pg, LakeConfig(url=lake.url, filesystem=_CrashAfterFirstFile()), fresh)

    assert verify_day(lake, day) == before  # the old partition, complete and intact
    assert list_partitions(lake) == [day]  # no partition at all for the fresh day
    assert not Path(lake.partition_path(fresh)).exists()
    assert [p.name for p in Path(lake.path("raw")).iterdir()] == [f"date={day}"]


@pytest.fixture
def exported(seed_pg: PgConfig, lake: LakeConfig) -> tuple[LakeConfig, dt.date, Path]:
    day = dt.date(2016, 11, 8)
    export_day(seed_pg, lake, day)
    return lake, day, Path(lake.partition_path(day))


def test_verify_catches_a_tampered_file(exported) -> None:
    lake, day, part = exported
    data = bytearray((part / "orders.csv").read_bytes())
    data[-3] = ord("9") if data[-3] != ord("9") else ord("8")  # same size, other bytes
    (part / "orders.csv").write_bytes(bytes(data))
    with pytest.raises(VerifyError, match=r"orders\.csv: sha256"):
        verify_day(lake, day)
    (part / "customers.parquet").write_bytes(b"PAR1")
    with pytest.raises(VerifyError, match=r"customers\.parquet: size 4 bytes"):
        verify_day(lake, day)


def test_verify_catches_missing_files_and_wrong_counts(exported) -> None:
    lake, day, part = exported
    (part / "products.parquet").unlink()
    with pytest.raises(VerifyError, match=r"products\.parquet: missing"):
        verify_day(lake, day)
    manifest_path = part / "_manifest.json"  # the manifest itself can lie about counts, too
    doc = json.loads(manifest_path.read_text())
    doc["files"]["orders.parquet"]["rows"] += 1
    manifest_path.write_text(json.dumps(doc))
    with pytest.raises(VerifyError, match=r"orders\.parquet: \d+ rows, manifest says \d+"):
        verify_day(lake, day)
    doc["files"]["orders.parquet"]["rows"] -= 1
    doc["lines"] += 1
    manifest_path.write_text(json.dumps(doc))
    differ = r"orders\.csv: the file and the manifest differ: lines \d+ vs \d+"
    with pytest.raises(VerifyError, match=differ):
        verify_day(lake, day)
    assert read_manifest(lake, day).lines == doc["lines"]
    manifest_path.unlink()
    with pytest.raises(VerifyError, match="no partition"):
        verify_day(lake, day)
    assert list_partitions(lake) == []


def test_orders_without_row_id_export_an_empty_row_id(
    scratch_pg: PgConfig, lake: LakeConfig, invent
) -> None:
    day = dt.date(2031, 5, 1)
    load_lines_direct(scratch_pg, invent(day, orders=1))
    export_day(scratch_pg, lake, day)
    part = Path(lake.partition_path(day))
    text = (part / "orders.csv").read_text()
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert [r[0] for r in rows] == ["", ""]  # live orders have no Row ID (NULL)
    assert pq.read_table(part / "orders.parquet")["row_id"].null_count == 2
    assert verify_day(lake, day).lines == 2
    assert PRODUCTS.headers == ["Product ID", "Product Name", "Category", "Sub-Category"]


def test_database_without_the_schema_is_a_config_error(
    schemaless_pg: PgConfig, lake: LakeConfig
) -> None:
    for days in ([dt.date(2016, 11, 8)], None):
        with pytest.raises(ConfigError, match="has no pipeline tables"):
            export_days(schemaless_pg, lake, days)
    assert list_partitions(lake) == []


def test_one_export_of_a_lake_at_a_time(seed_pg: PgConfig, lake: LakeConfig) -> None:
    """The lake's export lock is taken before the snapshot: a second exporter is turned
    away instead of publishing a partition older than the first one's."""
    day = dt.date(2016, 11, 8)
    with seed_pg.connect(autocommit=True) as holder:
        assert try_lock_export(holder, lake.url)
        with pytest.raises(TransientError, match=r"another export to .* is running"):
            export_day(seed_pg, lake, day)
        unlock_export(holder, lake.url)
    assert export_day(seed_pg, lake, day).lines > 0
