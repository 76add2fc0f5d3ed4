"""`superstore run` in continuous operation: changes to past days reach every layer by themselves.

A real `run` process (ingest + continuous sync, no web server) on the session
broker and PostgreSQL, with its own topic, database, lake and warehouse. A
month of history is produced and synced; then, while it runs, a correction and
a late line for a past day, a cancellation and a partial return. Within the
freshness bound every layer must hold exactly the figures computed here, by
hand, from what was produced, and `check` must be green.

The kill -9 variants (marker `faults`) crash `run` at each crash point of the
sync path (after a partition is published and before its mark is recorded,
after the export and before the load, inside the warehouse transaction before
its commit): every partition left must verify (the old one or the new one),
and a new `run` converges to the same exact figures.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from superstore.check import run_check
from superstore.check.layers import DayTotals, lake_layer, postgres_layer, warehouse_layer
from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import OrderEvent, OrderLine, encode_event
from superstore.data import lines_between, load_lines
from superstore.export import list_partitions, verify_day
from superstore.faults import CRASH_ENV
from superstore.oltp.migrate import migrations
from superstore.produce import produce_records, to_records
from superstore.settings import Settings, load_settings
from superstore.stack import pg_config
from superstore.stack.state import read_state
from superstore.storage import LakeConfig
from superstore.warehouse import warehouse_config

FIRST, LAST = dt.date(2016, 11, 1), dt.date(2016, 11, 30)
CORRECTED_DAY = dt.date(2016, 11, 8)
# Seconds from producing the changes to every layer holding them: the p99
# target is 10 s; a loaded 2-core CI machine gets a margin (the bench measures p99).
FRESHNESS = 30.0
SETTLE = 120.0  # the first sync of the month's history


def _day_totals(lines: list[OrderLine], cancelled: set[str], returned: dict) -> DayTotals:
    """A day's figures by the documented rules, computed here independently."""
    sales = sum((x.sales for x in lines), Decimal(0))
    gone = [x for x in lines if x.order_id in cancelled]
    back = {
        (x.order_id, x.line_number): x
        for x in lines
        if (x.order_id, x.line_number) in returned and x.order_id not in cancelled
    }
    back_sales = Decimal(0)
    for key, line in back.items():
        quantity = returned[key]
        share = line.sales if quantity is None else line.sales * quantity / line.quantity
        back_sales += share.quantize(Decimal("0.0001"), ROUND_HALF_UP)
    return DayTotals(
        lines=len(lines),
        orders=len({x.order_id for x in lines}),
        sales=sales,
        cancelled_lines=len(gone),
        cancelled_sales=sum((x.sales for x in gone), Decimal(0)),
        returned_lines=len(back),
        returned_sales=back_sales,
    )


class Scenario:
    """The month, the changes made to it, and the figures every layer must then hold."""

    def __init__(self) -> None:
        self.history = lines_between(load_lines(), FIRST, LAST)
        by_day: dict[dt.date, list[OrderLine]] = {}
        for line in self.history:
            by_day.setdefault(line.order_date, []).append(line)
        self.by_day = by_day
        day = by_day[CORRECTED_DAY]
        self.correction = day[0].model_copy(update={"sales": Decimal("300.00")})
        self.late = day[0].model_copy(update={"line_number": 40, "row_id": None,
                                              "sales": Decimal("12.3456")})  # fmt: skip
        orders: dict[str, list[OrderLine]] = {}
        for line in self.history:
            orders.setdefault(line.order_id, []).append(line)
        multi = [o for o in orders.values() if len(o) >= 2 and o[0].order_date != CORRECTED_DAY]
        self.cancelled_order = multi[0]
        self.returned_order = next(o for o in multi[1:] if (o[0].quantity or 0) >= 2)
        self.at = dt.datetime(2016, 12, 1, 9, 0, tzinfo=dt.UTC)

    def changes(self) -> tuple[list[OrderLine], list[OrderEvent]]:
        returned_line = self.returned_order[0]
        events = [
            OrderEvent(event="order_cancelled", order_id=self.cancelled_order[0].order_id,
                       event_time=self.at, reason="customer request"),
            OrderEvent.model_validate({
                "event": "order_returned", "order_id": returned_line.order_id,
                "event_time": self.at, "lines": [{"line_number": returned_line.line_number,
                                                  "quantity": 1}],
            }),
        ]  # fmt: skip
        return [self.correction, self.late], events

    def expected(self, changed: bool) -> dict[dt.date, DayTotals]:
        out = {}
        for day, lines in self.by_day.items():
            cancelled: set[str] = set()
            returned: dict[tuple[str, int], int | None] = {}
            if changed:
                if day == CORRECTED_DAY:
                    lines = [self.correction, *lines[1:], self.late]
                cancelled = {self.cancelled_order[0].order_id}
                r = self.returned_order[0]
                returned = {(r.order_id, r.line_number): 1}
            out[day] = _day_totals(lines, cancelled, returned)
        return out


def produce(
    kafka: KafkaConfig, lines: list[OrderLine], events: tuple[OrderEvent, ...] | list = ()
) -> None:
    records = [*to_records(lines), *((e.order_id, encode_event(e)) for e in events)]
    result = produce_records(kafka, records)
    assert result.sent == len(records) and not result.failed


