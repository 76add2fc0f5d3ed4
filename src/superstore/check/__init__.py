"""End-to-end reconciliation: Kafka, PostgreSQL, lake manifests and warehouse agree."""

from superstore.check.layers import (
    DayTotals,
    LayerTotals,
    kafka_layer,
    lake_layer,
    postgres_layer,
    warehouse_layer,
)
from superstore.check.reconcile import Difference, Report, reconcile
from superstore.check.run import default_until, run_check

__all__ = [
    "DayTotals",
    "Difference",
    "LayerTotals",
    "Report",
    "default_until",
    "kafka_layer",
    "lake_layer",
    "postgres_layer",
    "reconcile",
    "run_check",
    "warehouse_layer",
]
