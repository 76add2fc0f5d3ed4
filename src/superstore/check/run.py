"""Assemble the layers from settings and reconcile them: what `superstore check` runs."""

from __future__ import annotations

import datetime as dt
import logging
import threading
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
from superstore.errors import TransientError
from superstore.oltp import refused_offsets
from superstore.retry import Backoff, retry
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
        layers.append(_warehouse_totals(settings))
    return reconcile(layers, until or default_until(settings))


_WAREHOUSE_WAIT = 30.0  # seconds


def _warehouse_totals(settings: Settings) -> LayerTotals:
    """The warehouse's layer, waiting while another process holds its DuckDB file.

    A DuckDB file is open to one writing process at a time: `run`'s sync holds it
    for each load (well under a second), and the check of `run`'s daily close runs
    in a process of its own, as may `superstore check` beside `run`.
    """

    def read() -> LayerTotals:
        with warehouse_config(settings).open() as warehouse:
            return warehouse_layer(warehouse)

    return retry(
        read,
        transient=(TransientError,),
        stop=threading.Event(),  # nothing stops it but the bound
        backoff=Backoff(first=0.5, maximum=0.5),
        what="the warehouse",
        within=_WAREHOUSE_WAIT,
    )
