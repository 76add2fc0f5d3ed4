"""The warehouse targets, registered by name: each config builds its loader and its reader.

`SUPERSTORE_WAREHOUSE` (or ``--warehouse``) names one; adding a target is one
module with a `TargetConfig` subclass and one entry here.
"""

from __future__ import annotations

from superstore.errors import ConfigError
from superstore.settings import Settings
from superstore.warehouse.base import TargetConfig
from superstore.warehouse.duckdb import DuckDBTarget
from superstore.warehouse.postgres import PostgresTarget
from superstore.warehouse.redshift import RedshiftTarget

__all__ = ["TARGETS", "warehouse_config"]

TARGETS: dict[str, type[TargetConfig]] = {
    target.kind: target for target in (DuckDBTarget, PostgresTarget, RedshiftTarget)
}


def warehouse_config(settings: Settings, kind: str | None = None) -> TargetConfig:
    """The configured target; ``kind`` (a CLI flag) overrides ``settings.warehouse``."""
    name = kind or settings.warehouse
    target = TARGETS.get(name)
    if target is None:
        raise ConfigError(f"unknown warehouse {name!r}; use one of {', '.join(TARGETS)}")
    return target.from_settings(settings)
