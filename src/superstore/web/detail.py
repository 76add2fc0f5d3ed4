"""Order lines and long-tail breakdowns, read from the warehouse itself, on demand.

The pre-aggregates answer every chart, but not "which lines make this
number" (drill-through) nor "top products / customers / cities": those are
as many rows as the facts hold, so they are read from the star schema when
asked, with the same filters as bound parameters and the same read-only
discipline as the rebuilds (`superstore.web.source`): the DuckDB file is
attached READ_ONLY for the one query and let go, PostgreSQL is read in a
READ ONLY transaction. At 10M facts a DuckDB drill-through page takes tens
of milliseconds. Statements are constants written once, run by both
engines; only the placeholder style differs (psycopg's ``%(name)s``,
DuckDB's ``$name``).
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
import psycopg
from psycopg import sql as psql

from superstore.errors import TransientError
from superstore.web.source import DuckDBSource, PostgresSource, WarehouseSource

__all__ = ["DETAIL_FILTERS", "FACTS", "WHERE", "DetailReader"]

FACTS = """
FROM {s}.sales_fact f
JOIN {s}.time_dim t ON t.time_key = f.time_key
JOIN {s}.customer_dim c ON c.customer_key = f.customer_key
JOIN {s}.product_dim p ON p.product_key = f.product_key
JOIN {s}.location_dim l ON l.location_key = f.location_key
"""

# Every filter of the page, plus what identifies one row of a breakdown.
WHERE = """
WHERE f.time_key BETWEEN %(lo_key)s AND %(hi_key)s
  AND (cardinality(%(years)s::int[]) = 0 OR t.year = ANY(%(years)s::int[]))
  AND (cardinality(%(states)s::text[]) = 0 OR l.state = ANY(%(states)s::text[]))
  AND (%(segment)s::text IS NULL OR c.segment = %(segment)s::text)
  AND (%(region)s::text IS NULL OR l.region = %(region)s::text)
  AND (%(category)s::text IS NULL OR p.category = %(category)s::text)
  AND (%(sub_category)s::text IS NULL OR p.sub_category = %(sub_category)s::text)
  AND (%(product_id)s::text IS NULL OR p.product_id = %(product_id)s::text)
  AND (%(customer_id)s::text IS NULL OR c.customer_id = %(customer_id)s::text)
  AND (%(city)s::text IS NULL OR l.city = %(city)s::text)
"""
DETAIL_FILTERS = ("sub_category", "product_id", "customer_id", "city")
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


class DetailReader:
    """Runs one constant statement against the warehouse the pre-aggregates come from."""

    def __init__(self, source: WarehouseSource) -> None:
        self.source = source

    def rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows as dicts; `sql` uses ``{s}`` for the schema and ``%(name)s`` placeholders."""
        if isinstance(self.source, DuckDBSource):
            return self._duckdb(self.source, sql, params)
        if isinstance(self.source, PostgresSource):
            return self._postgres(self.source, sql, params)
        raise TransientError(f"order lines cannot be read from {self.source.display}")

    @staticmethod
    def _duckdb(source: DuckDBSource, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        text = _PLACEHOLDER.sub(lambda m: f"${m.group(1)}", sql.format(s=f"wh.{source.schema}"))
        used = {k: v for k, v in params.items() if f"${k}" in text}
        path = str(source.path).replace("'", "''")
        con = duckdb.connect(":memory:")
        try:
            try:
                con.execute(f"ATTACH '{path}' AS wh (READ_ONLY)")
            except duckdb.Error as exc:  # typically: a load holds the write lock right now
                raise TransientError(f"the warehouse is busy ({exc}); try again") from exc
            result = con.execute(text, used)
            names = [d[0] for d in result.description or []]
            return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
        finally:
            con.close()

    @staticmethod
    def _postgres(source: PostgresSource, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        query = psql.SQL(sql).format(s=psql.Identifier(source.schema))  # type: ignore[arg-type]
        try:
            with (
                psycopg.connect(source.dsn, autocommit=True, connect_timeout=5) as conn,
                conn.transaction(),
            ):
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cur = conn.execute(query, params)
                names = [d.name for d in cur.description or []]
                return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        except psycopg.OperationalError as exc:
            raise TransientError(f"warehouse {source.display} is unreachable") from exc