class RunProcess:
    """`superstore run --no-serve` on this test's topic, database and data directory."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "superstore", "run", "--no-serve", "--metrics-port", "0"],
                env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def pipeline(
    fresh_kafka: KafkaConfig, fresh_pg: PgConfig, tmp_path: Path
) -> Iterator[tuple[Settings, Callable[..., RunProcess]]]:
    """Settings of this test's pipeline, and a way to start `run` on it (stopped at the end)."""
    data_dir = tmp_path / "pipeline"
    env = {
        **os.environ,
        "SUPERSTORE_DATA_DIR": str(data_dir),
        "SUPERSTORE_KAFKA_BOOTSTRAP": fresh_kafka.bootstrap,
        "SUPERSTORE_TOPIC": fresh_kafka.topic,
        "SUPERSTORE_DLQ_TOPIC": fresh_kafka.dlq_topic,
        "SUPERSTORE_PG_DSN": fresh_pg.dsn,
    }
    settings = load_settings(
        data_dir=data_dir, kafka_bootstrap=fresh_kafka.bootstrap, topic=fresh_kafka.topic,
        dlq_topic=fresh_kafka.dlq_topic, pg_dsn=fresh_pg.dsn,
    )  # fmt: skip
    started: list[RunProcess] = []

    def start(**more: str) -> RunProcess:
        started.append(RunProcess({**env, **more}, tmp_path / f"run-{len(started) + 1}.log"))
        return started[-1]

    yield settings, start
    for run in started:
        run.stop()


def layers_hold(settings: Settings, expected: dict[dt.date, DayTotals]) -> list[str]:
    """What differs from `expected` in PostgreSQL, the lake and the warehouse (empty: all agree)."""
    found = [postgres_layer(pg_config(settings)), lake_layer(LakeConfig.from_settings(settings))]
    with warehouse_config(settings).open() as warehouse:
        found.append(warehouse_layer(warehouse))
    return [
        f"{layer.name} {day}: {layer.days.get(day)} != {want}"
        for layer in found
        for day, want in expected.items()
        if layer.days.get(day) != want
    ]


def _schema_current(conn: psycopg.Connection) -> bool:
    """Every migration applied (one transaction each): polls before that would log ERRORs."""
    latest = max(version for version, _, _ in migrations())
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,):
        return False
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return row is not None and row[0] >= latest


def wait_for(settings: Settings, expected: dict, within: float, run: RunProcess) -> float:
    """Seconds until every layer holds `expected` and `check` is green."""
    started = time.monotonic()
    wrong: list[str] = ["not looked yet"]
    with pg_config(settings).connect(autocommit=True) as conn:  # no ERROR from our own polls
        while not _schema_current(conn):
            assert time.monotonic() - started < within, "run never created the schema"
            time.sleep(0.2)
    while time.monotonic() - started < within:
        assert run.proc.poll() is None, f"run exited {run.proc.returncode}:\n{run.output()}"
        try:
            wrong = layers_hold(settings, expected)
        except Exception as exc:  # a layer not there yet (no warehouse file before the first load)
            wrong = [f"{type(exc).__name__}: {exc}"]
        if not wrong:
            report = run_check(settings, until=LAST)
            if report.ok:
                return time.monotonic() - started
            wrong = [d.describe() for d in report.differences[:3]] + report.problems
        time.sleep(0.2)
    pytest.fail(f"not converged in {within:.0f}s: {wrong[:4]}\n{run.output()}")


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario()


def test_changes_to_past_days_reach_every_layer_within_seconds(
    pipeline: tuple[Settings, Callable[..., RunProcess]], fresh_kafka: KafkaConfig,
    scenario: Scenario, stack_settings: Settings,
) -> None:  # fmt: skip
    settings, start = pipeline
    produce(fresh_kafka, scenario.history)
    run = start()
    wait_for(settings, scenario.expected(changed=False), SETTLE, run)

    lines, events = scenario.changes()
    produce(fresh_kafka, lines, events)
    seconds = wait_for(settings, scenario.expected(changed=True), FRESHNESS, run)

    print(f"correction, late line, cancellation and return in every layer after {seconds:.1f}s")
    run.stop()
    assert run.proc.returncode == 0, run.output()
    assert "ERROR" not in run.output(), run.output()
    errors = postgres_errors(stack_settings, settings)
    assert not errors, f"normal operation left ERROR lines in postgres.log: {errors[:5]}"


def postgres_errors(stack: Settings, settings: Settings) -> list[str]:
    """ERROR lines the session's PostgreSQL logged for this test's database."""
    state = read_state(stack.data_dir)
    assert state is not None and state.postgres is not None and state.postgres.log
    database = conninfo_to_dict(pg_config(settings).dsn)["dbname"]
    lines = Path(state.postgres.log).read_text(errors="replace").splitlines()
    return [x for x in lines if f"@{database} " in x and " ERROR: " in x]


@pytest.mark.faults
@pytest.mark.parametrize(
    "crash", ["lake_after_publish:2", "sync_after_export:1", "warehouse_before_commit:1"]
)
def test_kill_9_mid_sync_leaves_old_or_new_and_converges(
    pipeline: tuple[Settings, Callable[..., RunProcess]], fresh_kafka: KafkaConfig,
    scenario: Scenario, crash: str,
) -> None:  # fmt: skip
    settings, start = pipeline
    produce(fresh_kafka, scenario.history)
    first = start()
    wait_for(settings, scenario.expected(changed=False), SETTLE, first)
    first.stop()

    crashing = start(**{CRASH_ENV: crash})
    lines, events = scenario.changes()
    produce(fresh_kafka, lines, events)
    assert crashing.proc.wait(timeout=120) == -signal.SIGKILL, crashing.output()
    lake = LakeConfig.from_settings(settings)
    for day in list_partitions(lake):  # each partition is whole: the old one or the new one
        verify_day(lake, day)

    again = start()
    seconds = wait_for(settings, scenario.expected(changed=True), FRESHNESS, again)
    print(f"killed at {crash}; converged {seconds:.1f}s after the restart")
