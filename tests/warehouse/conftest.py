"""Warehouse test fixtures, shared with tests/etl (see tests/support/star.py)."""

from tests.support.star import seed_db, seed_lake, seed_lines, spark  # noqa: F401
