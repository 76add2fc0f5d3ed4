"""Pre-aggregates of the star schema, rebuilt once per warehouse version.

The analytics visuals only ever filter and group by day (and its year,
quarter, month), segment, region, state, category and sub-category, so the
fact table (10M+ lines) is reduced to:

- ``cube``: additive sums of the base columns (`measures.BASE_COLUMNS`) per
  day x segment x region x state x category x sub-category: its size is
  bounded by those combinations, not by the number of facts.
- ``order_cells``: distinct orders per day x segment x region x state x
  category, plus a row per cell with category NULL (= any category). An
  order has one date, one customer (so one segment) and one ship-to place,
  so these counts add up across cells exactly; across categories they do
  not (an order can span categories), hence the extra NULL rows.
- ``city_cells``: the distinct (state, city) pairs per day cell, counted at
  query time (a city is seen on many days, so counts do not add up).
- ``cust_days``: the distinct customers per day cell, for spans that are
  not whole months; ``cust_state`` / ``cust_region`` / ``cust_all``: one row
  per customer and category (NULL = any) and state / region / nothing, with
  a bit mask of the months the customer bought in. A distinct count of
  customers over whole months is then a scan of one row per customer
  (filtered by zone maps when a state or region is chosen), and only the
  partial months at the ends of a date range read ``cust_days``.

Everything is exact (DECIMAL sums, true distinct counts). The tables live in
an in-memory DuckDB; each request queries them through its own cursor.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb

from superstore.errors import TransientError
from superstore.warehouse import WarehouseReader
from superstore.web.measures import BASE_COLUMNS

__all__ = [
    "CUBE_QUERIES",
    "KNOWN",
    "MAX_MASK_MONTHS",
    "ROLLUPS",
    "CubeStore",
    "Cubes",
    "build_cubes",
]

log = logging.getLogger(__name__)

_JOINS = """
FROM {s}.sales_fact f
JOIN {s}.time_dim t ON t.time_key = f.time_key
JOIN {s}.customer_dim c ON c.customer_key = f.customer_key
JOIN {s}.product_dim p ON p.product_key = f.product_key
JOIN {s}.location_dim l ON l.location_key = f.location_key
WHERE coalesce(f.status, 'sold') <> 'cancelled'
"""

_CELL_KEYS = "t.full_date, t.year, t.month, c.segment, l.region, l.state"
_CELL = "t.full_date AS order_date, t.year, t.month, c.segment, l.region, l.state"
_ANY_CATEGORY = "CASE WHEN GROUPING(p.category) = 1 THEN NULL ELSE p.category END AS category"
_SUMS = ", ".join(f"{sql} AS {name}" for name, sql in BASE_COLUMNS.items())


def _by_cell(select: str, extra: str = "") -> str:
    """Rows per day cell and category, plus the same with category NULL (= any)."""
    keys = f"{_CELL_KEYS}{', ' + extra if extra else ''}"
    return f"""SELECT {_CELL}, {_ANY_CATEGORY}, {select} {_JOINS}
        GROUP BY GROUPING SETS (({keys}, p.category), ({keys}))"""


CUBE_QUERIES: dict[str, str] = {
    "cube": f"""SELECT {_CELL}, t.quarter, p.category, p.sub_category, {_SUMS} {_JOINS}
        GROUP BY {_CELL_KEYS}, t.quarter, p.category, p.sub_category""",
    "order_cells": _by_cell("count(DISTINCT f.order_id) AS orders"),
    "customer_cells": _by_cell("f.customer_key", "f.customer_key"),
    "city_cells": _by_cell("l.city", "l.city"),
    # When the warehouse last changed: the page says "data as of" it.
    "loads": "SELECT max(loaded_at) AS loaded_at FROM {s}.load_log",
}

# A HUGEINT holds 127 usable bits: month masks cover 10 years and 7 months of history.
MAX_MASK_MONTHS = 127
_MONTH = "(year * 12 + month - 1 - {first_month})"
# Customers per region and overall, rolled up from cust_state (row scopes redo these).
ROLLUPS = (
    """CREATE TABLE cust_region AS SELECT category, region, segment, customer_key,
    bit_or(months) AS months FROM cust_state GROUP BY ALL ORDER BY ALL""",
    """CREATE TABLE cust_all AS SELECT category, segment, customer_key,
    bit_or(months) AS months FROM cust_region GROUP BY ALL ORDER BY ALL""",
)
_MASKS: tuple[tuple[bool, str], ...] = (  # (needs month masks, statement)
    (
        False,
        """CREATE TABLE cust_days AS SELECT DISTINCT order_date, year, segment, region, state,
        category, customer_key FROM customer_cells ORDER BY category NULLS FIRST, order_date""",
    ),
    (
        True,
        f"""CREATE TABLE cust_state AS SELECT category, state, region, segment, customer_key,
        bit_or(CAST(1 AS HUGEINT) << {_MONTH}) AS months FROM customer_cells
        GROUP BY ALL ORDER BY ALL""",
    ),
    *((True, rollup) for rollup in ROLLUPS),
    (False, "DROP TABLE customer_cells"),
)
KNOWN = {
    "year": "year",
    "state": "state",
    "segment": "segment",
    "region": "region",
    "category": "category",
    "sub_category": "sub_category",
}


@dataclass
class Cubes:
    """One warehouse version's pre-aggregates and the values each dimension holds."""

    version: str
    con: duckdb.DuckDBPyConnection
    known: dict[str, list[object]]
    facts: int
    build_seconds: float
    first_year: int = 0
    built_at: float = field(default_factory=time.time)
    first_day: dt.date = dt.date(1970, 1, 1)  # the first and last days held
    last_day: dt.date = dt.date(1970, 1, 1)
    first_month: int = 0  # bit 0 of the customers' month masks: year * 12 + month - 1
    masks: bool = True  # False when the history is too long for month masks
    loaded_at: dt.datetime | None = None  # the warehouse's last load (UTC)
    database: str | None = None  # a row scope's restricted copy (`superstore.web.rowscope`)
    scope_regions: tuple[str, ...] = ()  # the row scope these cubes are limited to
    scope_states: tuple[str, ...] = ()

    @property
    def cache_key(self) -> tuple[object, ...]:
        """What answers are cached under: the version and the row scope."""
        return self.version, self.scope_regions, self.scope_states

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one request (DuckDB connections are not shared across threads)."""
        cur = self.con.cursor()
        if self.database is not None:
            cur.execute(f"USE {self.database}")
        return cur


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    row = con.execute(sql).fetchone()
    assert row is not None, "an aggregate without GROUP BY returns one row"
    return tuple(row)


def build_cubes(source: WarehouseReader, version: str) -> Cubes:
    """Read the warehouse once and build every pre-aggregate in memory."""
    started = time.perf_counter()
    con = duckdb.connect(":memory:")
    source.materialize(con, CUBE_QUERIES)
    for table in ("cube", "order_cells", "city_cells"):
        # Days lead every filter; sorting keeps zone maps selective.
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {table} ORDER BY ALL")
    first, last = _one(con, "SELECT min(order_date), max(order_date) FROM cube")
    first, last = first or dt.date(1970, 1, 1), last or dt.date(1970, 1, 1)
    first_month = first.year * 12 + first.month - 1
    masks = last.year * 12 + last.month - 1 - first_month < MAX_MASK_MONTHS
    for needs_masks, statement in _MASKS:
        if needs_masks and not masks:
            continue  # cust_days answers every distinct count, more slowly
        con.execute(statement.format(first_month=first_month))
    known: dict[str, list[object]] = {}
    for name, column in KNOWN.items():
        rows = con.execute(f"SELECT DISTINCT {column} FROM cube ORDER BY 1").fetchall()
        known[name] = [r[0] for r in rows if r[0] is not None]
    facts = int(_one(con, "SELECT coalesce(sum(lines), 0) FROM cube")[0])
    (loaded_at,) = _one(con, "SELECT max(loaded_at) FROM loads")
    seconds = time.perf_counter() - started
    log.info("analytics pre-aggregates: %s facts in %.2fs (%s)", f"{facts:,}", seconds, version)
    return Cubes(
        version,
        con,
        known,
        facts,
        seconds,
        first_year=first.year,
        first_day=first,
        last_day=last,
        first_month=first_month,
        masks=masks,
        loaded_at=_utc(loaded_at),
    )


def _utc(value: Any) -> dt.datetime | None:
    """A load time as an aware UTC datetime (warehouses store it without a zone)."""
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class CubeStore:
    """The current pre-aggregates, rebuilt when the warehouse version changes.

    The version is checked at most every ``check_every`` seconds (a stat call
    or one catalog query). While a new version is built the previous one keeps
    answering; only the very first build makes requests wait.
    """

    def __init__(self, source: WarehouseReader, check_every: float = 1.0) -> None:
        self.source = source
        self.check_every = check_every
        self._cubes: Cubes | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._building = threading.Lock()
        self.last_error: str | None = None

    def current(self) -> Cubes:
        """Up-to-date pre-aggregates; TransientError when there is no warehouse yet."""
        now = time.monotonic()
        cubes = self._cubes
        if cubes is not None and now - self._checked < self.check_every:
            return cubes
        with self._lock:
            if self._cubes is not None and time.monotonic() - self._checked < self.check_every:
                return self._cubes
            self._checked = time.monotonic()
            version = self.source.version()
            if version is None:
                raise TransientError(f"no warehouse at {self.source.display} yet")
            if self._cubes is not None and self._cubes.version == version:
                return self._cubes
            if self._cubes is not None:  # serve the old version while building the new
                if not self._building.locked():
                    threading.Thread(target=self._rebuild, args=(version,), daemon=True).start()
                return self._cubes
        self._rebuild(version)
        built = self.built()
        if built is None:
            raise TransientError(self.last_error or "the warehouse could not be read")
        return built

    def recent(self) -> Cubes | None:
        """The pre-aggregates if their version was checked within ``check_every`` (no I/O).

        None means "ask `current()`" (which may stat the file or query the catalog).
        """
        cubes = self._cubes
        if cubes is not None and time.monotonic() - self._checked < self.check_every:
            return cubes
        return None

    def built(self) -> Cubes | None:
        """The pre-aggregates built last, without checking the warehouse's version."""
        return self._cubes

    def _rebuild(self, version: str) -> None:
        if not self._building.acquire(blocking=self._cubes is None):
            return  # a rebuild is already running
        try:
            if self._cubes is not None and self._cubes.version == version:
                return
            self._cubes = build_cubes(self.source, version)
            self.last_error = None
        except TransientError as exc:
            self.last_error = str(exc)
            self._checked = 0.0  # try again at the next request
            log.warning("analytics pre-aggregates not rebuilt: %s", exc)
        finally:
            self._building.release()
