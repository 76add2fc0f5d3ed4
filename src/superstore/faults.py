"""Deterministic crash points, for fault-injection tests only.

`SUPERSTORE_CRASH_AT=after_commit:3` makes the process SIGKILL itself the
3rd time it reaches the point named `after_commit`. Unset (always, outside
tests), `crash_point` is one dictionary lookup and does nothing.

Points on the ingest path, in the order a batch reaches them:
- `before_commit`: the batch and offsets are written, the transaction is not committed.
- `after_commit`: PostgreSQL committed; dead letters not flushed, Kafka not told.
- `after_kafka_commit`: the courtesy offset commit to Kafka was sent.

Points on the sync path (export, then load):
- `lake_after_publish`: a partition is published, its mark not yet recorded.
- `sync_after_export`: the changed days are exported, none loaded.
- `warehouse_before_commit`: a load is merged and checked, not committed.
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_ENV", "crash_point"]

CRASH_ENV = "SUPERSTORE_CRASH_AT"
_seen: dict[str, int] = {}


def _target() -> tuple[str, int] | None:
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return None
    name, _, nth = spec.partition(":")
    return name, int(nth or 1)


def crash_point(name: str) -> None:
    """SIGKILL this process if `SUPERSTORE_CRASH_AT` names this point and count."""
    target = _target()
    if target is None or target[0] != name:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] >= target[1]:
        os.kill(os.getpid(), signal.SIGKILL)
