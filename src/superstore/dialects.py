"""SQL written once (PostgreSQL dialect), rendered for each engine by sqlglot.

Every statement of the ETL (the transformation, the merges, the data-quality
queries) is authored in one dialect and transpiled to DuckDB, Spark SQL,
PostgreSQL or Redshift here. Two functions have no portable spelling, so the
source uses placeholders that are expanded per dialect:

- ``SURROGATE_KEY(a, b, ...)``: the first 15 hex digits of the MD5 of the
  natural key's parts joined by U+001F (NULL as empty), read as a BIGINT.
  60 bits keep it positive; every engine has MD5 over UTF-8 bytes, so the key
  is the same number in DuckDB, Spark, PostgreSQL and Redshift (tests prove it).
- ``ISO_WEEKDAY(d)``: 1 = Monday .. 7 = Sunday (each engine numbers weekdays
  differently, and a generic transpile of it is wrong for Spark).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from superstore.errors import FatalError

__all__ = ["AUTHOR_DIALECT", "DIALECTS", "render", "surrogate_key_sql"]

AUTHOR_DIALECT = "postgres"
DIALECTS = ("duckdb", "spark", "postgres", "redshift")
_SEPARATOR = "CHR(31)"

_HEX15_TO_BIGINT = {
    "duckdb": "CAST('0x' || SUBSTR({h}, 1, 15) AS BIGINT)",
    "spark": "CAST(CONV(SUBSTR({h}, 1, 15), 16, 10) AS BIGINT)",
    "postgres": "CAST(CAST('x' || LPAD(SUBSTR({h}, 1, 15), 16, '0') AS BIT(64)) AS BIGINT)",
    "redshift": "STRTOL(SUBSTRING({h}, 1, 15), 16)",
}
_ISO_WEEKDAY = {
    "duckdb": "CAST(ISODOW({d}) AS INT)",
    "spark": "CAST(WEEKDAY({d}) + 1 AS INT)",
    "postgres": "CAST(EXTRACT(ISODOW FROM {d}) AS INT)",
    "redshift": "CAST(MOD(CAST(DATE_PART(dow, {d}) AS INT) + 6, 7) + 1 AS INT)",
}


def _key_text(args: list[exp.Expr], dialect: str) -> str:
    parts = [f"COALESCE(CAST({a.sql(dialect=dialect)} AS VARCHAR), '')" for a in args]
    return f" || {_SEPARATOR} || ".join(parts)


def _expand(dialect: str) -> Callable[[exp.Expr], exp.Expr]:
    def expand(node: exp.Expr) -> exp.Expr:
        if not isinstance(node, exp.Anonymous):
            return node
        name = str(node.this).upper()
        if name == "SURROGATE_KEY":
            hashed = f"MD5({_key_text(list(node.expressions), dialect)})"
            return sqlglot.parse_one(_HEX15_TO_BIGINT[dialect].format(h=hashed), read=dialect)
        if name == "ISO_WEEKDAY":
            (arg,) = node.expressions
            text = _ISO_WEEKDAY[dialect].format(d=arg.sql(dialect=dialect))
            return sqlglot.parse_one(text, read=dialect)
        return node

    return expand


@lru_cache(maxsize=1024)
def render(sql: str, dialect: str) -> str:
    """One statement authored in PostgreSQL's dialect, as ``dialect`` spells it."""
    if dialect not in DIALECTS:
        raise FatalError(f"unknown SQL dialect {dialect!r}; known: {', '.join(DIALECTS)}")
    try:
        tree = sqlglot.parse_one(sql, read=AUTHOR_DIALECT)
        rendered: str = tree.transform(_expand(dialect)).sql(dialect=dialect)
        return rendered
    except SqlglotError as exc:  # a bug in our SQL, not in the user's input
        raise FatalError(f"cannot render SQL for {dialect}: {exc}") from exc


def surrogate_key_sql(dialect: str, *columns: str) -> str:
    """The key expression over ``columns``, for ad-hoc queries in any warehouse."""
    return (
        render(f"SELECT SURROGATE_KEY({', '.join(columns)}) AS k", dialect)
        .split(" AS k", 1)[0]
        .removeprefix("SELECT ")
    )
