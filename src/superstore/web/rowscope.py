"""Row-level security for /analytics: a user limited to regions or states gets cubes of only those.

Instead of adding a predicate to every query (and trusting every future
query to add it too), a scoped user's requests are answered from a
restricted copy of the pre-aggregates: every table filtered to the allowed
(region, state) rows, the customer roll-ups rebuilt from the filtered rows,
the slicer values recomputed. Every visual, KPI, breakdown and export reads
the pre-aggregates through `Cubes.cursor()`, so no query path can see a row
outside the scope; the slicers offer only the allowed members, and a filter
naming another member is refused like any value the warehouse does not hold.
Drill-through and the long-tail breakdowns read the warehouse itself: they
bind the scope from `Cubes.scope_regions`/`scope_states` (`detail.WHERE`).

Copies live in the same in-memory DuckDB (an attached database per scope),
are built once per warehouse version and scope, and go when the version does.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import replace

from superstore.web.cubes import KNOWN, ROLLUPS, Cubes
from superstore.web.principal import Scope

__all__ = ["ScopedCubes", "restrict"]

_PLACE = """(cardinality($regions::VARCHAR[]) = 0 OR list_contains($regions::VARCHAR[], region))
    AND (cardinality($states::VARCHAR[]) = 0 OR list_contains($states::VARCHAR[], state))"""
_ROLLED_UP = ("cust_region", "cust_all")  # rebuilt from the filtered cust_state


def _name(cubes: Cubes, scope: Scope) -> str:
    digest = hashlib.sha256(repr((cubes.version, scope.key)).encode()).hexdigest()[:16]
    return f"scope_{digest}"


def restrict(cubes: Cubes, scope: Scope) -> Cubes:
    """A copy of `cubes` holding only the rows `scope` allows (the same cubes if unlimited)."""
    if scope.unlimited:
        return cubes
    name = _name(cubes, scope)
    regions, states = sorted(scope.regions), sorted(scope.states)
    params = {"regions": regions, "states": states}
    cur = cubes.con.cursor()
    cur.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {name}")
    tables = cur.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = 'memory'"
        " AND schema_name = 'main' ORDER BY table_name"
    ).fetchall()
    columns = {
        (t, c)
        for t, c in cur.execute(
            "SELECT table_name, column_name FROM duckdb_columns()"
            " WHERE database_name = 'memory' AND schema_name = 'main'"
        ).fetchall()
    }
    for (table,) in tables:
        if table in _ROLLED_UP:
            continue
        placed = (table, "region") in columns and (table, "state") in columns
        if not placed and table != "loads":
            raise RuntimeError(f"pre-aggregate {table} has no region and state to scope by")
        where = f"WHERE {_PLACE}" if placed else ""
        cur.execute(
            f"CREATE OR REPLACE TABLE {name}.{table} AS SELECT * FROM memory.main.{table} {where}",
            params if placed else None,
        )
    cur.execute(f"USE {name}")
    if any(t == "cust_state" for (t,) in tables):
        for statement in ROLLUPS:
            cur.execute(statement.replace("CREATE TABLE", "CREATE OR REPLACE TABLE", 1))
    known: dict[str, list[object]] = {}
    for key, column in KNOWN.items():
        rows = cur.execute(f"SELECT DISTINCT {column} FROM cube ORDER BY 1").fetchall()
        known[key] = [r[0] for r in rows if r[0] is not None]
    row = cur.execute("SELECT coalesce(sum(lines), 0) FROM cube").fetchone()
    facts = int(row[0]) if row else 0
    return replace(
        cubes,
        known=known,
        facts=facts,
        database=name,
        scope_regions=tuple(regions),
        scope_states=tuple(states),
    )


class ScopedCubes:
    """Restricted copies per (warehouse version, scope), the newest few kept."""

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[tuple[object, ...], Cubes] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self._version: str | None = None

    def peek(self, cubes: Cubes, scope: Scope) -> Cubes | None:
        """The copy if it is built (no DuckDB work: safe on the event loop)."""
        if scope.unlimited:
            return cubes
        with self._lock:
            return self._items.get((id(cubes.con), cubes.version, scope.key))

    def get(self, cubes: Cubes, scope: Scope) -> Cubes:
        """The copy, built on first use (call from a worker thread)."""
        found = self.peek(cubes, scope)
        if found is not None:
            return found
        key = (id(cubes.con), cubes.version, scope.key)
        with self._lock:  # one build at a time: they are short and share the database
            if key in self._items:
                return self._items[key]
            if self._version != cubes.version:  # a new warehouse version: forget the old
                self._items.clear()
                self._version = cubes.version
            built = restrict(cubes, scope)
            self._items[key] = built
            while len(self._items) > self._size:
                self._items.popitem(last=False)
            return built
