"""The DAG file run by a real Airflow 3 (`airflow dags test`) against the session stack.

Marker `airflow` (`make test-airflow`, which builds the Airflow venv first with
`make airflow-deps`): the `airflow` CLI of that venv, with a SQLite metadata DB
in a temporary AIRFLOW_HOME, parses orchestration/airflow and runs the DAG's
tasks in superstore's venv (this interpreter), with the pipeline's settings in
the environment as a worker would have them.

Airflow creates a run's tasks only when its logical date is on or after the
DAG's start date (2026-01-01), and the data set ends in 2017, so two days of
the data set are re-dated to DAY and the day after it. The logical date under
test is not written here: the DAG's own timetable says when the run for DAY is
due, as the scheduler would, and that run must export and load DAY itself,
the day that just finished, and nothing of the day it runs in.

`dags test` runs the tasks inside its own process, with no scheduler or executor;
the operator inside starts superstore's python as it does on a worker. Every
run gets `retries = 0` from a cluster policy (airflow_local_settings.py
in AIRFLOW_HOME/config): with the DAG's 3 retries, `dags test` would wait out
the retry delays of a failing task.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from superstore.check.layers import DayTotals, warehouse_layer
from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import OrderLine
from superstore.data import dataset_stats, lines_between, load_lines
from superstore.export import list_partitions, verify_day
from superstore.oltp import load_lines_direct
from superstore.produce import produce_records, to_records
from superstore.settings import Settings, load_settings
from superstore.storage import LakeConfig
from superstore.warehouse import warehouse_config

pytestmark = pytest.mark.airflow

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "orchestration" / "airflow"
DAG_ID = "superstore_daily"
DAY = dt.date(2026, 3, 14)  # the finished day the run must do
SOURCES = {DAY: dt.date(2017, 12, 1), DAY + dt.timedelta(days=1): dt.date(2017, 12, 2)}
TIMEOUT = 240

_POLICY = '''"""Test-only cluster policy: no retries, so `airflow dags test` fails at once."""


def task_policy(task):
    task.retries = 0
'''

# Asks the DAG's timetable, as the scheduler does, for the first run due at or
# after `argv[2]` (when a day ends): prints its logical date and run_after.
_NEXT_RUN = """
import datetime as dt, json, runpy, sys
from airflow.serialization.encoders import coerce_to_core_timetable
from airflow.timetables.base import TimeRestriction

dag = runpy.run_path(sys.argv[1])["dag"]
earliest = dt.datetime.fromisoformat(sys.argv[2])
info = coerce_to_core_timetable(dag.timetable).next_dagrun_info(
    last_automated_data_interval=None,
    restriction=TimeRestriction(earliest=earliest, latest=None, catchup=True),
)
print(json.dumps({"logical_date": info.logical_date.isoformat(),
                  "run_after": info.run_after.isoformat()}))
"""


@pytest.fixture(scope="session")
def airflow_bin() -> Path:
    """bin/ of the Airflow venv that `make airflow-deps` builds."""
    venv = Path(os.environ.get("AIRFLOW_VENV", ".venv-airflow"))
    venv = venv if venv.is_absolute() else REPO / venv
    if not (venv / "bin" / "airflow").exists():
        pytest.fail(f"no Airflow venv at {venv}: run `make airflow-deps` (or `make test-airflow`)")
    return venv / "bin"


def _airflow_env(home: Path) -> dict[str, str]:
    """Environment of an Airflow whose home is `home`: SQLite DB there, DAGs = the repo's."""
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "SUPERSTORE_PYTHON": sys.executable,
    }


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory, airflow_bin: Path) -> Path:
    """A metadata DB after `airflow db migrate`, done once; each test runs on a copy."""
    home = tmp_path_factory.mktemp("airflow_template")
    _airflow(airflow_bin, _airflow_env(home), "db", "migrate")
    return home / "airflow.db"


@pytest.fixture
def airflow_env(tmp_path: Path, migrated_db: Path) -> dict[str, str]:
    """A fresh Airflow for one test: its own home, metadata DB and the no-retry policy."""
    home = tmp_path / "airflow"
    (home / "config").mkdir(parents=True)
    (home / "config" / "airflow_local_settings.py").write_text(_POLICY)
    shutil.copy(migrated_db, home / "airflow.db")
    return _airflow_env(home)


