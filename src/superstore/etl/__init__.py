"""Star-schema ETL: lake partitions -> one transformation (DuckDB or Spark) -> warehouse.

See docs/warehouse.md. Typical use::

    lake = LakeConfig.from_settings(settings)
    with (
        engine_config(settings, lake=lake).open() as engine,
        warehouse_config(settings).open() as warehouse,
    ):
        run_etl(lake, engine, warehouse, select_days(lake, all_days=True))
"""

from superstore.etl.engines import DuckDBEngine, DuckDBEngineConfig, Engine, EngineConfig
from superstore.etl.pipeline import EtlReport, Progress, run_etl
from superstore.etl.quality import DataQualityError, DayTotals, run_checks
from superstore.etl.registry import ENGINES, engine_config
from superstore.etl.source import Partition, select_days, verify_partitions
from superstore.etl.stale import behind_in_warehouse
from superstore.etl.transform import INPUT_COLUMNS, TRANSFORM

__all__ = [
    "ENGINES",
    "INPUT_COLUMNS",
    "TRANSFORM",
    "DataQualityError",
    "DayTotals",
    "DuckDBEngine",
    "DuckDBEngineConfig",
    "Engine",
    "EngineConfig",
    "EtlReport",
    "Partition",
    "Progress",
    "behind_in_warehouse",
    "engine_config",
    "run_checks",
    "run_etl",
    "select_days",
    "verify_partitions",
]
