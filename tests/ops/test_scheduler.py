"""Scheduler logic with a controllable clock: day boundaries, catch-up, quiet days."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from superstore.ops.scheduler import RunState, due_days, latest_finished_day

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_day_boundary_passes_at_schedule_time() -> None:
    before = latest_finished_day(at("2026-11-25T00:14:59"), "UTC", "00:15")
    after = latest_finished_day(at("2026-11-25T00:15:00"), "UTC", "00:15")
    assert before == dt.date(2026, 11, 23)
    assert after == dt.date(2026, 11, 24)


def test_time_zone_decides_the_day() -> None:
    # 23:30 UTC on the 24th is already 00:30 on the 25th in Paris (UTC+1 in November).
    now = at("2026-11-24T23:30:00")
    assert latest_finished_day(now, "UTC", "00:15") == dt.date(2026, 11, 23)
    assert latest_finished_day(now, "Europe/Paris", "00:15") == dt.date(2026, 11, 24)


def test_catch_up_after_downtime_runs_missed_days_in_order() -> None:
    first = dt.date(2026, 11, 20)
    due = due_days(dt.date(2026, 11, 21), dt.date(2026, 11, 24), first, [])
    assert due == [dt.date(2026, 11, 22), dt.date(2026, 11, 23), dt.date(2026, 11, 24)]
    assert due_days(dt.date(2026, 11, 24), dt.date(2026, 11, 24), first, []) == []


def test_history_before_first_run_only_where_there_were_orders() -> None:
    history = [dt.date(2017, 12, 29), dt.date(2017, 12, 30)]
    due = due_days(None, dt.date(2026, 11, 24), dt.date(2026, 11, 24), history)
    assert due == [*history, dt.date(2026, 11, 24)]


def test_state_survives_restarts(tmp_path: Path) -> None:
    path = tmp_path / "run_state.json"
    state = RunState.load(path, dt.date(2026, 11, 25))
    assert state.done_through is None
    state.done_through = dt.date(2026, 11, 24)
    state.save(path)
    again = RunState.load(path, dt.date(2030, 1, 1))
    assert again == RunState(dt.date(2026, 11, 25), dt.date(2026, 11, 24))
