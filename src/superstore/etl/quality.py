"""Data-quality checks, run inside the merge transaction after each load.

A failed check rolls the load back and fails the command, naming up to five
offending rows per check. Checks are scoped to the batch's days (plus the
small dimensions), so a daily increment does not rescan years of facts.

- not-null keys: every fact row has all its keys;
- unique line keys: no line appears twice;
- unique dimension keys: a surrogate key names one row (a hash collision
  would otherwise merge two customers, or fan facts out);
- per-day totals: lines and exact sales of each day, summed through inner
  joins to EVERY dimension, equal the partition's manifest: completeness,
  referential integrity and no fan-out in one query. When a total is off,
  the fact rows missing a dimension row are listed (referential integrity).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from superstore.errors import FatalError
from superstore.warehouse import DIMENSIONS, Query, time_key
from superstore.warehouse.schema import SALES_FACT

__all__ = ["DataQualityError", "DayTotals", "run_checks"]

_SHOW = 5
_FACT_KEYS = ("line_key", "order_id", "time_key", "customer_key", "product_key", "location_key")


class DataQualityError(FatalError):
    """A check failed; the load was rolled back. The message names the rows."""


@dataclass(frozen=True)
class DayTotals:
    """What a day must add up to (from its manifest)."""

    lines: int
    sales: Decimal
    cancelled_lines: int = 0
    cancelled_sales: Decimal = Decimal(0)
    returned_lines: int = 0
    returned_sales: Decimal = Decimal(0)


def _shown(rows: list[tuple[object, ...]]) -> str:
    text = ", ".join("/".join(str(v) for v in row) for row in rows[:_SHOW])
    return text + (", ..." if len(rows) > _SHOW else "")


def _cheap_checks(schema: str, days: str) -> list[tuple[str, str]]:
    fact = f"{schema}.{SALES_FACT.name}"
    null_any = " OR ".join(f"f.{k} IS NULL" for k in _FACT_KEYS)
    checks = [
        (
            "fact rows with a NULL key (line_key/order_id)",
            f"SELECT f.line_key, f.order_id FROM {fact} AS f "
            f"WHERE f.time_key IN ({days}) AND ({null_any}) ORDER BY 1, 2",
        ),
        # Across days, a line key is unique by construction: the merge deletes every
        # fact whose line key is in the batch before inserting the batch.
        (
            "duplicate line keys (line_key/copies)",
            f"SELECT f.line_key, COUNT(*) FROM {fact} AS f WHERE f.time_key IN ({days}) "
            "GROUP BY f.line_key HAVING COUNT(*) > 1 ORDER BY 1",
        ),
    ]
    checks += [
        (
            f"{dim.name} keys naming several rows ({dim.key}/rows)",
            f"SELECT {dim.key}, COUNT(*) FROM {schema}.{dim.name} "
            f"GROUP BY {dim.key} HAVING COUNT(*) > 1 ORDER BY 1",
        )
        for dim in DIMENSIONS
    ]
    return checks


def _orphan_checks(schema: str, days: str) -> list[tuple[str, str]]:
    """Which fact rows miss a dimension row: run only to explain a failed total."""
    return [
        (
            f"fact rows whose {dim.key} is missing from {dim.name} (line_key/{dim.key})",
            f"SELECT f.line_key, f.{dim.key} FROM {schema}.{SALES_FACT.name} AS f "
            f"LEFT JOIN {schema}.{dim.name} AS d ON d.{dim.key} = f.{dim.key} "
            f"WHERE f.time_key IN ({days}) AND d.{dim.key} IS NULL ORDER BY 1",
        )
        for dim in DIMENSIONS
    ]


def _totals_sql(schema: str, days: str) -> str:
    joins = " ".join(
        f"JOIN {schema}.{d.name} AS {d.name} ON {d.name}.{d.key} = f.{d.key}" for d in DIMENSIONS
    )
    return (
        f"SELECT f.time_key, {OUTCOME_SUMS} FROM {schema}.{SALES_FACT.name} AS f {joins} "
        f"WHERE f.time_key IN ({days}) GROUP BY f.time_key"
    )


# A day's lines and sales, then its cancelled and returned lines and sales, over facts `f`
# (CASE, not FILTER: Redshift has no FILTER clause).
OUTCOME_SUMS = """COUNT(*), SUM(f.sales),
    SUM(CASE WHEN f.status = 'cancelled' THEN 1 ELSE 0 END),
    SUM(CASE WHEN f.status = 'cancelled' THEN f.sales ELSE 0 END),
    SUM(CASE WHEN f.status IN ('returned', 'partly returned') THEN 1 ELSE 0 END),
    SUM(f.returned_sales)"""


def _figures(row: list[object]) -> DayTotals:
    n, s, cl, cs, rl, rs = (Decimal(str(v if v is not None else 0)) for v in row)
    return DayTotals(int(n), s, int(cl), cs, int(rl), rs)


def _failures(query: Query, checks: list[tuple[str, str]]) -> list[str]:
    problems = []
    for what, sql in checks:
        rows = query(sql + f" LIMIT {_SHOW + 1}")
        if rows:
            problems.append(f"{what}: {_shown(rows)}")
    return problems


def run_checks(query: Query, schema: str, expected: Mapping[dt.date, DayTotals]) -> None:
    """Run every check for the days of ``expected``; raise DataQualityError on any failure.

    The per-day totals go through inner joins to every dimension, so with
    unique dimension keys they prove referential integrity and no fan-out at
    once; the per-row orphan queries run only to name the rows when a total
    is off.
    """
    if not expected:
        return
    days = ", ".join(str(time_key(d)) for d in sorted(expected))
    problems = _failures(query, _cheap_checks(schema, days))
    found = {int(k): _figures(rest) for k, *rest in query(_totals_sql(schema, days))}
    wrong = []
    for day in sorted(expected):
        want = expected[day]
        have = found.get(time_key(day), DayTotals(0, Decimal(0)))
        if have != want:
            wrong.append(
                f"date={day}: warehouse holds {have} through all dimensions, manifest says {want}"
            )
    if wrong:
        problems += _failures(query, _orphan_checks(schema, days)) + wrong
    if problems:
        raise DataQualityError(
            f"data-quality checks failed, load rolled back: {'; '.join(problems[:20])}"
            + (f"; and {len(problems) - 20} more" if len(problems) > 20 else ""),
            hint="re-export the named partitions or fix the source rows, then rerun etl",
        )
