"""Daily export: one day of PostgreSQL to ``raw/date=YYYY-MM-DD/`` in the lake.

A partition holds ``orders``, ``customers`` and ``products`` as CSV (the seed's
layout) and Parquet, and ``_manifest.json``, written last. This package owns
the lake's layout; see docs/lake.md.
"""

from superstore.export.day import export_day, export_days
from superstore.export.layout import DATA_FILES, MANIFEST_NAME, SCHEMA_VERSION, TABLES
from superstore.export.manifest import FileEntry, Manifest, VerifyError, read_manifest, verify_day
from superstore.export.partitions import list_partitions

__all__ = [
    "DATA_FILES",
    "MANIFEST_NAME",
    "SCHEMA_VERSION",
    "TABLES",
    "FileEntry",
    "Manifest",
    "VerifyError",
    "export_day",
    "export_days",
    "list_partitions",
    "read_manifest",
    "verify_day",
]
