"""Assemble the layers from settings and reconcile them: what `superstore check` runs."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from superstore.check.layers import (
    LayerTotals,
    kafka_layer,
    lake_layer,
    postgres_layer,
    warehouse_layer,
)
from superstore.check.reconcile import Report, reconcile
from superstore.contract import Expectations
from superstore.oltp import refused_offsets
from superstore.settings import Settings
from superstore.stack import READER_ROLE, kafka_config, pg_config
from superstore.storage import LakeConfig
from superstore.warehouse import warehouse_config

__all__ = ["default_until", "run_check"]

log = logging.getLogger(__name__)


def default_until(settings: Settings) -> dt.date:
    """Yesterday in the configured time zone: the last day that can be exported."""
    return dt.datetime.now(ZoneInfo(settings.timezone)).date() - dt.timedelta(days=1)


def run_check(
    settings: Settings,
    until: dt.date | None = None,
    include_kafka: bool = True,
    include_warehouse: bool = True,
) -> Report:
    """Per-day totals of every layer, compared pairwise (Kafka on all days, the rest to `until`)."""
    layers: list[LayerTotals] = []
    if include_kafka:
        pg = pg_config(settings, READER_ROLE)
        kafka = kafka_config(settings)
        with pg.connect(autocommit=True) as conn:
            refused = refused_offsets(conn, kafka.topic)
        layers.append(
            kafka_layer(kafka, expect=Expectations.from_settings(settings), refused=refused)
        )
    layers.append(postgres_layer(pg_config(settings, READER_ROLE)))
    layers.append(lake_layer(LakeConfig.from_settings(settings)))
    if include_warehouse:
        with warehouse_config(settings).open() as warehouse:
            layers.append(warehouse_layer(warehouse))
    return reconcile(layers, until or default_until(settings))
