"""The continuous sync's pacing: a pass per debounce, the day being written by its own cost.

The pass itself is replaced by a recorder (what a pass exports and loads is
tested on the real stack in test_continuous.py); the lock, the timing and the
loop's waiting are the real ones, against a listener that always has a fresh
notification, as under live traffic (a commit every few milliseconds).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from pathlib import Path

import psycopg
import pytest

from superstore.clients import PgConfig
from superstore.ops.sync import Syncer, SyncPass
from superstore.retry import Backoff
from superstore.settings import load_settings


class _Busy:
    """A LISTEN connection under steady traffic: a notification is always waiting."""

    def notifies(self, timeout: float, stop_after: int) -> list[object]:
        time.sleep(0.001)
        return [object()]


def _run(syncer: Syncer, seconds: float) -> None:
    backoff = Backoff(first=1.0, maximum=1.0)
    deadline = time.monotonic() + seconds
    listen = _Busy()
    retry_at = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= retry_at:
            retry_at = syncer._safe_pass(backoff)
        syncer._wait(listen, retry_at)  # type: ignore[arg-type]  # a stand-in with notifies()


@pytest.fixture
def syncer(fresh_pg: PgConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Syncer:
    settings = load_settings(
        data_dir=tmp_path, pg_dsn=fresh_pg.dsn, kafka_bootstrap="127.0.0.1:1", sync_interval=0.6
    )
    return Syncer(settings, threading.Event(), debounce=0.05)


def test_steady_traffic_makes_a_pass_per_debounce_not_per_commit(
    syncer: Syncer, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts: list[float] = []

    def record(
        self: Syncer, conn: psycopg.Connection, hot: bool, result: SyncPass, until: object
    ) -> None:
        starts.append(time.monotonic())

    monkeypatch.setattr(Syncer, "_pass", record)
    syncer.debounce = 0.3
    _run(syncer, 2.0)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert 3 <= len(starts) <= 8, starts  # ~2 s / 0.3 s, not one per notification
    assert min(gaps) >= 0.3 - 0.01, gaps


def test_the_hot_day_rides_along_when_due_and_its_cost_paces_it(
    syncer: Syncer, monkeypatch: pytest.MonkeyPatch
) -> None:
    hot_passes: list[float] = []

    def record(
        self: Syncer, conn: psycopg.Connection, hot: bool, result: SyncPass, until: object
    ) -> None:
        if hot:  # a day being written costs 0.3 s to sync: 6x that is 1.8 s between its turns
            hot_passes.append(time.monotonic())
            result.hot_seconds = 0.3
            result.exported.append(dt.date.today())

    monkeypatch.setattr(Syncer, "_pass", record)
    _run(syncer, 4.5)
    gaps = [b - a for a, b in itertools.pairwise(hot_passes)]
    assert len(hot_passes) >= 2, hot_passes
    assert min(gaps) >= 1.8 - 0.01, gaps  # its own cost, not the interval, paces it
    assert max(gaps) <= 1.8 + 0.6 + 0.3, gaps  # and it is taken at the first pass after
