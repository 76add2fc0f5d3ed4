"""Pre-aggregates of the star schema, rebuilt once per warehouse version.

The analytics visuals only ever filter and group by year, month, segment,
region, state and category, so the fact table (10M+ lines) is reduced to:

- ``cube``: additive sums (sales, profit, quantity, lines) per
  year x quarter x month x segment x region x state x category: a few
  thousand rows whatever the number of facts.
- ``order_cells``: distinct orders per year x segment x region x state x
  category, plus a row per cell with category NULL (= any category). An
  order has one date, one customer (so one segment) and one ship-to place,
  so these counts add up across cells exactly; across categories they do
  not (an order can span categories), hence the extra NULL rows.
- ``city_cells``: the distinct (state, city) pairs per cell, counted at query
  time (a city is seen in many years and segments, so counts do not add up).
- ``cust_state`` / ``cust_region`` / ``cust_all``: one row per customer and
  category (NULL = any) and state / region / nothing, with a bit mask of the
  years the customer bought in. Customers buy in many years and states, so
  their count is a true distinct count; the masks make it a scan of one row
  per customer (filtered by zone maps when a state or region is chosen)
  instead of one per customer-year-state.

Everything is exact (DECIMAL sums, true distinct counts). The tables live in
an in-memory DuckDB; each request queries them through its own cursor.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb

from superstore.errors import TransientError
from superstore.warehouse import WarehouseReader

__all__ = ["CubeStore", "Cubes", "build_cubes"]

log = logging.getLogger(__name__)

_JOINS = """
FROM {s}.sales_fact f
JOIN {s}.time_dim t ON t.time_key = f.time_key
JOIN {s}.customer_dim c ON c.customer_key = f.customer_key
JOIN {s}.product_dim p ON p.product_key = f.product_key
JOIN {s}.location_dim l ON l.location_key = f.location_key
"""

_CELL = "t.year, c.segment, l.region, l.state"
_ANY_CATEGORY = "CASE WHEN GROUPING(p.category) = 1 THEN NULL ELSE p.category END AS category"

CUBE_QUERIES: dict[str, str] = {
    "cube": f"""SELECT t.year, t.quarter, t.month, c.segment, l.region, l.state, p.category,
        sum(f.sales) AS sales, sum(f.profit) AS profit, sum(f.quantity) AS quantity,
        count(*) AS lines {_JOINS}
        GROUP BY t.year, t.quarter, t.month, c.segment, l.region, l.state, p.category""",
    "order_cells": f"""SELECT {_CELL}, {_ANY_CATEGORY},
        count(DISTINCT f.order_id) AS orders {_JOINS}
        GROUP BY GROUPING SETS (({_CELL}, p.category), ({_CELL}))""",
    "customer_cells": f"""SELECT {_CELL}, {_ANY_CATEGORY}, f.customer_key {_JOINS}
        GROUP BY GROUPING SETS (({_CELL}, p.category, f.customer_key),
                                ({_CELL}, f.customer_key))""",
    "city_cells": f"""SELECT {_CELL}, {_ANY_CATEGORY}, l.city {_JOINS}
        GROUP BY GROUPING SETS (({_CELL}, p.category, l.city), ({_CELL}, l.city))""",
}


# Customers per (category, state), (category, region) and category, with a bit per year.
_YEARS = "bit_or(CAST(1 AS HUGEINT) << (year - {first_year}))"
_CUSTOMER_MASKS = (
    f"""CREATE TABLE cust_state AS SELECT category, state, region, segment, customer_key,
        {_YEARS} AS years FROM customer_cells GROUP BY ALL ORDER BY ALL""",
    """CREATE TABLE cust_region AS SELECT category, region, segment, customer_key,
        bit_or(years) AS years FROM cust_state GROUP BY ALL ORDER BY ALL""",
    """CREATE TABLE cust_all AS SELECT category, segment, customer_key,
        bit_or(years) AS years FROM cust_region GROUP BY ALL ORDER BY ALL""",
    "DROP TABLE customer_cells",
)


@dataclass
class Cubes:
    """One warehouse version's pre-aggregates and the values each dimension holds."""

    version: str
    con: duckdb.DuckDBPyConnection
    known: dict[str, list[object]]
    facts: int
    build_seconds: float
    first_year: int = 0  # bit 0 of the customers' year masks
    built_at: float = field(default_factory=time.time)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one request (DuckDB connections are not shared across threads)."""
        return self.con.cursor()


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    assert row is not None, "an aggregate without GROUP BY returns one row"
    return row[0]


def build_cubes(source: WarehouseReader, version: str) -> Cubes:
    """Read the warehouse once and build every pre-aggregate in memory."""
    started = time.perf_counter()
    con = duckdb.connect(":memory:")
    source.materialize(con, CUBE_QUERIES)
    for table in ("cube", "order_cells", "city_cells"):
        # The cell columns lead every filter; sorting keeps zone maps selective.
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {table} ORDER BY ALL")
    first_year = _scalar(con, "SELECT coalesce(min(year), 0) FROM customer_cells")
    for statement in _CUSTOMER_MASKS:
        con.execute(statement.format(first_year=int(first_year)))
    known: dict[str, list[object]] = {}
    for name, column in (
        ("year", "year"),
        ("state", "state"),
        ("segment", "segment"),
        ("region", "region"),
        ("category", "category"),
    ):
        rows = con.execute(f"SELECT DISTINCT {column} FROM cube ORDER BY 1").fetchall()
        known[name] = [r[0] for r in rows]
    facts = int(_scalar(con, "SELECT coalesce(sum(lines), 0) FROM cube"))
    seconds = time.perf_counter() - started
    log.info("analytics pre-aggregates: %s facts in %.2fs (%s)", f"{facts:,}", seconds, version)
    return Cubes(version, con, known, facts, seconds, int(first_year))


class CubeStore:
    """The current pre-aggregates, rebuilt when the warehouse version changes.

    The version is checked at most every ``check_every`` seconds (a stat call
    or one catalog query). While a new version is built the previous one keeps
    answering; only the very first build makes requests wait.
    """

    def __init__(self, source: WarehouseReader, check_every: float = 2.0) -> None:
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
