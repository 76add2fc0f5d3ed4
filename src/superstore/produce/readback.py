"""Reading a topic back from the beginning to its current end, to prove what it holds.

Used by `superstore topic stats` and the demo: counts messages, valid lines,
distinct line keys and the exact sales sum over distinct lines, so a replayed
topic (duplicates are allowed in Kafka) still reconciles to the data set.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition
from pydantic import ValidationError

from superstore.clients import KafkaConfig
from superstore.contract import (
    DEFAULT_EXPECTATIONS,
    Expectations,
    OrderEvent,
    WireError,
    decode_message,
    line_key,
)
from superstore.errors import TransientError
from superstore.oltp import REFUSED_REASON

__all__ = ["TopicSummary", "deleted_by_retention", "read_topic", "scan_topic"]


@dataclass
class TopicSummary:
    """What a topic holds, from offset 0 to the high watermark seen at the start."""

    messages: int = 0
    valid: int = 0
    invalid: int = 0
    distinct_lines: int = 0
    sales_sum: Decimal = Decimal(0)
    events: int = 0
    contained: set[str] = field(default_factory=set, repr=False)
    partitions_by_order: dict[str, set[int]] = field(default_factory=dict, repr=False)
    invalid_reasons: Counter[str] = field(default_factory=Counter)


def scan_topic(
    config: KafkaConfig,
    topic: str,
    visit: Callable[[bytes | None], None],
    timeout: float = 60.0,
    on_message: Callable[[Message], None] | None = None,
) -> int:
    """Call `visit(value)` for every message from offset 0 to the end seen at the start.

    Returns the number of messages. Commits nothing (a throwaway group id).
    """
    consumer = config.consumer(f"superstore-readback-{uuid.uuid4().hex[:8]}")
    count = 0
    try:
        ends = {
            pid: high for pid, (low, high) in _watermarks(consumer, topic).items() if high > low
        }
        consumer.assign([TopicPartition(topic, pid, OFFSET_BEGINNING) for pid in ends])
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=5000, timeout=1.0):
                if msg.error():
                    continue
                pid, offset = msg.partition(), msg.offset()
                assert pid is not None and offset is not None  # a data message has both
                if pid not in ends or offset >= ends[pid]:
                    continue
                count += 1
                visit(msg.value())
                if on_message:
                    on_message(msg)
                if offset + 1 >= ends[pid]:
                    del ends[pid]
        if ends:
            raise TransientError(f"timed out reading {topic}: partitions {sorted(ends)} unfinished")
    finally:
        consumer.close()
    return count


def deleted_by_retention(config: KafkaConfig, topic: str) -> int:
    """Messages the broker already deleted from `topic` (the sum of its low watermarks)."""
    consumer = config.consumer(f"superstore-readback-{uuid.uuid4().hex[:8]}")
    try:
        return sum(low for low, _ in _watermarks(consumer, topic).values())
    finally:
        consumer.close()


def _watermarks(consumer: Consumer, topic: str) -> dict[int, tuple[int, int]]:
    """(low, high) offsets of every partition of `topic`."""
    meta = consumer.list_topics(topic, timeout=10)
    if topic not in meta.topics or meta.topics[topic].error is not None:
        raise TransientError(f"topic {topic} is not readable")
    return {
        pid: consumer.get_watermark_offsets(TopicPartition(topic, pid), timeout=10)
        for pid in meta.topics[topic].partitions
    }


def read_topic(
    config: KafkaConfig,
    topic: str | None = None,
    timeout: float = 60.0,
    expect: Expectations = DEFAULT_EXPECTATIONS,
    refused: Collection[tuple[int, int]] = (),
    wanted: Mapping[str, Decimal] | None = None,
) -> TopicSummary:
    """Summarise every message of `topic` (default: the lines topic), exactly.

    Messages are judged as the ingest judges them (`decode_message` with the
    data expectations `expect`); those the ingest dead-lettered for a reason of
    PostgreSQL's (`refused`: (partition, offset)) count as invalid too. With
    `wanted` (line key -> sales), counts how many of those lines some message
    holds with exactly that sales figure (`summary.contained`).
    """
    summary = TopicSummary()
    seen: dict[str, Decimal] = {}
    skip = set(refused)

    def visit_message(msg: Message) -> None:
        if (msg.partition(), msg.offset()) in skip:
            summary.invalid += 1
            summary.invalid_reasons[REFUSED_REASON] += 1
            return
        try:
            doc = decode_message(msg.value(), expect)
        except (ValidationError, WireError, ValueError) as exc:
            summary.invalid += 1
            summary.invalid_reasons[type(exc).__name__] += 1
            return
        partitions = summary.partitions_by_order.setdefault(doc.order_id, set())
        partitions.add(msg.partition() or 0)
        if isinstance(doc, OrderEvent):
            summary.events += 1
            return
        summary.valid += 1
        key, sales = line_key(doc), Decimal(str(doc.sales))
        seen[key] = sales
        if wanted is not None and wanted.get(key) == sales:
            summary.contained.add(key)

    summary.messages = scan_topic(
        config, topic or config.topic, lambda _: None, timeout, on_message=visit_message
    )
    summary.distinct_lines = len(seen)
    summary.sales_sum = sum(seen.values(), Decimal(0))
    return summary
