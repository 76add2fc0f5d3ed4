"""The OLTP store: PostgreSQL's tables, and every statement any stage runs against them.

This package is the one owner of `customers`, `products`, `orders`,
`order_lines`, `ingest_offsets`, `rejected_lines` and the running day totals:
their migrations (DDL), the ingest transaction (`write_batch`), the notify
channel and locks the writers share, the consistent snapshot an export reads,
and small named reads for the other stages (today's snapshot, reconciliation
totals, rejected count, order dates, a day's rows for the lake). Other
packages call these functions; none writes SQL against these tables.
"""

from superstore.oltp.batch import (
    NOTIFY_CHANNEL,
    TRACKING_LOCK,
    Batch,
    FencedError,
    Reject,
    StagedLine,
    find_refused,
    read_offsets,
    write_batch,
    write_wide,
)
from superstore.oltp.day_totals import drifted_days, tracked_days
from superstore.oltp.exports import EXPORTED_COLUMNS, day_copy_sql, day_totals_sql, try_lock_export
from superstore.oltp.load import load_lines_direct
from superstore.oltp.migrate import migrate, migrations
from superstore.oltp.reads import order_dates, orphan_counts, rejected_count, totals_by_day
from superstore.oltp.snapshot import Snapshot, open_snapshot
from superstore.oltp.staging import WIDE_COLUMNS, wide_table_ddl
from superstore.oltp.today import TodaySnapshot, read_today

__all__ = [
    "EXPORTED_COLUMNS",
    "NOTIFY_CHANNEL",
    "TRACKING_LOCK",
    "WIDE_COLUMNS",
    "Batch",
    "FencedError",
    "Reject",
    "Snapshot",
    "StagedLine",
    "TodaySnapshot",
    "day_copy_sql",
    "day_totals_sql",
    "drifted_days",
    "find_refused",
    "load_lines_direct",
    "migrate",
    "migrations",
    "open_snapshot",
    "order_dates",
    "orphan_counts",
    "read_offsets",
    "read_today",
    "rejected_count",
    "totals_by_day",
    "tracked_days",
    "try_lock_export",
    "wide_table_ddl",
    "write_batch",
    "write_wide",
]
