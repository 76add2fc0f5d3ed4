"""Reading a topic back from the beginning to its current end, to prove what it holds.

Used by `superstore topic stats` and the demo: counts messages, valid lines,
distinct line keys and the exact sales sum over distinct lines, so a replayed
topic (duplicates are allowed in Kafka) still reconciles to the data set.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import ValidationError

from superstore.clients import KafkaConfig
from superstore.errors import TransientError
from superstore.messages import decode_line

__all__ = ["TopicSummary", "read_topic"]


@dataclass
class TopicSummary:
    """What a topic holds, from offset 0 to the high watermark seen at the start."""

    messages: int = 0
    valid: int = 0
    invalid: int = 0
    distinct_lines: int = 0
    sales_sum: Decimal = Decimal(0)
    partitions_by_order: dict[str, set[int]] = field(default_factory=dict, repr=False)
    invalid_reasons: Counter[str] = field(default_factory=Counter)


def read_topic(
    config: KafkaConfig, topic: str | None = None, timeout: float = 60.0
) -> TopicSummary:
    """Consume every partition of `topic` up to its end offset, without committing anything."""
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition

    topic = topic or config.topic
    consumer = config.consumer(f"superstore-readback-{uuid.uuid4().hex[:8]}")
    summary = TopicSummary()
    seen: dict[str, Decimal] = {}
    try:
        meta = consumer.list_topics(topic, timeout=10)
        if meta.topics[topic].error is not None:
            raise TransientError(f"topic {topic} is not readable: {meta.topics[topic].error}")
        ends: dict[int, int] = {}
        for pid in meta.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, pid), timeout=10)
            if high > low:
                ends[pid] = high
        consumer.assign([TopicPartition(topic, pid, OFFSET_BEGINNING) for pid in ends])
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=5000, timeout=1.0):
                if msg.error():
                    continue
                pid, offset = msg.partition(), msg.offset()
                if pid not in ends or offset >= ends[pid]:
                    continue
                summary.messages += 1
                try:
                    line = decode_line(msg.value())
                except (ValidationError, ValueError) as exc:
                    summary.invalid += 1
                    summary.invalid_reasons[type(exc).__name__] += 1
                else:
                    summary.valid += 1
                    seen[line.key] = line.sales
                    summary.partitions_by_order.setdefault(line.order_id, set()).add(pid)
                if offset + 1 >= ends[pid]:
                    del ends[pid]
        if ends:
            raise TransientError(f"timed out reading {topic}: partitions {sorted(ends)} unfinished")
    finally:
        consumer.close()
    summary.distinct_lines = len(seen)
    summary.sales_sum = sum(seen.values(), Decimal(0))
    return summary
