"""Order events in the ingest transaction: the status they settle, in any arrival order.

Each test writes batches as the consumer does (`Feed`), then reads what every
reader reads: the day's figures the export cross-checks (`day_totals_sql`), the
per-day totals `check` compares (`totals_by_day`), /today's snapshot, and the
day's change mark the sync follows.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest

from superstore.clients import PgConfig
from superstore.contract import OrderEvent, OrderLine
from superstore.oltp import day_marks, day_totals_sql, migrate, totals_by_day
from superstore.oltp.day_totals import drifted_days
from tests.support.ingest import Feed, flat, orders_of, snapshot

TODAY = dt.datetime.now(dt.UTC).date()
PAST = dt.date(2016, 11, 8)
AT = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def cancel(order_id: str, minutes: int = 0) -> OrderEvent:
    return OrderEvent(
        event="order_cancelled", order_id=order_id, event_time=AT + dt.timedelta(minutes=minutes)
    )


def give_back(order_id: str, *lines: tuple[int, int | None], minutes: int = 0) -> OrderEvent:
    """A return of the whole order, or of (line_number, quantity) lines."""
    return OrderEvent.model_validate(
        {
            "event": "order_returned",
            "order_id": order_id,
            "event_time": AT + dt.timedelta(minutes=minutes),
            "lines": [{"line_number": n, **({"quantity": q} if q else {})} for n, q in lines]
            or None,
        }
    )


@pytest.fixture
def feed(fresh_pg: PgConfig):
    migrate(fresh_pg)
    feed = Feed(fresh_pg)
    yield feed
    feed.close()


def outcomes(pg: PgConfig, day: dt.date) -> tuple[int, Decimal, int, Decimal, int, Decimal]:
    """(lines, sales, cancelled lines, cancelled sales, returned lines, returned sales)."""
    with pg.connect(autocommit=True) as conn:
        row = conn.execute(day_totals_sql(day)).fetchone()
    assert row is not None
    return (row[0], Decimal(row[1]), row[2], Decimal(row[3]), row[4], Decimal(row[5]))


def statuses(pg: PgConfig, order_id: str) -> dict[int, str]:
    with pg.connect(autocommit=True) as conn:
        rows = conn.execute(
            "SELECT line_number, cancelled_at IS NOT NULL, o.returned_at IS NOT NULL,"
            " l.returned_at IS NOT NULL, l.returned_quantity"
            " FROM orders o JOIN order_lines l USING (order_id) WHERE order_id = %s",
            [order_id],
        ).fetchall()
    return {n: _status(c, r, lr, q) for n, c, r, lr, q in rows}


def _status(cancelled: bool, order_returned: bool, line_returned: bool, q: int | None) -> str:
    if cancelled:
        return "cancelled"
    if order_returned:
        return "returned"
    return f"returned {q}" if line_returned else "sold"


def sum_sales(lines: list[OrderLine]) -> Decimal:
    return sum((line.sales for line in lines), Decimal(0))


def test_a_cancellation_leaves_today_at_once_and_keeps_history(
    feed: Feed, fresh_pg: PgConfig
) -> None:
    orders = orders_of(TODAY, 6)
    feed.write(flat(orders))
    before = snapshot(fresh_pg, TODAY)
    mark = day_marks(feed.conn, [TODAY])[TODAY]
    gone = orders[2]

    result = feed.write([], [cancel(gone[0].order_id)])

    assert result.days == [TODAY]
    snap = snapshot(fresh_pg, TODAY)
    assert snap.sales == before.sales - sum_sales(gone)
    assert (snap.orders, snap.lines) == (before.orders - 1, before.lines - len(gone))
    assert (snap.cancelled_orders, snap.cancelled_sales) == (1, sum_sales(gone))
    shown = {o.order_id: o.status for o in snap.latest_orders}
    assert shown[gone[0].order_id] == "cancelled"
    assert sum(c.sales for c in snap.categories) == snap.sales
    lines = flat(orders)
    assert outcomes(fresh_pg, TODAY) == (
        len(lines),
        sum_sales(lines),
        len(gone),
        sum_sales(gone),
        0,
        Decimal(0),
    )
    with fresh_pg.connect(autocommit=True) as conn:
        assert day_marks(conn, [TODAY])[TODAY] > mark, "the day is stale again"
        kept = conn.execute("SELECT count(*) FROM order_lines WHERE order_id = %s",
                            [gone[0].order_id]).fetchone()  # fmt: skip
        assert kept == (len(gone),), "nothing deleted"
        assert drifted_days(conn) == []


def test_an_event_before_its_order_applies_when_the_lines_come(
    feed: Feed, fresh_pg: PgConfig
) -> None:
    order, other = orders_of(PAST, 2, seed=7)
    feed.write([], [cancel(order[0].order_id), give_back(other[0].order_id)])
    assert outcomes(fresh_pg, PAST)[0] == 0, "no lines yet, the events are kept"

    feed.write([*order, *other])

    assert set(statuses(fresh_pg, order[0].order_id).values()) == {"cancelled"}
    assert set(statuses(fresh_pg, other[0].order_id).values()) == {"returned"}
    assert outcomes(fresh_pg, PAST)[2:] == (
        len(order),
        sum_sales(order),
        len(other),
        sum_sales(other),
    )


def test_a_line_of_a_cancelled_order_is_cancelled_too(feed: Feed, fresh_pg: PgConfig) -> None:
    (order,) = orders_of(PAST, 1, seed=3)
    first, late = order[:-1] or order, order[-1:]
    feed.write(first, [cancel(order[0].order_id)])
    late_line = late[0].model_copy(update={"line_number": 90, "row_id": 990_001})

    feed.write([late_line])

    assert set(statuses(fresh_pg, order[0].order_id).values()) == {"cancelled"}
    lines, _, cancelled_lines, cancelled_sales, _, _ = outcomes(fresh_pg, PAST)
    assert lines == cancelled_lines == len(first) + 1
    assert cancelled_sales == sum_sales([*first, late_line])


def test_line_returns_add_up_to_the_line_and_share_its_sales(
    feed: Feed, fresh_pg: PgConfig
) -> None:
    (order,) = orders_of(PAST, 1, seed=11)
    line = order[0].model_copy(update={"quantity": 5, "sales": Decimal("100.0001")})
    rest = order[1:]
    feed.write([line, *rest])
    oid = line.order_id

    feed.write([], [give_back(oid, (line.line_number, 2))])
    feed.write([], [give_back(oid, (line.line_number, 1), minutes=5)])

    assert statuses(fresh_pg, oid)[line.line_number] == "returned 3"
    share = (line.sales * 3 / 5).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    assert outcomes(fresh_pg, PAST)[4:] == (1, share)
    feed.write([], [give_back(oid, (line.line_number, 4), minutes=9)])  # more than was sold
    assert statuses(fresh_pg, oid)[line.line_number] == "returned 5"
    assert outcomes(fresh_pg, PAST)[4:] == (1, line.sales)


def test_cancelled_wins_over_a_return_whatever_the_order(feed: Feed, fresh_pg: PgConfig) -> None:
    first, second = orders_of(PAST, 2, seed=5)
    feed.write([*first, *second])
    feed.write([], [give_back(first[0].order_id), cancel(second[0].order_id)])
    feed.write([], [cancel(first[0].order_id, 1), give_back(second[0].order_id, minutes=1)])

    for order in (first, second):
        assert set(statuses(fresh_pg, order[0].order_id).values()) == {"cancelled"}
    assert outcomes(fresh_pg, PAST)[4:] == (0, Decimal(0))


def test_a_replayed_event_changes_nothing(feed: Feed, fresh_pg: PgConfig) -> None:
    (order,) = orders_of(PAST, 1, seed=2)
    feed.write(order)
    event = give_back(order[0].order_id, (order[0].line_number, None))
    feed.write([], [event])
    with fresh_pg.connect(autocommit=True) as conn:
        mark = day_marks(conn, [PAST])[PAST]
    replay = Feed(fresh_pg)  # a consumer that replays the partition from the start
    try:
        replay.stored = None
        replay.conn.execute("DELETE FROM ingest_offsets")
        result = replay.write(order, [event])
    finally:
        replay.close()

    assert result.days == [], "a replay changes no day"
    with fresh_pg.connect(autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM order_events").fetchone() == (1,)
        assert day_marks(conn, [PAST])[PAST] == mark
    line = order[0]
    assert statuses(fresh_pg, line.order_id)[line.line_number] == f"returned {line.quantity}"


def test_check_totals_carry_cancelled_and_returned(feed: Feed, fresh_pg: PgConfig) -> None:
    a, b, c = orders_of(PAST, 3, seed=9)
    feed.write([*a, *b, *c], [cancel(a[0].order_id), give_back(b[0].order_id)])
    with fresh_pg.connect(autocommit=True) as conn:
        (day,) = totals_by_day(conn)
    every = [*a, *b, *c]
    assert day == (
        PAST,
        len(every),
        3,
        sum_sales(every),
        len(a),
        sum_sales(a),
        len(b),
        sum_sales(b),
    )


def test_customer_attributes_follow_the_last_line_of_the_batch(
    feed: Feed, fresh_pg: PgConfig
) -> None:
    """Two lines of one batch disagree on a customer's name: the later one wins."""
    first, second = orders_of(PAST, 2, seed=13)
    a = first[0]
    b = second[0].model_copy(update={"customer_id": a.customer_id, "customer_name": "New Name"})
    feed.write([a, b])
    feed.write([b.model_copy(update={"customer_name": "Newest"}), a.model_copy(
        update={"line_number": 77, "row_id": None, "customer_name": "Old Again"})])  # fmt: skip

    with fresh_pg.connect(autocommit=True) as conn:
        name = conn.execute(
            "SELECT customer_name FROM customers WHERE customer_id = %s", [a.customer_id]
        ).fetchone()
    assert name == ("Old Again",), "the batch's last line, as a later batch would"


