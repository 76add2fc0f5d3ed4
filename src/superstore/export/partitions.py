"""Which partitions the lake holds: the days whose manifest exists.

Readers trust manifests only: temporary prefixes (``raw/.tmp-*``) and
partitions without a manifest (being replaced, or left by a crash) do not count.
"""

from __future__ import annotations

import datetime as dt
import re

from superstore.export.layout import MANIFEST_NAME
from superstore.storage import LakeConfig, lake_errors

__all__ = ["list_partitions"]

_PARTITION = re.compile(r"date=(\d{4}-\d{2}-\d{2})")


def list_partitions(lake: LakeConfig) -> list[dt.date]:
    """Dates of the complete partitions (those with a manifest), oldest first.

    Temporary prefixes (``raw/.tmp-*``) and partitions without a manifest (being
    replaced, or left by a crash) are not listed: readers trust manifests only.
    """
    fs = lake.fs()
    with lake_errors(lake, "listing partitions"):
        if not fs.exists(lake.path("raw")):
            return []
        found = fs.glob(lake.path("raw", "date=*", MANIFEST_NAME))
    days = set()
    for path in found:
        match = _PARTITION.fullmatch(str(path).rstrip("/").split("/")[-2])
        if match:
            days.add(dt.date.fromisoformat(match.group(1)))
    return sorted(days)
