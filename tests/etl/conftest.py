"""ETL test fixtures: the seed database, lake and Spark session of tests/support/star.py."""

from tests.support.star import seed_db, seed_lake, seed_lines, spark  # noqa: F401