def _airflow(bin_dir: Path, env: dict[str, str], *args: str, check: bool = True):
    done = subprocess.run(
        [str(bin_dir / "airflow"), *args],
        env=env,
        cwd=env["AIRFLOW_HOME"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    if check and done.returncode != 0:
        pytest.fail(f"airflow {' '.join(args)} exited {done.returncode}:\n{_tail(done)}")
    return done


def _text(done: subprocess.CompletedProcess[str]) -> str:
    """Everything a command printed (Airflow logs the tasks' output there)."""
    return f"{done.stdout}\n{done.stderr}"


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    """The end of it, for a failed assertion's message."""
    return _text(done)[-6000:]


def _last_json(text: str) -> object:
    """The CLI's JSON answer: its last line (warnings may be logged to stdout before it)."""
    return json.loads(text.strip().splitlines()[-1])


def _redated(source: dt.date, day: dt.date) -> list[OrderLine]:
    """The data set's lines of `source`, moved to `day` (ship dates keep their lag)."""
    shift = day - source
    return [
        line.model_copy(update={"order_date": day, "ship_date": line.ship_date + shift})
        for line in lines_between(load_lines(), source, source)
    ]


@pytest.fixture(scope="module")
def days() -> dict[dt.date, list[OrderLine]]:
    """DAY and the day after it, each a re-dated day of the data set."""
    return {day: _redated(source, day) for day, source in SOURCES.items()}


def _pipeline(
    stack: Settings, kafka: KafkaConfig, pg: PgConfig, tmp_path: Path, **more: str
) -> dict[str, str]:
    """SUPERSTORE_* settings for one test: the session stack, its own topic, DB, lake, warehouse."""
    return {
        "SUPERSTORE_DATA_DIR": str(stack.data_dir),
        "SUPERSTORE_TOPIC": kafka.topic,
        "SUPERSTORE_DLQ_TOPIC": kafka.dlq_topic,
        "SUPERSTORE_PG_DSN": pg.dsn,
        "SUPERSTORE_LAKE_URL": str(tmp_path / "lake"),
        "SUPERSTORE_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        **more,
    }


def _settings(pipeline: dict[str, str]) -> Settings:
    return load_settings(**{k.removeprefix("SUPERSTORE_").lower(): v for k, v in pipeline.items()})


def _run_for_day(airflow_bin: Path, env: dict[str, str], day: dt.date) -> str:
    """Logical date of the run the DAG's schedule makes once `day` is over."""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
    done = subprocess.run(
        [str(airflow_bin / "python"), "-c", _NEXT_RUN, str(DAGS / "superstore_dag.py"),
         end.isoformat()],
        env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, _tail(done)
    run = _last_json(done.stdout)
    assert run["logical_date"] == run["run_after"], "Airflow 3: logical date = when it runs"
    return run["logical_date"]


def _dags_test(airflow_bin: Path, env: dict[str, str], logical_date: str, dag_id: str = DAG_ID):
    """`airflow dags test` of a DAG, then the state of each of its tasks in that run."""
    done = _airflow(airflow_bin, env, "dags", "test", dag_id, logical_date, check=False)
    states = _airflow(airflow_bin, env, "tasks", "states-for-dag-run", dag_id, logical_date,
                      "-o", "json")  # fmt: skip
    return done, {t["task_id"]: t["state"] for t in _last_json(states.stdout)}  # type: ignore[union-attr]


def _into_kafka_and_pg(kafka: KafkaConfig, pg: PgConfig, kafka_lines, pg_lines) -> None:
    result = produce_records(kafka, to_records(kafka_lines))
    assert result.sent == len(kafka_lines) and not result.failed
    load_lines_direct(pg, pg_lines)


def test_scheduled_run_exports_and_loads_the_finished_day(
    airflow_bin: Path, airflow_env: dict[str, str], stack_settings: Settings,
    fresh_kafka: KafkaConfig, fresh_pg: PgConfig, days: dict, tmp_path: Path,
) -> None:  # fmt: skip
    every_line = [line for lines in days.values() for line in lines]
    _into_kafka_and_pg(fresh_kafka, fresh_pg, every_line, every_line)
    pipeline = _pipeline(stack_settings, fresh_kafka, fresh_pg, tmp_path)
    env = {**airflow_env, **pipeline}

    logical_date = _run_for_day(airflow_bin, env, DAY)
    assert logical_date.startswith((DAY + dt.timedelta(days=1)).isoformat())
    done, states = _dags_test(airflow_bin, env, logical_date)

    assert done.returncode == 0, _tail(done)
    assert states == {"export": "success", "etl": "success", "sync_stale": "success",
                      "check": "success"}, _tail(done)  # fmt: skip
    settings = _settings(pipeline)
    lake = LakeConfig.from_settings(settings)
    assert list_partitions(lake) == [DAY], "only the finished day, not the day the run is in"
    expected = dataset_stats(days[DAY])
    manifest = verify_day(lake, DAY)
    assert (manifest.lines, manifest.orders, manifest.sales) == (
        expected.lines, expected.orders, expected.sales,
    )  # fmt: skip
    with warehouse_config(settings).open() as warehouse:
        facts = warehouse_layer(warehouse)
    assert facts.days == {DAY: DayTotals(expected.lines, expected.orders, expected.sales)}
    assert expected.sales > Decimal(0) and not facts.notes


def test_disagreeing_layers_fail_the_check_task(
    airflow_bin: Path, airflow_env: dict[str, str], stack_settings: Settings,
    fresh_kafka: KafkaConfig, fresh_pg: PgConfig, days: dict, tmp_path: Path,
) -> None:  # fmt: skip
    lines = days[DAY]
    _into_kafka_and_pg(fresh_kafka, fresh_pg, lines, lines[1:])  # one line never reached PG
    env = {**airflow_env, **_pipeline(stack_settings, fresh_kafka, fresh_pg, tmp_path)}

    done, states = _dags_test(airflow_bin, env, _run_for_day(airflow_bin, env, DAY))

    assert done.returncode != 0 and "DagRun failed" in _text(done), _tail(done)
    assert states == {"export": "success", "etl": "success", "sync_stale": "success",
                      "check": "failed"}, _tail(done)  # fmt: skip
    expected = f"{DAY}: kafka has {len(lines)} lines"
    assert "reconciliation failed" in _text(done) and expected in _text(done)


def test_failed_export_stops_the_run(
    airflow_bin: Path, airflow_env: dict[str, str], stack_settings: Settings,
    fresh_kafka: KafkaConfig, tmp_path: Path,
) -> None:  # fmt: skip
    nowhere = PgConfig("postgresql://superstore@127.0.0.1:1/superstore?connect_timeout=2")
    env = {**airflow_env, **_pipeline(stack_settings, fresh_kafka, nowhere, tmp_path)}

    done, states = _dags_test(airflow_bin, env, _run_for_day(airflow_bin, env, DAY))

    assert done.returncode != 0, _tail(done)
    skipped = {"etl", "sync_stale", "check"}
    assert states == {"export": "failed"} | dict.fromkeys(skipped, "upstream_failed"), _tail(done)
    assert "PostgreSQL at" in _text(done) and "is unreachable" in _text(done)
    assert not (tmp_path / "lake").exists(), "export wrote nothing"
    assert not (tmp_path / "warehouse.duckdb").exists(), "etl never ran"


def _corrected(line: OrderLine, sales: str) -> OrderLine:
    return line.model_copy(update={"sales": Decimal(sales)})


def test_days_changed_after_their_export_are_synced(
    airflow_bin: Path, airflow_env: dict[str, str], stack_settings: Settings,
    fresh_kafka: KafkaConfig, fresh_pg: PgConfig, days: dict, tmp_path: Path,
) -> None:  # fmt: skip
    """A correction and a late line for an exported day: the daily run's sync_stale
    task re-exports and reloads it before the check, and the sync DAG alone does
    the same for a change made after that."""
    early = DAY - dt.timedelta(days=30)
    past = _redated(dt.date(2017, 11, 3), early)
    _into_kafka_and_pg(fresh_kafka, fresh_pg, past, past)
    pipeline = _pipeline(stack_settings, fresh_kafka, fresh_pg, tmp_path)
    settings = _settings(pipeline)
    from superstore.ops.pipeline import etl_step, export_step

    export_step(early, settings)
    etl_step(early, settings)
    correction = _corrected(past[0], "300.00")
    late = past[1].model_copy(update={"line_number": 99, "row_id": 99_999})
    _into_kafka_and_pg(fresh_kafka, fresh_pg, [correction, late, *days[DAY]],
                       [correction, late, *days[DAY]])  # fmt: skip
    env = {**airflow_env, **pipeline}

    done, states = _dags_test(airflow_bin, env, _run_for_day(airflow_bin, env, DAY))

    assert done.returncode == 0, _tail(done)
    assert states["sync_stale"] == "success" and states["check"] == "success", _tail(done)
    expected = dataset_stats([correction, late, *past[1:]])
    manifest = verify_day(LakeConfig.from_settings(settings), early)
    assert (manifest.lines, manifest.sales) == (expected.lines, expected.sales)
    with warehouse_config(settings).open() as warehouse:
        facts = warehouse_layer(warehouse)
    assert (facts.days[early].lines, facts.days[early].sales) == (expected.lines, expected.sales)

    again = _corrected(past[0], "12.34")
    _into_kafka_and_pg(fresh_kafka, fresh_pg, [again], [again])
    sync_run = dt.datetime.combine(DAY + dt.timedelta(days=2), dt.time(9, 5), dt.UTC)
    done, states = _dags_test(airflow_bin, env, sync_run.isoformat(), dag_id="superstore_sync")

    assert done.returncode == 0 and states == {"sync_stale": "success"}, _tail(done)
    expected = dataset_stats([again, late, *past[1:]])
    assert verify_day(LakeConfig.from_settings(settings), early).sales == expected.sales
    with warehouse_config(settings).open() as warehouse:
        assert warehouse_layer(warehouse).days[early].sales == expected.sales
