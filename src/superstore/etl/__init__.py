"""Star-schema ETL: lake partitions -> one transformation (DuckDB or Spark) -> warehouse.

See docs/warehouse.md. Typical use::

    lake = LakeConfig.from_settings(settings)
    with make_engine(settings) as engine, WarehouseConfig.from_settings(settings).open() as wh:
        run_etl(lake, engine, wh, select_days(lake, all_days=True))
"""

from superstore.etl.engines import DuckDBEngine, Engine
from superstore.etl.pipeline import ENGINES, EtlReport, Progress, make_engine, run_etl
from superstore.etl.quality import DataQualityError, DayTotals, run_checks
from superstore.etl.source import Partition, select_days, verify_partitions
from superstore.etl.transform import INPUT_COLUMNS, TRANSFORM

__all__ = [
    "ENGINES",
    "INPUT_COLUMNS",
    "TRANSFORM",
    "DataQualityError",
    "DayTotals",
    "DuckDBEngine",
    "Engine",
    "EtlReport",
    "Partition",
    "Progress",
    "make_engine",
    "run_checks",
    "run_etl",
    "select_days",
    "verify_partitions",
]
