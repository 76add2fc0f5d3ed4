"""The Airflow DAGs parse and wire export -> etl -> sync_stale -> check, without Airflow.

Airflow is heavy and not a dependency; a minimal stand-in of the names the
DAG file imports records what the file builds, so this fast test checks the
file's own structure: tasks, dependencies, retries, schedule, which venv and
day the tasks get, and that each task calls the project's API. The same file
run by a real Airflow 3 is tests/ops/test_airflow_run.py (`make test-airflow`).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
DAG_FILE = REPO / "orchestration" / "airflow" / "superstore_dag.py"


class _Task:
    def __init__(self, task_id: str, python_callable, op_kwargs=None, **kwargs: object) -> None:
        self.task_id = task_id
        self.python_callable = python_callable
        self.op_kwargs = op_kwargs or {}
        self.kwargs = kwargs
        self.downstream: list[_Task] = []
        _DAG.current.tasks[task_id] = self

    def __rshift__(self, other: _Task) -> _Task:
        self.downstream.append(other)
        return other


class _DAG:
    current: _DAG

    def __init__(self, dag_id: str, **kwargs: object) -> None:
        self.dag_id, self.kwargs, self.tasks = dag_id, kwargs, {}

    def __enter__(self) -> _DAG:
        _DAG.current = self
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class _Cron:
    def __init__(self, cron: str, *, timezone: str) -> None:
        self.cron, self.timezone = cron, timezone


def _load(monkeypatch: pytest.MonkeyPatch, **env: str) -> types.ModuleType:
    """Execute the DAG file against the stand-ins, with `env` as the SUPERSTORE_* settings."""
    for key in ("SUPERSTORE_PYTHON", "SUPERSTORE_TIMEZONE", "SUPERSTORE_SCHEDULE_TIME",
                "SUPERSTORE_AIRFLOW_SYNC_MINUTES"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    sdk = types.ModuleType("airflow.sdk")
    sdk.DAG, sdk.CronTriggerTimetable = _DAG, _Cron  # type: ignore[attr-defined]
    python = types.ModuleType("airflow.providers.standard.operators.python")
    python.ExternalPythonOperator = _Task  # type: ignore[attr-defined]
    names = ["airflow", "airflow.providers", "airflow.providers.standard"]
    for name in [*names, "airflow.providers.standard.operators"]:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "airflow.sdk", sdk)
    monkeypatch.setitem(sys.modules, python.__name__, python)
    spec = importlib.util.spec_from_file_location("superstore_dag", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture
def dag(monkeypatch: pytest.MonkeyPatch) -> _DAG:
    return _load(monkeypatch).dag


def _run(logical: str | None, run_after: str = "2026-06-01T12:00:00+00:00") -> object:
    """A dag_run as tasks see it: an aware logical date (None for some manual runs)."""
    parse = dt.datetime.fromisoformat
    return types.SimpleNamespace(
        logical_date=parse(logical) if logical else None, run_after=parse(run_after)
    )


def test_tasks_and_dependencies(dag: _DAG) -> None:
    assert dag.dag_id == "superstore_daily"
    assert set(dag.tasks) == {"export", "etl", "sync_stale", "check"}
    assert [t.task_id for t in dag.tasks["export"].downstream] == ["etl"]
    assert [t.task_id for t in dag.tasks["etl"].downstream] == ["sync_stale"]
    assert [t.task_id for t in dag.tasks["sync_stale"].downstream] == ["check"]
    assert dag.tasks["check"].downstream == []


def test_the_sync_dag_runs_often_without_backlog(monkeypatch: pytest.MonkeyPatch) -> None:
    sync = _load(monkeypatch).sync_dag
    assert sync.dag_id == "superstore_sync" and set(sync.tasks) == {"sync_stale"}
    assert sync.kwargs["catchup"] is False and sync.kwargs["max_active_runs"] == 1
    assert sync.kwargs["schedule"].cron == "*/5 * * * *"
    task = sync.tasks["sync_stale"]
    assert task.op_kwargs == {} and "sync_stale_step" in task.python_callable.__code__.co_names
    faster = _load(monkeypatch, SUPERSTORE_AIRFLOW_SYNC_MINUTES="2").sync_dag
    assert faster.kwargs["schedule"].cron == "*/2 * * * *"


def test_retries_schedule_and_catchup(dag: _DAG) -> None:
    args = dag.kwargs["default_args"]
    assert args["retries"] >= 1
    # Airflow 3 reads it as a multiplier: True would be 1, a constant delay.
    assert args["retry_exponential_backoff"] > 1
    assert dag.kwargs["catchup"] is True and dag.kwargs["max_active_runs"] == 1
    timetable = dag.kwargs["schedule"]
    assert isinstance(timetable, _Cron)
    assert (timetable.cron, timetable.timezone) == ("15 0 * * *", "UTC")


def test_schedule_follows_the_pipeline_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load(
        monkeypatch, SUPERSTORE_TIMEZONE="Europe/Paris", SUPERSTORE_SCHEDULE_TIME="02:05"
    )
    timetable = module.dag.kwargs["schedule"]
    assert (timetable.cron, timetable.timezone) == ("5 2 * * *", "Europe/Paris")
    assert module.dag.kwargs["start_date"].tzinfo.key == "Europe/Paris"


def test_tasks_call_the_project_api_in_its_venv(dag: _DAG) -> None:
    import superstore.ops.pipeline as pipeline

    steps = [("export", "export_step"), ("etl", "etl_step"), ("sync_stale", "sync_stale_step"),
             ("check", "check_step")]  # fmt: skip
    for task_id, fn in steps:
        task = dag.tasks[task_id]
        assert task.op_kwargs == {"day": "{{ finished_day(dag_run) }}"}
        assert task.kwargs["python"] == str(REPO / ".venv" / "bin" / "python")
        assert task.kwargs["expect_airflow"] is False
        assert fn in task.python_callable.__code__.co_names
        assert callable(getattr(pipeline, fn))


def test_venv_python_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load(monkeypatch, SUPERSTORE_PYTHON="/opt/superstore/.venv/bin/python")
    assert {t.kwargs["python"] for t in module.dag.tasks.values()} == {
        "/opt/superstore/.venv/bin/python"
    }


def test_a_run_does_the_day_that_just_finished(monkeypatch: pytest.MonkeyPatch) -> None:
    utc = _load(monkeypatch).finished_day
    assert utc(_run("2026-01-02T00:15:00+00:00")) == "2026-01-01"
    assert utc(_run(None, run_after="2026-01-02T09:30:00+00:00")) == "2026-01-01"
    # 00:15 in Paris is 23:15 UTC the evening before: the day is Paris's.
    paris = _load(monkeypatch, SUPERSTORE_TIMEZONE="Europe/Paris").finished_day
    assert paris(_run("2026-01-01T23:15:00+00:00")) == "2026-01-01"
    assert utc(_run("2026-01-01T23:15:00+00:00")) == "2025-12-31"
