"""Dead letters: rejected messages go to the DLQ topic (and, in the same
transaction as the batch, to the `rejected_lines` table).

The DLQ topic is written and flushed BEFORE the batch commits, so a crash can
at worst repeat a dead letter in the topic (each carries its source
coordinates in headers, so repeats are recognisable); the table is exact.
"""

from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import Producer

from superstore.clients import KafkaConfig
from superstore.errors import TransientError
from superstore.oltp import Reject

__all__ = ["DeadLetters"]


class DeadLetters:
    """Publishes rejects to the DLQ topic with their reason and source in headers."""

    def __init__(self, kafka: KafkaConfig, flush_timeout: float = 30.0) -> None:
        self._kafka = kafka
        self._producer: Producer | None = None
        self._flush_timeout = flush_timeout

    def send(self, rejects: Sequence[Reject]) -> None:
        """Publish and wait for acknowledgement; TransientError if the broker does not ack."""
        if not rejects:
            return
        if self._producer is None:
            self._producer = self._kafka.producer(**{"linger.ms": 5})
        failures: list[str] = []

        def on_delivery(err: object, _msg: object) -> None:
            if err is not None:
                failures.append(str(err))

        for r in rejects:
            self._producer.produce(
                self._kafka.dlq_topic,
                key=r.key,
                value=r.raw,
                headers=[
                    ("reason", r.reason.encode()),
                    ("source", f"{r.topic}/{r.partition}/{r.offset}".encode()),
                ],
                on_delivery=on_delivery,
            )
        left = self._producer.flush(self._flush_timeout)
        if left or failures:
            raise TransientError(
                f"dead-letter topic {self._kafka.dlq_topic} did not acknowledge "
                f"{left or len(failures)} message(s): {failures[:1]}"
            )

    def close(self) -> None:
        """Flush anything pending."""
        if self._producer is not None:
            self._producer.flush(5)
