"""Publishing order lines to Kafka with an idempotent, acks=all producer."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from superstore.clients import KafkaConfig
from superstore.contract import OrderLine, encode_line
from superstore.errors import TransientError

__all__ = ["ProduceResult", "Record", "produce_records", "to_records"]

# A record is (key, value): value is raw bytes so malformed test messages fit too.
Record = tuple[str, bytes]
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ProduceResult:
    """What a produce run delivered; `failed` > 0 means the run must be reported as failed."""

    sent: int
    failed: int
    seconds: float
    first_error: str | None = None

    @property
    def rate(self) -> float:
        """Delivered messages per second."""
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def to_records(lines: Iterable[OrderLine]) -> Iterable[Record]:
    """Key each line by its order id, so an order's lines share a partition."""
    for line in lines:
        yield line.order_id, encode_line(line)


def produce_records(
    config: KafkaConfig,
    records: Iterable[Record],
    on_progress: Progress | None = None,
    flush_timeout: float = 120.0,
) -> ProduceResult:
    """Send every record and wait for each acknowledgement.

    Delivery errors are counted, not swallowed: the result says how many failed
    and the first reason, and the caller exits non-zero.
    """
    producer = config.producer()
    delivered = failed = 0
    first_error: list[str] = []

    def on_delivery(err: object, _msg: object) -> None:
        nonlocal delivered, failed
        if err is None:
            delivered += 1
        else:
            failed += 1
            if not first_error:
                first_error.append(str(err))

    started = time.monotonic()
    reported = 0
    for key, value in records:
        while True:
            try:
                producer.produce(config.topic, key=key, value=value, on_delivery=on_delivery)
                break
            except BufferError:  # local queue full: let deliveries drain
                producer.poll(0.05)
        producer.poll(0)
        if on_progress and delivered - reported >= 500:
            on_progress(delivered - reported)
            reported = delivered
    remaining = producer.flush(flush_timeout)
    if on_progress and delivered > reported:
        on_progress(delivered - reported)
    if remaining:
        raise TransientError(
            f"{remaining} messages still unacknowledged after {flush_timeout:.0f}s",
            hint=f"is Kafka at {config.bootstrap} reachable?",
        )
    return ProduceResult(
        sent=delivered,
        failed=failed,
        seconds=time.monotonic() - started,
        first_error=first_error[0] if first_error else None,
    )
