"""Which days the warehouse is behind the lake on: their partition holds a newer change mark.

The lake's marks come from the OLTP store's export records (an index over the
manifests, written after each published partition); the warehouse's from its
``day_loads`` table, merged in each load's transaction.
"""

from __future__ import annotations

import datetime as dt

import psycopg

from superstore.oltp import exported_marks
from superstore.storage import LakeConfig
from superstore.warehouse import Warehouse, time_key

__all__ = ["behind_in_warehouse"]


def behind_in_warehouse(
    conn: psycopg.Connection, lake: LakeConfig, warehouse: Warehouse
) -> list[dt.date]:
    """Days whose lake partition holds a newer mark than the warehouse loaded."""
    lake_marks = exported_marks(conn, lake.url)
    warehouse.create_schema()
    loaded = {
        int(k): int(m)
        for k, m in warehouse.query(
            f"SELECT time_key, change_mark FROM {warehouse.schema}.day_loads"
        )
    }
    return sorted(d for d, mark in lake_marks.items() if loaded.get(time_key(d), -1) < mark)
