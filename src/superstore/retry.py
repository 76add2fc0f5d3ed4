"""Exponential backoff, written once for every loop that waits for a service to come back.

The ingest writer waits for PostgreSQL, the supervisor restarts a crashed
component and retries a failed export or load: each asks a `Backoff` for the
next delay, and `retry` runs an action until it succeeds or the caller stops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from superstore.errors import TransientError

__all__ = ["Backoff", "Stopped", "retry", "short_reason"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Stopped(TransientError):
    """The caller asked to stop while an action was still failing."""


@dataclass
class Backoff:
    """Delays of `first` seconds, multiplied by `factor` after each failure, at most `maximum`."""

    first: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    failures: int = 0
    _next: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._next = self.first

    def next(self) -> float:
        """The delay before the next attempt; counts a failure."""
        delay = self._next
        self._next = min(delay * self.factor, self.maximum)
        self.failures += 1
        return delay

    def reset(self) -> None:
        """Back to the first delay after a success."""
        self._next = self.first
        self.failures = 0


def short_reason(exc: BaseException) -> str:
    """The first line of an error, for a log line."""
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def retry(
    action: Callable[[], T],
    *,
    transient: tuple[type[BaseException], ...],
    stop: threading.Event,
    backoff: Backoff,
    what: str = "the service",
    on_retry: Callable[[BaseException], None] | None = None,
    within: float | None = None,
) -> T:
    """Run `action` until it returns, waiting `backoff` after each `transient` failure.

    Raises `Stopped` (a TransientError) when `stop` is set while waiting; with
    `within`, the failure itself once that many seconds have passed; any other
    exception propagates at once.
    """
    deadline = None if within is None else time.monotonic() + within
    while True:
        try:
            return action()
        except transient as exc:
            if stop.is_set():
                raise Stopped(f"stopped while waiting for {what}") from exc
            if deadline is not None and time.monotonic() >= deadline:
                raise
            delay = backoff.next()
            if on_retry is not None:
                on_retry(exc)
            log.warning("%s unavailable (%s); retrying in %.1fs", what, short_reason(exc), delay)
            if stop.wait(delay):
                raise Stopped(f"stopped while waiting for {what}") from exc
