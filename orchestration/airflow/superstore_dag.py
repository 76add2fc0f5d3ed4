"""Airflow 3 DAGs for teams that already run Airflow instead of `superstore run`.

- `superstore_daily`: export -> etl of the finished day, sync_stale of every
  changed day up to it, then check.
- `superstore_sync`: sync_stale every SUPERSTORE_AIRFLOW_SYNC_MINUTES (5):
  days changed since their partition (late lines, corrections, cancellations,
  returns, in any past day) re-exported and reloaded, as `run`'s sync loop
  does within seconds. Airflow's scheduler cannot react to a change
  notification, so this is the orchestrator's freshness: minutes.

Each task runs `superstore.ops.pipeline` in superstore's OWN virtual
environment (ExternalPythonOperator), not in Airflow's. Installed together,
the two would share one version of every common library (pydantic, FastAPI,
uvicorn, rich, msgspec...): pip can co-resolve
Airflow 3.3.2 with superstore today only by holding rich and msgspec below
what Airflow alone picks, and every Airflow upgrade would silently move the
pipeline's libraries (and the reverse). With one venv per side, Airflow's
workers need none of superstore's dependencies (pyspark, duckdb, the Kafka
client), each side upgrades on its own, and a task fails on the pipeline's
code, never on an import clash. The cost is one Python start per task (about
a second), nothing next to a day's export.

Settings, all read from the environment of the Airflow processes:
- `SUPERSTORE_PYTHON`: the python of the venv where superstore is installed;
  default `.venv/bin/python` of the checkout that holds this file.
- `SUPERSTORE_AIRFLOW_SYNC_MINUTES` (5): how often `superstore_sync` runs.
- `SUPERSTORE_TIMEZONE` (UTC) and `SUPERSTORE_SCHEDULE_TIME` (00:15): the same
  settings as `superstore run`, so both agree on what "the finished day" is.
- every other `SUPERSTORE_*` setting reaches the tasks unchanged (the tasks
  inherit the worker's environment).

Which day: Airflow 3's cron schedule (CronTriggerTimetable, made explicit here
so `create_cron_data_intervals` cannot change it) gives a run the logical date
of the moment it runs: the run at 2026-01-02 00:15 has logical date
2026-01-02, and `ds` is that day, which has only begun. The day the tasks
export and load is the day before that moment in SUPERSTORE_TIMEZONE, the day
that just finished (`finished_day`). A manual run with logical date D
therefore (re)does day D-1; one without a logical date does the day before it
was triggered. Airflow creates tasks only for logical dates from the start
date on. Every step is idempotent, so retries and backfills (catchup) are
safe.

A further step is one function (imports inside: its source runs in the
superstore venv) plus one `_step(...)` in the dependency chain.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from airflow.providers.standard.operators.python import ExternalPythonOperator
from airflow.sdk import DAG, CronTriggerTimetable


def _default_python() -> str:
    """`.venv/bin/python` of the checkout this file is in (orchestration/airflow/..)."""
    here = Path(__file__).resolve()
    root = here.parents[2] if len(here.parents) > 2 else here.parent
    return str(root / ".venv" / "bin" / "python")


SUPERSTORE_PYTHON = os.environ.get("SUPERSTORE_PYTHON") or _default_python()
TIMEZONE = os.environ.get("SUPERSTORE_TIMEZONE") or "UTC"
SCHEDULE_TIME = os.environ.get("SUPERSTORE_SCHEDULE_TIME") or "00:15"
SYNC_MINUTES = int(os.environ.get("SUPERSTORE_AIRFLOW_SYNC_MINUTES") or "5")


def finished_day(dag_run: Any) -> str:
    """The day that ended before the run's moment, in TIMEZONE (ISO date).

    The moment is the logical date, or for a run triggered without one, when
    it was due (`run_after`).
    """
    moment = dag_run.logical_date or dag_run.run_after
    local = moment.astimezone(ZoneInfo(TIMEZONE))
    return (local.date() - dt.timedelta(days=1)).isoformat()


# The tasks' code: each function's source is run by SUPERSTORE_PYTHON, so it
# imports what it uses inside and refers to nothing else in this file.


def export(day: str) -> int:
    """Export the finished day from PostgreSQL to the lake; returns its lines."""
    import datetime as dt

    from superstore.ops.pipeline import export_step

    return export_step(dt.date.fromisoformat(day))


def etl(day: str) -> int:
    """Load the exported day into the star schema; returns the lines loaded."""
    import datetime as dt

    from superstore.ops.pipeline import etl_step

    return etl_step(dt.date.fromisoformat(day))


def sync_stale(day: str = "") -> int:
    """Re-export and reload the days changed since their partition; returns how many.

    In the daily run, every changed day up to the finished day (not the day
    the run is in); without a day (the sync DAG), every changed day.
    """
    import datetime as dt

    from superstore.ops.pipeline import sync_stale_step

    return sync_stale_step(dt.date.fromisoformat(day) if day else None)


def check(day: str) -> None:
    """Reconcile every layer up to the day; fails the task naming what disagrees."""
    import datetime as dt

    from superstore.ops.pipeline import check_step

    check_step(dt.date.fromisoformat(day))


def _step(callable_: Any, for_day: bool = True) -> ExternalPythonOperator:
    """A task named after `callable_`, run in superstore's venv (for the finished day)."""
    return ExternalPythonOperator(
        task_id=callable_.__name__,
        python=SUPERSTORE_PYTHON,
        python_callable=callable_,
        op_kwargs={"day": "{{ finished_day(dag_run) }}"} if for_day else {},
        expect_airflow=False,  # superstore's venv has no Airflow, on purpose
    )


_RETRIES = {
    "retries": 3,
    "retry_delay": dt.timedelta(minutes=5),
    "retry_exponential_backoff": 2.0,  # a multiplier in Airflow 3 (True = 1 = constant)
    "max_retry_delay": dt.timedelta(hours=1),
}


_hour, _minute = (int(part) for part in SCHEDULE_TIME.split(":"))

with DAG(
    dag_id="superstore_daily",
    description="Export the finished day to the lake, load the star schema, reconcile.",
    schedule=CronTriggerTimetable(f"{_minute} {_hour} * * *", timezone=TIMEZONE),
    # The first run is due at 2026-01-01 00:15 and does 2025-12-31.
    start_date=dt.datetime(2026, 1, 1, tzinfo=ZoneInfo(TIMEZONE)),
    catchup=True,
    max_active_runs=1,
    user_defined_macros={"finished_day": finished_day},
    default_args=_RETRIES,
    tags=["superstore"],
) as dag:
    _step(export) >> _step(etl) >> _step(sync_stale) >> _step(check)

with DAG(
    dag_id="superstore_sync",
    description="Re-export and reload the days that changed since their partition.",
    schedule=CronTriggerTimetable(f"*/{SYNC_MINUTES} * * * *", timezone=TIMEZONE),
    start_date=dt.datetime(2026, 1, 1, tzinfo=ZoneInfo(TIMEZONE)),
    catchup=False,  # one pass catches up every change: no backlog of runs
    max_active_runs=1,
    default_args={**_RETRIES, "retry_delay": dt.timedelta(minutes=1)},
    tags=["superstore"],
) as sync_dag:
    _step(sync_stale, for_day=False)
