"""ETL test fixtures: see star_fixtures.py (shared with tests/warehouse)."""

from star_fixtures import seed_db, seed_lake, seed_lines, spark  # noqa: F401
