"""`make demo`'s steps, run twice with real use in between, through the real CLI.

The demo must be re-runnable after the live traffic it suggests (`produce
--live`, here with cancellations and returns, plus a cancellation and a return
by hand): the second run replays the data set again, `topic stats
--expect-dataset` checks that the data set is contained in the topic (live
lines and events come on top), and `check` ends green with the live data
present.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from superstore.clients import KafkaConfig, PgConfig
from superstore.data import lines_between, load_lines
from superstore.oltp import load_lines_direct

CLI = Callable[..., CompletedProcess[str]]

DEMO = (
    ("produce", "--replay"),
    ("topic", "stats", "--expect-dataset"),
    ("ingest", "--until-idle", "3"),
    ("export", "--all"),
    ("export", "--verify", "--all"),
    ("etl", "--all"),
    ("check", "--until", "2017-12-31"),
)


@pytest.fixture
def env(fresh_kafka: KafkaConfig, fresh_pg: PgConfig, tmp_path: Path) -> dict[str, str]:
    return {
        "SUPERSTORE_TOPIC": fresh_kafka.topic,
        "SUPERSTORE_DLQ_TOPIC": fresh_kafka.dlq_topic,
        "SUPERSTORE_PG_DSN": fresh_pg.dsn,
        "SUPERSTORE_LAKE_URL": str(tmp_path / "lake"),
        "SUPERSTORE_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
    }


def _demo(cli: CLI, env: dict[str, str]) -> None:
    for step in DEMO:
        done = cli(*step, env=env, timeout=300)
        assert done.returncode == 0, f"{' '.join(step)}:\n{done.stdout}\n{done.stderr}"


@pytest.mark.timeout(900)
def test_the_demo_runs_again_after_live_use(cli: CLI, env: dict[str, str]) -> None:
    _demo(cli, env)
    live = cli("produce", "--live", "--rate", "200", "--max-lines", "300", "--seed", "5",
               "--cancel-rate", "0.2", "--return-rate", "0.2", env=env)  # fmt: skip
    assert live.returncode == 0, live.stderr
    for event in (("--cancel", "CA-2016-152156"), ("--return", "US-2015-108966")):
        done = cli("produce", *event, "--reason", "demo", env=env)
        assert done.returncode == 0, done.stderr

    _demo(cli, env)

    stats = cli("topic", "stats", "--expect-dataset", env=env)
    assert "holds all 9,994 lines of the data set, and 300 more lines" in stats.stdout, stats.stdout
    check = cli("check", "--json", env=env)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.timeout(600)
def test_stale_days_are_listed_and_processed_by_hand(
    cli: CLI, env: dict[str, str], fresh_pg: PgConfig
) -> None:
    """A correction to an exported and loaded day: `status` lists it as stale, `export
    --stale` and `etl --stale` process exactly it, and `status` then lists none."""
    day = dt.date(2016, 11, 8)
    lines = lines_between(load_lines(), day - dt.timedelta(days=2), day)
    load_lines_direct(fresh_pg, lines)
    for step in (("export", "--all"), ("etl", "--all")):
        done = cli(*step, env=env)
        assert done.returncode == 0, done.stderr
    assert "0 day(s) changed since" in cli("status", env=env).stdout
    target = next(x for x in lines if x.order_date == day)
    load_lines_direct(fresh_pg, [target.model_copy(update={"sales": Decimal("300.00")})])

    status = cli("status", env=env).stdout
    assert f"1 day(s) changed since their partition was exported: {day}" in status, status
    exported = cli("export", "--stale", env=env)
    assert exported.returncode == 0 and str(day) in exported.stdout + exported.stderr
    assert f"1 day(s) behind the lake: {day}" in cli("status", env=env).stdout
    loaded = cli("etl", "--stale", env=env)
    assert loaded.returncode == 0, loaded.stderr
    status = cli("status", env=env).stdout
    assert "0 day(s) changed since" in status and "0 day(s) behind the lake" in status, status
    again = cli("export", "--stale", env=env)
    assert again.returncode == 0 and "no stale day" in again.stdout + again.stderr
