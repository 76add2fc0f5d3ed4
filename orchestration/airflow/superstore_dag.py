"""Airflow DAG for teams that already run Airflow: daily export -> etl -> check.

Copy this file into your DAGs folder on workers that have `superstore`
installed (`pip install superstore[s3]`) and the pipeline's settings in their
environment (SUPERSTORE_PG_DSN, SUPERSTORE_LAKE_URL, SUPERSTORE_WAREHOUSE...,
see the README). Airflow is not a dependency of superstore: `superstore run`
does the same scheduling on its own.

The logical date `ds` of a daily run is the day that just finished, which is
exactly the day to export and load. Every step is idempotent, so Airflow's
retries and backfills (catchup) are safe.
"""

from __future__ import annotations

import datetime as dt

from airflow import DAG
from airflow.operators.python import PythonOperator


def _export(ds: str) -> None:
    from superstore.ops.pipeline import export_step

    export_step(dt.date.fromisoformat(ds))


def _etl(ds: str) -> None:
    from superstore.ops.pipeline import etl_step

    etl_step(dt.date.fromisoformat(ds))


def _check(ds: str) -> None:
    from superstore.ops.pipeline import check_step

    check_step(dt.date.fromisoformat(ds))


with DAG(
    dag_id="superstore_daily",
    description="Export the finished day to the lake, load the star schema, reconcile.",
    schedule="15 0 * * *",  # 00:15 every day, in the DAG's time zone
    start_date=dt.datetime(2026, 1, 1),
    catchup=True,
    max_active_runs=1,
    default_args={
        "retries": 3,
        "retry_delay": dt.timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "max_retry_delay": dt.timedelta(hours=1),
    },
    tags=["superstore"],
) as dag:
    export = PythonOperator(task_id="export", python_callable=_export, op_kwargs={"ds": "{{ ds }}"})
    etl = PythonOperator(task_id="etl", python_callable=_etl, op_kwargs={"ds": "{{ ds }}"})
    check = PythonOperator(task_id="check", python_callable=_check, op_kwargs={"ds": "{{ ds }}"})
    export >> etl >> check
