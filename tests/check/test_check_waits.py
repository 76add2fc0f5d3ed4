"""`check` beside `run`: the warehouse's DuckDB file held by another process is waited for.

A DuckDB file takes one writing process at a time; `run`'s sync holds it for
each load, and the reconciliation of `run`'s daily close runs in a child
process. The check must wait for the load, not fail the day's reconciliation.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import superstore.check.run as check_run
from superstore.check.run import _warehouse_totals
from superstore.errors import TransientError
from superstore.settings import load_settings
from superstore.warehouse.duckdb import DuckDBWarehouse

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def test_the_warehouse_layer_waits_for_a_load_in_another_process(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, pg_dsn="host=127.0.0.1 port=1")
    path = tmp_path / "warehouse.duckdb"
    warehouse = DuckDBWarehouse(path)
    warehouse.create_schema()
    warehouse.close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), "2.0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        layer = _warehouse_totals(settings)
        waited = time.monotonic() - started
    finally:
        holder.wait(timeout=30)
    assert layer.name == "warehouse" and layer.days == {}
    assert waited >= 1.0, f"read the file while another process held it ({waited:.2f} s)"


def test_past_its_bound_the_wait_gives_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(data_dir=tmp_path, pg_dsn="host=127.0.0.1 port=1")
    path = tmp_path / "warehouse.duckdb"
    warehouse = DuckDBWarehouse(path)
    warehouse.create_schema()
    warehouse.close()
    monkeypatch.setattr(check_run, "_WAREHOUSE_WAIT", 0.0)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), "2.0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(TransientError, match="cannot open warehouse"):
            check_run._warehouse_totals(settings)
    finally:
        holder.wait(timeout=30)
