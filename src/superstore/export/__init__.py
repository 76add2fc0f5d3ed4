"""Daily export: one day of PostgreSQL to ``raw/date=YYYY-MM-DD/`` in the lake.

A partition holds ``orders``, ``customers`` and ``products`` as CSV (the seed's
layout) and Parquet, and ``_manifest.json``, written last. See docs/lake.md.
"""

from superstore.export.day import export_day, export_days, order_dates
from superstore.export.lake import LakeConfig, list_partitions
from superstore.export.layout import DATA_FILES, MANIFEST_NAME, SCHEMA_VERSION, TABLES
from superstore.export.manifest import FileEntry, Manifest, VerifyError, read_manifest, verify_day

__all__ = [
    "DATA_FILES",
    "MANIFEST_NAME",
    "SCHEMA_VERSION",
    "TABLES",
    "FileEntry",
    "LakeConfig",
    "Manifest",
    "VerifyError",
    "export_day",
    "export_days",
    "list_partitions",
    "order_dates",
    "read_manifest",
    "verify_day",
]
