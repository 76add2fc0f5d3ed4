"""The ETL engines, registered by name: each config builds its engine.

`SUPERSTORE_ETL_ENGINE` (or ``--engine``) names one; adding an engine is one
module with an `EngineConfig` subclass and one entry here.
"""

from __future__ import annotations

from collections.abc import Mapping

from superstore.errors import ConfigError
from superstore.etl.engines import DuckDBEngineConfig, EngineConfig, EngineOptions
from superstore.etl.spark import SparkEngineConfig
from superstore.settings import Settings
from superstore.storage import LakeConfig

__all__ = ["ENGINES", "engine_config"]

ENGINES: dict[str, type[EngineConfig]] = {
    engine.name: engine for engine in (DuckDBEngineConfig, SparkEngineConfig)
}


def engine_config(
    settings: Settings,
    name: str | None = None,
    lake: LakeConfig | None = None,
    master: str | None = None,
    conf: Mapping[str, str] | None = None,
) -> EngineConfig:
    """The engine named by the flag or the settings; Spark settings pass through."""
    chosen = name or settings.etl_engine
    engine = ENGINES.get(chosen)
    if engine is None:
        raise ConfigError(f"unknown engine {chosen!r}; use one of {', '.join(ENGINES)}")
    return engine.from_settings(settings, EngineOptions(lake, master, dict(conf or {})))
