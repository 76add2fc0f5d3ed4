"""The OLTP store: PostgreSQL's tables, and every statement any stage runs against them.

This package is the one owner of `customers`, `products`, `orders`,
`order_lines`, `order_events`, `ingest_offsets`, `rejected_lines`, the running
day totals, the days' change marks and the lake-export records: their
migrations (DDL), the ingest transaction (`write_batch`), the notify channel
and locks the writers share, the consistent snapshot an export reads, and
small named reads for the other stages (today's snapshot, reconciliation
totals, stale days, rejected count, order dates, a day's rows for the lake).
Other packages call these functions; none writes SQL against these tables.
"""

from superstore.oltp.batch import (
    NOTIFY_CHANNEL,
    TRACKING_LOCK,
    BatchResult,
    FencedError,
    find_refused,
    read_offsets,
    write_batch,
    write_wide,
)
from superstore.oltp.changes import (
    StaleDay,
    day_marks,
    exported_marks,
    last_mark,
    record_exports,
    release_sync_lock,
    stale_days,
    try_sync_lock,
)
from superstore.oltp.day_totals import drifted_days, tracked_days
from superstore.oltp.events import OUTCOME_COLUMNS
from superstore.oltp.exports import (
    EXPORTED_COLUMNS,
    day_copy_sql,
    day_totals_sql,
    try_lock_export,
    unlock_export,
)
from superstore.oltp.load import load_lines_direct
from superstore.oltp.migrate import migrate, migrations
from superstore.oltp.reads import (
    REFUSED_REASON,
    known_categories,
    order_dates,
    orphan_counts,
    read_lines,
    refused_offsets,
    rejected_count,
    totals_by_day,
)
from superstore.oltp.records import Batch, Reject, StagedEvent, StagedLine
from superstore.oltp.snapshot import Snapshot, open_snapshot
from superstore.oltp.staging import WIDE_COLUMNS, wide_table_ddl
from superstore.oltp.today import TodaySnapshot, read_today

__all__ = [
    "EXPORTED_COLUMNS",
    "NOTIFY_CHANNEL",
    "OUTCOME_COLUMNS",
    "REFUSED_REASON",
    "TRACKING_LOCK",
    "WIDE_COLUMNS",
    "Batch",
    "BatchResult",
    "FencedError",
    "Reject",
    "Snapshot",
    "StagedEvent",
    "StagedLine",
    "StaleDay",
    "TodaySnapshot",
    "day_copy_sql",
    "day_marks",
    "day_totals_sql",
    "drifted_days",
    "exported_marks",
    "find_refused",
    "known_categories",
    "last_mark",
    "load_lines_direct",
    "migrate",
    "migrations",
    "open_snapshot",
    "order_dates",
    "orphan_counts",
    "read_lines",
    "read_offsets",
    "read_today",
    "record_exports",
    "refused_offsets",
    "rejected_count",
    "release_sync_lock",
    "stale_days",
    "totals_by_day",
    "tracked_days",
    "try_lock_export",
    "try_sync_lock",
    "unlock_export",
    "wide_table_ddl",
    "write_batch",
    "write_wide",
]
