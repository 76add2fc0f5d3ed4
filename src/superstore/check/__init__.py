"""End-to-end reconciliation: Kafka, PostgreSQL, lake manifests and warehouse agree."""

from superstore.check.layers import DayTotals, LayerTotals, kafka_layer, lake_layer, postgres_layer
from superstore.check.reconcile import Difference, Report, reconcile

__all__ = [
    "DayTotals",
    "Difference",
    "LayerTotals",
    "Report",
    "kafka_layer",
    "lake_layer",
    "postgres_layer",
    "reconcile",
]
