"""Running day totals (migration 003): exact through inserts, corrections, moves, replays, races.

Every test ends by recomputing each tracked day from its lines (`drifted_days`)
and, where /today is concerned, by comparing the snapshot served from the
totals with the one a scan of the lines gives.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest

from superstore.clients import PgConfig
from superstore.contract import OrderLine
from superstore.oltp.batch import StagedLine
from superstore.oltp.day_totals import drifted_days, tracked_days
from superstore.oltp.migrate import migrate
from tests.support.ingest import Feed, flat, orders_of, snapshot

TODAY = dt.datetime.now(dt.UTC).date()
YESTERDAY = TODAY - dt.timedelta(days=1)
OLD_DAY = dt.date(2015, 3, 1)


def day_numbers(pg: PgConfig, day: dt.date) -> tuple[int, int, Decimal]:
    """(orders, lines, sales) of the day, from its lines."""
    with pg.connect(autocommit=True) as conn:
        orders, lines, sales = conn.execute(
            "SELECT count(DISTINCT o.order_id), count(*), coalesce(sum(l.sales), 0)"
            " FROM orders o JOIN order_lines l ON l.order_id = o.order_id"
            " WHERE o.order_date = %s",
            [day],
        ).fetchone()
    return orders, lines, Decimal(sales)


def assert_exact(pg: PgConfig, *days: dt.date) -> None:
    """No tracked day drifted, and /today from the totals agrees with the lines."""
    with pg.connect(autocommit=True) as conn:
        assert drifted_days(conn) == []
    for day in days:
        snap = snapshot(pg, day)
        assert (snap.orders, snap.lines, snap.sales) == day_numbers(pg, day)


def assert_same_as_scan(pg: PgConfig, day: dt.date) -> None:
    """The snapshot from the totals equals the one from a scan of the lines."""
    tracked = snapshot(pg, day)
    with pg.connect(autocommit=True) as conn:  # untrack the day for one read (no writer runs)
        saved = conn.execute("SELECT * FROM day_totals WHERE order_date = %s", [day]).fetchone()
        conn.execute("DELETE FROM day_totals WHERE order_date = %s", [day])
        try:
            scanned = snapshot(pg, day)
        finally:
            conn.execute("INSERT INTO day_totals VALUES (%s, %s, %s, %s, %s)", saved)
    keys = {"sales", "orders", "lines", "top_products", "categories", "latest_orders"}
    assert tracked.model_dump(include=keys) == scanned.model_dump(include=keys)


@pytest.fixture
def db(fresh_pg: PgConfig) -> PgConfig:
    migrate(fresh_pg)
    return fresh_pg


def test_inserts_corrections_moves_and_replays_keep_totals_exact(db: PgConfig) -> None:
    feed = Feed(db)
    orders = orders_of(TODAY, 60)
    for part in (orders[:20], orders[20:45], orders[45:]):
        feed.write(flat(part))
    with db.connect(autocommit=True) as conn:
        assert tracked_days(conn) == [TODAY]
    assert_exact(db, TODAY)
    assert snapshot(db, TODAY).orders == 60
    assert_same_as_scan(db, TODAY)

    # A corrected line: new sales and another product version.
    first = orders[0][0]
    fixed = first.model_copy(update={"sales": first.sales + Decimal("10.5"), "product_name": "X"})
    feed.write([fixed])
    assert_exact(db, TODAY)

    # An order moved to yesterday (tracked from now on), another to an old day.
    moved = [x.model_copy(update={"order_date": YESTERDAY}) for x in orders[1]]
    gone = [x.model_copy(update={"order_date": OLD_DAY}) for x in orders[2]]
    feed.write(moved + gone)
    with db.connect(autocommit=True) as conn:
        assert tracked_days(conn) == [YESTERDAY, TODAY]
    assert_exact(db, TODAY, YESTERDAY)
    assert snapshot(db, TODAY).orders == 58 and snapshot(db, YESTERDAY).orders == 1

    # Replays of everything, at later offsets: nothing changes.
    before = snapshot(db, TODAY)
    feed.write(flat(orders[3:]))
    after = snapshot(db, TODAY)
    assert (after.orders, after.lines, after.sales) == (before.orders, before.lines, before.sales)
    assert_exact(db, TODAY, YESTERDAY)
    assert_same_as_scan(db, TODAY)


def test_latest_orders_fall_back_to_a_scan_when_one_moved_away(db: PgConfig) -> None:
    feed = Feed(db)
    orders = orders_of(TODAY, 12)
    feed.write(flat(orders))
    newest = snapshot(db, TODAY).latest_orders
    assert len(newest) == 10
    # Move one of the listed orders away: the list must still hold 10 of today's.
    victim = next(o for o in orders if o[0].order_id == newest[0].order_id)
    feed.write([x.model_copy(update={"order_date": OLD_DAY}) for x in victim])
    snap = snapshot(db, TODAY)
    assert len(snap.latest_orders) == 10
    assert victim[0].order_id not in {o.order_id for o in snap.latest_orders}
    assert_exact(db, TODAY)
    assert_same_as_scan(db, TODAY)


def test_tracking_starts_from_the_lines_already_stored(db: PgConfig) -> None:
    feed = Feed(db)
    orders = orders_of(TODAY, 30)
    feed.write(flat(orders[:15]))
    with db.connect(autocommit=True) as conn:  # as if written before tracking existed
        conn.execute("DELETE FROM day_totals")
        conn.execute("DELETE FROM day_product_sales")
    assert_exact(db, TODAY)  # untracked: /today scans
    feed.write(flat(orders[15:]))
    with db.connect(autocommit=True) as conn:
        assert tracked_days(conn) == [TODAY]
    assert_exact(db, TODAY)
    assert snapshot(db, TODAY).orders == 30
    assert_same_as_scan(db, TODAY)


def test_old_days_are_not_tracked(db: PgConfig) -> None:
    Feed(db).write(flat(orders_of(OLD_DAY, 5)))
    with db.connect(autocommit=True) as conn:
        assert tracked_days(conn) == []
    assert snapshot(db, OLD_DAY).orders == 5
    assert_exact(db, OLD_DAY)


def test_parallel_writers_starting_a_day_keep_exact_totals(db: PgConfig) -> None:
    """Two writers race to start tracking today, then write 10 batches each."""
    feeds = [Feed(db, partition=p) for p in (0, 1)]
    work = [orders_of(TODAY, 100, seed=s) for s in (11, 12)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(feed: Feed, orders: list[list[OrderLine]]) -> None:
        try:
            start.wait()
            for i in range(0, len(orders), 10):
                feed.write(flat(orders[i : i + 10]))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=pair) for pair in zip(feeds, work, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert_exact(db, TODAY)
    assert snapshot(db, TODAY).orders == 200
    assert_same_as_scan(db, TODAY)


def test_starting_a_day_waits_for_writers_in_flight(db: PgConfig) -> None:
    """A writer whose lines of today are not committed yet (it saw the day untracked,
    e.g. just before midnight) must be in the totals the next writer seeds."""
    from superstore.oltp import batch as writer

    late = orders_of(TODAY, 20, seed=22)
    early = [  # customers and products of their own: no row lock makes the starter wait
        [
            x.model_copy(
                update={"customer_id": f"Z{x.customer_id}", "product_id": f"Z{x.product_id}"}
            )
            for x in order
        ]
        for order in orders_of(TODAY, 20, seed=21)
    ]
    in_flight = db.connect(autocommit=True)
    with in_flight.transaction():
        in_flight.execute("SELECT pg_advisory_xact_lock_shared(%s)", [writer.TRACKING_LOCK])
        writer.stage(
            in_flight, [StagedLine.from_line(x, "t", 9, i) for i, x in enumerate(flat(early))]
        )
        for sql in (*writer.sql.PARENTS, writer.sql.ORDERS_UPSERT, writer.sql.LINES_UPSERT):
            in_flight.execute(sql)  # the untracked path
        done = threading.Event()
        starter = threading.Thread(target=lambda: (Feed(db).write(flat(late)), done.set()))
        starter.start()
        assert not done.wait(1.0), "started tracking while another writer was in flight"
    starter.join(timeout=30)
    assert done.is_set()
    assert_exact(db, TODAY)
    assert snapshot(db, TODAY).orders == 40


def test_check_names_a_drifted_day(db: PgConfig) -> None:
    from superstore.check.layers import postgres_layer
    from superstore.check.reconcile import reconcile

    Feed(db).write(flat(orders_of(TODAY, 5)))
    assert postgres_layer(db).notes["tracked_days"] == 1
    assert reconcile([postgres_layer(db)], None).problems == []
    with db.connect(autocommit=True) as conn:
        conn.execute(
            "UPDATE day_product_sales SET sales = sales + 0.0001 WHERE ctid IN"
            " (SELECT ctid FROM day_product_sales LIMIT 1)"
        )
        assert drifted_days(conn) == [TODAY]
    problems = reconcile([postgres_layer(db)], None).problems
    assert problems == [f"postgres: running /today totals differ from the lines on {TODAY}"]
