"""The merge of a batch into the star schema, written once for every target.

Facts: the batch's days are REPLACED (delete the days' facts, and any fact
whose line now belongs to another day, then insert the batch), so a rerun
changes nothing and a corrected partition replaces its day. Dimensions are
upserted with MERGE: attributes seen on the latest order date win and the
first/last order dates widen, which makes loading days in any order give the
same dimensions. Each merge also appends its row to ``load_log``. Only plain
``MERGE ... WHEN MATCHED THEN UPDATE ... WHEN NOT MATCHED THEN INSERT`` with a
table source and an unaliased target is used: the subset Redshift accepts, and
PostgreSQL 15+ and DuckDB 1.4+ run as is.
"""

from __future__ import annotations

import datetime as dt

from superstore.warehouse.schema import DAY_LOADS, DIMENSIONS, LOAD_LOG, SALES_FACT, StarTable

__all__ = ["STAGE_PREFIX", "merge_statements", "stage_name"]

STAGE_PREFIX = "stage_"
# Attributes that follow the latest version; others are natural key or dates.
_VERSIONED = {
    "customer_dim": ("customer_name", "segment"),
    "product_dim": ("category", "sub_category"),
}


def stage_name(table: StarTable) -> str:
    """Name of the temporary table (or view) holding a batch's rows of ``table``."""
    return f"{STAGE_PREFIX}{table.name}"


def _dimension_merge(schema: str, table: StarTable) -> str:
    target, key = table.name, table.key
    newer = f"st.last_order_date >= {target}.last_order_date"
    sets = []
    for column in table.names[1:]:
        if column in _VERSIONED.get(target, ()):
            sets.append(f"{column} = CASE WHEN {newer} THEN st.{column} ELSE {target}.{column} END")
        elif column == "first_order_date":
            sets.append(f"{column} = LEAST({target}.{column}, st.{column})")
        elif column == "last_order_date":
            sets.append(f"{column} = GREATEST({target}.{column}, st.{column})")
        elif column not in table.natural:
            sets.append(f"{column} = st.{column}")
    if not sets:  # Redshift needs a WHEN MATCHED clause; rewriting equal values is a no-op
        sets = [f"{column} = st.{column}" for column in table.natural]
    columns = ", ".join(table.names)
    values = ", ".join(f"st.{c}" for c in table.names)
    return (
        f"MERGE INTO {schema}.{target} USING {stage_name(table)} AS st "
        f"ON {target}.{key} = st.{key} "
        f"WHEN MATCHED THEN UPDATE SET {', '.join(sets)} "
        f"WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})"
    )


def merge_statements(
    schema: str, time_keys: list[int], loaded_at: dt.datetime | None = None
) -> list[str]:
    """The statements of one merge, in order, authored in PostgreSQL's dialect.

    They read the stage tables named by ``stage_name``; the caller fills those
    first (a registered Arrow table, COPY FROM STDIN, or COPY from S3).
    ``loaded_at`` (default: now) is the load log's time, a literal: the
    targets spell "now" differently.
    """
    when = (loaded_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat()
    fact, stage = SALES_FACT.name, stage_name(SALES_FACT)
    columns = ", ".join(SALES_FACT.names)
    statements = []
    if time_keys:
        days = ", ".join(str(k) for k in time_keys)
        statements.append(f"DELETE FROM {schema}.{fact} WHERE time_key IN ({days})")
    statements += [
        f"DELETE FROM {schema}.{fact} USING {stage} AS st WHERE {fact}.line_key = st.line_key",
        f"INSERT INTO {schema}.{fact} ({columns}) SELECT {columns} FROM {stage}",
    ]
    statements += [_dimension_merge(schema, table) for table in DIMENSIONS]
    log = f"{schema}.{LOAD_LOG.name}"
    statements.append(
        f"INSERT INTO {log} (load_no, loaded_at, days, facts) "
        f"SELECT COALESCE(MAX(load_no), 0) + 1, CAST('{when}' AS TIMESTAMPTZ), {len(time_keys)}, "
        f"(SELECT COUNT(*) FROM {stage}) FROM {log}"
    )
    # The marks the days were loaded at (their partitions'), under this load's number.
    loads, staged = f"{schema}.{DAY_LOADS.name}", stage_name(DAY_LOADS)
    statements += [
        f"DELETE FROM {loads} USING {staged} AS st WHERE {DAY_LOADS.name}.time_key = st.time_key",
        f"INSERT INTO {loads} (time_key, change_mark, load_no) "
        f"SELECT time_key, change_mark, (SELECT MAX(load_no) FROM {log}) FROM {staged}",
    ]
    return statements
