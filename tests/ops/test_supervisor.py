"""The supervisor's scheduler with a controllable clock, against a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from superstore.clients import PgConfig
from superstore.data import load_lines
from superstore.errors import TransientError
from superstore.oltp import load_lines_direct
from superstore.ops.alerts import Alerter
from superstore.ops.supervisor import Supervisor, SupervisorOptions
from superstore.settings import load_settings


class FakeClock:
    def __init__(self, start: str) -> None:
        self.now = dt.datetime.fromisoformat(start).replace(tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def _supervisor(tmp_path: Path, pg: PgConfig, clock: FakeClock, fail: bool = False):
    settings = load_settings(data_dir=tmp_path, pg_dsn=pg.dsn)
    exported: list[list[dt.date]] = []
    loaded: list[list[dt.date]] = []

    def export(days: list[dt.date]) -> None:
        if fail:
            raise TransientError("lake unreachable")
        exported.append(days)

    sup = Supervisor(
        settings,
        SupervisorOptions(ingest=False, serve=False),
        clock=clock,
        alerter=Alerter(),
        export_days=export,
        etl_days=loaded.append,
    )
    return sup, exported, loaded


def test_day_boundary_and_catch_up(tmp_path: Path, fresh_pg: PgConfig) -> None:
    history = [x for x in load_lines() if x.order_date >= dt.date(2017, 12, 28)]
    load_lines_direct(fresh_pg, history)
    clock = FakeClock("2026-11-24T12:00:00")
    sup, exported, loaded = _supervisor(tmp_path, fresh_pg, clock)

    first = sup.cycle()  # first run on the 24th: finished history days with orders only
    history_days = sorted({x.order_date for x in history})
    assert first == history_days, "history before the first run: only days with orders"
    assert exported == loaded == [history_days]

    assert sup.cycle() == [], "nothing new before the day boundary"
    clock.advance(hours=12, minutes=14)  # 2026-11-25 00:14
    assert sup.cycle() == []
    clock.advance(minutes=1)  # 00:15: the 24th is finished
    assert sup.cycle() == [dt.date(2026, 11, 24)]

    clock.advance(days=3)  # downtime: three boundaries passed while we were away
    restarted, exported2, _ = _supervisor(tmp_path, fresh_pg, clock)  # state from disk
    assert restarted.cycle() == [
        dt.date(2026, 11, 25),
        dt.date(2026, 11, 26),
        dt.date(2026, 11, 27),
    ]
    assert exported2 == [[dt.date(2026, 11, 25), dt.date(2026, 11, 26), dt.date(2026, 11, 27)]]


def test_failed_step_is_alerted_and_retried_later(tmp_path: Path, fresh_pg: PgConfig) -> None:
    load_lines_direct(fresh_pg, load_lines()[:10])
    clock = FakeClock("2026-11-24T12:00:00")
    sup, _, loaded = _supervisor(tmp_path, fresh_pg, clock, fail=True)
    assert sup.cycle() == []
    assert loaded == []
    assert [a.kind for a in sup.alerter.sent] == ["step_failed"]
    assert "lake unreachable" in str(sup.alerter.sent[0].details["error"])
    assert sup.cycle() == [], "backing off: no immediate retry"
    assert len(sup.alerter.sent) == 1


def test_dlq_growth_and_lag_are_alerted_once(tmp_path: Path, fresh_pg: PgConfig) -> None:
    from superstore.oltp.batch import Batch, Reject, write_batch

    load_lines_direct(fresh_pg, load_lines()[:5])
    lag = {0: 0}
    settings = load_settings(
        data_dir=tmp_path, pg_dsn=fresh_pg.dsn, alert_dlq_growth=3, alert_lag_threshold=100
    )
    sup = Supervisor(
        settings, SupervisorOptions(ingest=False, serve=False), alerter=Alerter(),
        lag=lambda: lag,
    )  # fmt: skip
    sup.watch()  # baseline
    rejects = [Reject("t", 0, i, None, b"{", "invalid: bad json") for i in range(4)]
    with fresh_pg.connect(autocommit=True) as conn:
        write_batch(conn, "g", Batch(rejects=rejects, offsets={("t", 0): (None, 4)}))
    lag[0] = 5_000
    sup.watch()
    sup.watch()  # still lagging: no second alert
    kinds = [a.kind for a in sup.alerter.sent]
    assert kinds == ["dlq_growth", "lag_high"]
    assert "4 messages" in sup.alerter.sent[0].summary


def test_reconciliation_mismatch_is_alerted(tmp_path: Path, fresh_pg: PgConfig) -> None:
    from decimal import Decimal

    from superstore.check import DayTotals, LayerTotals, reconcile

    load_lines_direct(fresh_pg, load_lines()[:5])
    day = dt.date(2026, 11, 23)

    def broken(until: dt.date) -> object:
        good = LayerTotals("lake", {day: DayTotals(2, 1, Decimal("10.0000"))})
        bad = LayerTotals("warehouse", {day: DayTotals(1, 1, Decimal("4.0000"))})
        return reconcile([good, bad], until)

    settings = load_settings(data_dir=tmp_path, pg_dsn=fresh_pg.dsn)
    clock = FakeClock("2026-11-24T12:00:00")
    sup = Supervisor(
        settings, SupervisorOptions(ingest=False, serve=False), clock=clock, alerter=Alerter(),
        export_days=lambda days: None, etl_days=lambda days: None, reconcile=broken,
    )  # fmt: skip
    sup.cycle()
    clock.advance(days=1)
    sup.cycle()
    mismatch = [a for a in sup.alerter.sent if a.kind == "reconciliation_mismatch"]
    assert mismatch and "2026-11-23" in str(mismatch[0].details["first"])
