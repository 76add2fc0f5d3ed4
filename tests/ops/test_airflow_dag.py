"""The Airflow DAG parses and wires export -> etl -> check, without installing Airflow.

Airflow is heavy and not a dependency; a minimal stand-in of the three names
the DAG file uses records what the file builds, so the test checks the file's
own structure: tasks, dependencies, retries, schedule, and that each task
calls the project's API.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest

DAG_FILE = Path(__file__).parents[2] / "orchestration" / "airflow" / "superstore_dag.py"


class _Task:
    def __init__(self, task_id: str, python_callable, op_kwargs=None, **_: object) -> None:
        self.task_id = task_id
        self.python_callable = python_callable
        self.op_kwargs = op_kwargs or {}
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


@pytest.fixture
def dag(monkeypatch: pytest.MonkeyPatch) -> _DAG:
    airflow = types.ModuleType("airflow")
    airflow.DAG = _DAG  # type: ignore[attr-defined]
    operators = types.ModuleType("airflow.operators")
    python = types.ModuleType("airflow.operators.python")
    python.PythonOperator = _Task  # type: ignore[attr-defined]
    for name, module in [
        ("airflow", airflow),
        ("airflow.operators", operators),
        ("airflow.operators.python", python),
    ]:
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("superstore_dag", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.dag


def test_tasks_and_dependencies(dag: _DAG) -> None:
    assert dag.dag_id == "superstore_daily"
    assert set(dag.tasks) == {"export", "etl", "check"}
    assert [t.task_id for t in dag.tasks["export"].downstream] == ["etl"]
    assert [t.task_id for t in dag.tasks["etl"].downstream] == ["check"]
    assert dag.tasks["check"].downstream == []


def test_retries_schedule_and_catchup(dag: _DAG) -> None:
    assert dag.kwargs["default_args"]["retries"] >= 1
    assert dag.kwargs["catchup"] is True and dag.kwargs["max_active_runs"] == 1
    assert dag.kwargs["schedule"] == "15 0 * * *"


def test_tasks_call_the_project_api(dag: _DAG) -> None:
    import superstore.ops.pipeline as pipeline

    for task_id, fn in [("export", "export_step"), ("etl", "etl_step"), ("check", "check_step")]:
        task = dag.tasks[task_id]
        assert task.op_kwargs == {"ds": "{{ ds }}"}
        assert fn in task.python_callable.__code__.co_names
        assert callable(getattr(pipeline, fn))
