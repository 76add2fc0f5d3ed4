"""`superstore status`: one screen of pipeline health.

Services, consumer lag per partition (from the group's committed offsets,
which the consumer mirrors to Kafka after each PostgreSQL commit), the last
exported partition, the scheduler's high-water mark and the dead-letter size.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field

from confluent_kafka import TopicPartition

from superstore.etl import behind_in_warehouse
from superstore.export import list_partitions
from superstore.oltp import StaleDay, rejected_count, stale_days
from superstore.ops.scheduler import RunState
from superstore.settings import Settings
from superstore.stack import kafka_config, pg_config, stack_status
from superstore.storage import LakeConfig
from superstore.warehouse import warehouse_config

__all__ = ["PipelineStatus", "consumer_lag", "pipeline_status"]


@dataclass
class PipelineStatus:
    """Everything `status` shows; `healthy` is False if any part is down."""

    services: dict[str, str] = field(default_factory=dict)
    lag: dict[int, int] = field(default_factory=dict)
    dlq_messages: int | None = None
    rejected_lines: int | None = None
    last_partition: dt.date | None = None
    partitions: int = 0
    done_through: dt.date | None = None
    stale: list[StaleDay] | None = None  # changed since their partition was exported
    behind: list[dt.date] | None = None  # partitions newer than what the warehouse loaded
    healthy: bool = True


def consumer_lag(settings: Settings, group: str) -> dict[int, int]:
    """Messages between the group's committed offsets and the end, per partition."""
    return _lag(settings, group)[0]


def _lag(settings: Settings, group: str) -> tuple[dict[int, int], int | None]:
    kafka = kafka_config(settings)
    consumer = kafka.consumer(group)
    try:
        meta = consumer.list_topics(kafka.topic, timeout=5)
        parts = [TopicPartition(kafka.topic, p) for p in meta.topics[kafka.topic].partitions]
        committed = consumer.committed(parts, timeout=5)
        lag = {}
        for tp in committed:
            _, high = consumer.get_watermark_offsets(tp, timeout=5)
            lag[tp.partition] = high - (tp.offset if tp.offset >= 0 else 0)
        low, high = consumer.get_watermark_offsets(TopicPartition(kafka.dlq_topic, 0), timeout=5)
        return lag, high - low
    finally:
        consumer.close()


def pipeline_status(settings: Settings, group: str = "superstore-ingest") -> PipelineStatus:
    """Collect the status; parts that cannot be reached are reported, not raised."""
    status = PipelineStatus()
    for row in stack_status(settings):
        why = "" if row.healthy else f": {row.detail}"  # a DOWN line says why
        status.services[row.name] = f"{'up' if row.healthy else 'DOWN'} ({row.address}){why}"
        status.healthy &= row.healthy
    # Each part may be unreachable; that is reported as "unknown", never raised.
    with contextlib.suppress(Exception):  # broker down: shown as DOWN above
        status.lag, status.dlq_messages = _lag(settings, group)
    lake = LakeConfig.from_settings(settings)
    # server down or schema not created yet
    with contextlib.suppress(Exception), pg_config(settings).connect(autocommit=True) as conn:
        status.rejected_lines = rejected_count(conn)
        status.stale = stale_days(conn, lake.url)
        with warehouse_config(settings).open() as warehouse:
            status.behind = behind_in_warehouse(conn, lake, warehouse)
    with contextlib.suppress(Exception):  # lake not reachable
        days = list_partitions(LakeConfig.from_settings(settings))
        status.partitions = len(days)
        status.last_partition = days[-1] if days else None
    state_path = settings.data_dir / "run_state.json"
    if state_path.exists():
        status.done_through = RunState.load(state_path, dt.date.today()).done_through
    return status
