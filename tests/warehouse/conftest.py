"""Warehouse test fixtures, shared with tests/etl (see tests/etl/star_fixtures.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "etl"))

from star_fixtures import seed_db, seed_lake, seed_lines, spark  # noqa: F401
