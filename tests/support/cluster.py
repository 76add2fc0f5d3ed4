"""Helpers for the failover tests: numbered traffic into a topic, and reading it all back.

Loss and duplication are judged on numbers: every message carries its
sequence number, so "nothing lost, nothing doubled" is "the topic holds each
acknowledged number exactly once".
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import TopicPartition

from superstore.clients import KafkaConfig
from superstore.stack.kafka import create_topics


def quiet(_: str) -> None:
    return None


def new_topic(config: KafkaConfig, partitions: int = 3) -> KafkaConfig:
    """A new lines topic (and DLQ) on the cluster, replicated as `stack up` creates them."""
    suffix = uuid.uuid4().hex[:8]
    topic = KafkaConfig(
        config.bootstrap, f"c{suffix}.lines", f"c{suffix}.lines.dlq", partitions, config.security
    )
    create_topics(topic, quiet)
    return topic


@dataclass
class Traffic:
    """Numbered messages from a thread, by the project's producer (acks=all, idempotent)."""

    config: KafkaConfig
    rate: float = 200.0
    acked: list[int] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    sent: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._producer = self.config.producer(**{"linger.ms": 5})

    def _delivered(self, err, msg) -> None:
        if err is not None:
            self.failed.append(str(err))
        else:
            self.acked.append(int(msg.value()))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sent += 1
            self._producer.produce(
                self.config.topic,
                key=f"order-{self.sent % 17}",
                value=str(self.sent).encode(),
                on_delivery=self._delivered,
            )
            self._producer.poll(0)
            time.sleep(1.0 / self.rate)

    def __enter__(self) -> Traffic:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 120.0) -> None:
        """Stop producing and wait until every message is acknowledged or failed."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        left = self._producer.flush(timeout)
        assert left == 0, f"{left} messages neither acknowledged nor failed after {timeout}s"

    def wait_acked(self, count: int, timeout: float = 90.0) -> float:
        """Wait until `count` more messages are acknowledged than now; the seconds it took."""
        started = time.monotonic()
        target = len(self.acked) + count
        wait_until(lambda: len(self.acked) >= target, timeout, f"{count} more acks")
        return time.monotonic() - started


def read_back(config: KafkaConfig, timeout: float = 60.0) -> Counter[int]:
    """Every number in the topic (read_committed, from the start up to the high watermarks)."""
    consumer = config.consumer(f"readback-{uuid.uuid4().hex[:8]}")
    try:
        meta = consumer.list_topics(config.topic, timeout=10)
        parts = [TopicPartition(config.topic, p) for p in meta.topics[config.topic].partitions]
        ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in parts}
        consumer.assign([TopicPartition(config.topic, p, 0) for p in ends])
        seen: Counter[int] = Counter()
        done = {p for p, end in ends.items() if end == 0}
        deadline = time.monotonic() + timeout
        while len(done) < len(ends):
            assert time.monotonic() < deadline, f"read back timed out at {sum(seen.values())}"
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            seen[int(msg.value())] += 1
            if msg.offset() + 1 >= ends[msg.partition()]:
                done.add(msg.partition())
        return seen
    finally:
        consumer.close()


def assert_exactly_once(traffic: Traffic, config: KafkaConfig) -> int:
    """Every send acknowledged, and the topic holds each number exactly once; the count."""
    assert not traffic.failed, f"{len(traffic.failed)} sends failed, e.g. {traffic.failed[:3]}"
    assert len(traffic.acked) == traffic.sent
    seen = read_back(config)
    doubled = [n for n, c in seen.items() if c > 1]
    missing = set(traffic.acked) - set(seen)
    assert not doubled, f"{len(doubled)} numbers twice in the topic, e.g. {doubled[:5]}"
    assert not missing, f"{len(missing)} acknowledged numbers missing, e.g. {sorted(missing)[:5]}"
    assert set(seen) == set(traffic.acked)
    return len(seen)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.2)