def test_replay_rules_agree_with_the_store_on_random_histories(
    feed: Feed, fresh_pg: PgConfig
) -> None:
    """The check's Python replay and the store's SQL settle the same figures, to the
    last decimal, for random lines, corrections and events in random order."""
    import random

    from superstore.check.replay import Line, OrderFate, fold_days

    rng = random.Random(20261203)
    orders = orders_of(PAST, 40, seed=17) + orders_of(PAST + dt.timedelta(days=1), 40, seed=18)
    latest: dict[tuple[str, int], OrderLine] = {}
    messages: list[OrderLine | OrderEvent] = []
    for order in orders:
        for line in order:
            line = line.model_copy(update={"quantity": rng.randint(1, 7)})
            messages.append(line)
            if rng.random() < 0.2:  # a correction later in the stream
                messages.append(line.model_copy(update={"sales": line.sales + Decimal("1.0001")}))
        oid = order[0].order_id
        roll = rng.random()
        if roll < 0.2:
            messages.append(cancel(oid, rng.randint(0, 50)))
        if 0.1 < roll < 0.35:
            messages.append(give_back(oid, minutes=rng.randint(0, 50)))
        if 0.3 < roll < 0.7:
            picked = rng.sample(order, k=min(len(order), 2))
            lines = [(x.line_number, rng.choice([None, 1, 2, 3, 9])) for x in picked]
            messages.append(give_back(oid, *lines, minutes=rng.randint(0, 50)))
    rng.shuffle(messages)  # events before their lines, corrections before originals too
    fates: dict[str, OrderFate] = {}
    for at in range(0, len(messages), 37):
        chunk = messages[at : at + 37]
        lines = [m for m in chunk if isinstance(m, OrderLine)]
        feed.write(lines, [m for m in chunk if isinstance(m, OrderEvent)])
        for m in chunk:
            if isinstance(m, OrderLine):
                latest[m.order_id, m.line_number] = m  # the latest message wins
            else:
                fates.setdefault(m.order_id, OrderFate()).add(m)
    replayed = fold_days(
        (Line(x.order_date, x.order_id, x.line_number, x.sales, x.quantity)
         for x in latest.values()),
        fates,
    )  # fmt: skip

    with fresh_pg.connect(autocommit=True) as conn:
        stored = {day: rest for day, *rest in totals_by_day(conn)}
    assert len(stored) == 2
    for day, figures in replayed.items():
        lines_, orders_, sales, cl, cs, rl, rs = figures.row()
        assert stored[day] == [lines_, orders_, sales, cl, cs, rl, rs], day


def test_an_order_moved_to_another_day_changes_both_days(feed: Feed, fresh_pg: PgConfig) -> None:
    later = PAST + dt.timedelta(days=3)
    (order,) = orders_of(PAST, 1, seed=4)
    feed.write(order)
    with fresh_pg.connect(autocommit=True) as conn:
        before = day_marks(conn, [PAST, later])
    # The producer corrects the order's date: both days' exports change.
    moved = [x.model_copy(update={"order_date": later, "ship_date": later}) for x in order]
    assert feed.write(moved).days == [PAST, later]
    with fresh_pg.connect(autocommit=True) as conn:
        after = day_marks(conn, [PAST, later])
        assert after[PAST] > before[PAST] and after[later] > before[later]
        # A change made outside the ingest (by hand) marks both days as well.
        conn.execute(
            "UPDATE orders SET order_date = %s, ship_date = %s WHERE order_id = %s",
            [PAST, order[0].ship_date, order[0].order_id],
        )
        by_hand = day_marks(conn, [PAST, later])
        assert by_hand[PAST] > after[PAST] and by_hand[later] > after[later]
    # The line as it now stands, replayed, moves nothing and marks nothing.
    assert feed.write(order).days == []
