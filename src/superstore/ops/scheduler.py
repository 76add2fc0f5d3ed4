"""Which days are due for export + ETL, given a clock: the scheduler's pure logic.

A day D is finished at `schedule_time` local time on D+1. Due days are the
finished days after the high-water mark that either had orders or fall on or
after the day the pipeline first ran (so a quiet day still gets its empty
partition, but years of history before installation do not). Catch-up after
downtime is the same rule: everything between the mark and now, in order.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

__all__ = ["Clock", "RunState", "due_days", "latest_finished_day", "system_clock"]

Clock = Callable[[], dt.datetime]  # aware datetime


def system_clock() -> dt.datetime:
    """Now, as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


def latest_finished_day(now: dt.datetime, timezone: str, schedule_time: str) -> dt.date:
    """The last day whose export is due at `now` (`schedule_time` = "HH:MM" local)."""
    hours, minutes = (int(x) for x in schedule_time.split(":"))
    local = now.astimezone(ZoneInfo(timezone))
    return (local - dt.timedelta(hours=hours, minutes=minutes)).date() - dt.timedelta(days=1)


def due_days(
    done_through: dt.date | None,
    latest_finished: dt.date,
    first_run_day: dt.date,
    days_with_orders: Iterable[dt.date],
) -> list[dt.date]:
    """Finished days after `done_through` that had orders or came after the first run."""
    start = done_through + dt.timedelta(days=1) if done_through else dt.date.min
    due = {d for d in days_with_orders if start <= d <= latest_finished}
    day = max(start, first_run_day)
    while day <= latest_finished:
        due.add(day)
        day += dt.timedelta(days=1)
    return sorted(due)


@dataclass
class RunState:
    """The scheduler's memory under the data dir: first run and high-water mark."""

    first_run_day: dt.date
    done_through: dt.date | None = None

    @classmethod
    def load(cls, path: Path, today: dt.date) -> RunState:
        """Read the state, or start one whose first run is `today`."""
        try:
            doc = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return cls(first_run_day=today)
        done = doc.get("done_through")
        return cls(
            first_run_day=dt.date.fromisoformat(doc["first_run_day"]),
            done_through=dt.date.fromisoformat(done) if done else None,
        )

    def save(self, path: Path) -> None:
        """Write atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "first_run_day": self.first_run_day.isoformat(),
                    "done_through": self.done_through.isoformat() if self.done_through else None,
                }
            )
        )
        os.replace(tmp, path)
