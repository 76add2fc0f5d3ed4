"""Producing to the real broker and reading back: replay, bad input, live orders."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import defaultdict

import pytest
from pydantic import ValidationError

from superstore.clients import KafkaConfig
from superstore.contract import OrderLine, decode_line
from superstore.data import dataset_stats, lines_between, load_lines
from superstore.produce import (
    BAD_KINDS,
    LineSynthesizer,
    bad_records,
    mix_bad,
    produce_live,
    produce_records,
    to_records,
)
from superstore.produce.readback import read_topic


@pytest.fixture(scope="module")
def lines() -> list[OrderLine]:
    return load_lines()


def test_replay_reads_back_exactly(fresh_kafka: KafkaConfig, lines: list[OrderLine]) -> None:
    result = produce_records(fresh_kafka, to_records(lines))
    assert (result.sent, result.failed) == (9_994, 0)
    summary = read_topic(fresh_kafka)
    expected = dataset_stats(lines)
    assert summary.messages == summary.valid == summary.distinct_lines == 9_994
    assert summary.sales_sum == expected.sales
    assert all(len(p) == 1 for p in summary.partitions_by_order.values()), "key = order id"
    used = set().union(*summary.partitions_by_order.values())
    assert used == {0, 1, 2}


def test_message_key_is_the_order_id(fresh_kafka: KafkaConfig, lines: list[OrderLine]) -> None:
    from confluent_kafka import TopicPartition

    produce_records(fresh_kafka, to_records(lines[:50]))
    consumer = fresh_kafka.consumer("key-check")
    consumer.assign([TopicPartition(fresh_kafka.topic, p, 0) for p in range(3)])
    seen = 0
    for _ in range(20):
        for msg in consumer.consume(100, timeout=0.5):
            if msg.error():
                continue
            assert msg.key().decode() == decode_line(msg.value()).order_id
            seen += 1
        if seen == 50:
            break
    consumer.close()
    assert seen == 50


def test_replay_twice_keeps_distinct_lines(
    fresh_kafka: KafkaConfig, lines: list[OrderLine]
) -> None:
    subset = lines[:500]
    produce_records(fresh_kafka, to_records(subset))
    produce_records(fresh_kafka, to_records(subset))
    summary = read_topic(fresh_kafka)
    assert summary.messages == 1_000 and summary.distinct_lines == 500
    assert summary.sales_sum == dataset_stats(subset).sales


def test_every_bad_kind_is_undecodable(lines: list[OrderLine]) -> None:
    records = bad_records(len(BAD_KINDS) * 2, lines[0])
    assert len(records) == 10
    for _key, value in records:
        with pytest.raises((ValidationError, ValueError)):
            decode_line(value)


def test_mix_bad_keeps_every_good_line_in_order(lines: list[OrderLine]) -> None:
    subset = lines[:200]
    mixed = list(mix_bad(subset, 7, random.Random(3)))
    assert len(mixed) == 207
    good = [v for k, v in mixed if not k.startswith("BAD-")]
    assert [decode_line(v) for v in good] == subset


def test_cli_replay_with_bad_messages(cli, fresh_kafka: KafkaConfig) -> None:
    env = {"SUPERSTORE_TOPIC": fresh_kafka.topic}
    result = cli("produce", "--replay", "--inject-bad", "5", env=env)
    assert result.returncode == 0, result.stderr
    assert "delivered 9,999 messages" in result.stderr
    summary = read_topic(fresh_kafka)
    assert (summary.valid, summary.invalid) == (9_994, 5)
    check = cli("topic", "stats", "--expect-dataset", env=env)
    assert check.returncode == 0, check.stderr
    assert "holds all 9,994 lines of the data set" in check.stdout


def test_cli_replay_date_window(cli, fresh_kafka: KafkaConfig, lines: list[OrderLine]) -> None:
    env = {"SUPERSTORE_TOPIC": fresh_kafka.topic}
    result = cli("produce", "--replay", "--since", "2017-12-01", "--until", "2017-12-31", env=env)
    assert result.returncode == 0, result.stderr
    expected = lines_between(lines, dt.date(2017, 12, 1), dt.date(2017, 12, 31))
    summary = read_topic(fresh_kafka)
    assert summary.valid == len(expected) > 0
    assert summary.sales_sum == dataset_stats(expected).sales
    mismatch = cli("topic", "stats", "--expect-dataset", env=env)
    assert mismatch.returncode == 1, mismatch.stderr
    assert f"{9_994 - len(expected):,} of the data set's 9,994 lines are not in the topic" in (
        mismatch.stderr
    )


def test_live_orders_are_dated_today_and_realistic(
    fresh_kafka: KafkaConfig, lines: list[OrderLine]
) -> None:
    synth = LineSynthesizer(lines, seed=7)
    result = produce_live(fresh_kafka, synth, rate=400, timezone="UTC", max_lines=120)
    assert (result.sent, result.failed) == (120, 0)
    assert result.seconds >= 119 / 400 * 0.9, "paced at the requested rate"
    summary = read_topic(fresh_kafka)
    assert summary.valid == summary.distinct_lines == 120
    today = dt.datetime.now(dt.UTC).date()
    orders: dict[str, list[OrderLine]] = defaultdict(list)
    for line in synth_lines(fresh_kafka):
        assert line.order_date == today
        orders[line.order_id].append(line)
    assert any(len(v) > 1 for v in orders.values()), "multi-line orders"
    places = {(x.customer_id, x.city, x.state) for x in lines}
    for order in orders.values():
        assert [x.line_number for x in order] == list(range(1, len(order) + 1))
        assert len({(x.customer_id, x.city) for x in order}) == 1
        assert (order[0].customer_id, order[0].city, order[0].state) in places


def synth_lines(config: KafkaConfig) -> list[OrderLine]:
    from confluent_kafka import TopicPartition

    consumer = config.consumer("synth-read")
    consumer.assign([TopicPartition(config.topic, p, 0) for p in range(config.partitions)])
    out: list[OrderLine] = []
    for _ in range(20):
        batch = [m for m in consumer.consume(500, timeout=0.5) if not m.error()]
        out += [decode_line(m.value()) for m in batch]
        if not batch and out:
            break
    consumer.close()
    return sorted(out, key=lambda x: (x.order_id, x.line_number))


def test_live_stops_on_event(fresh_kafka: KafkaConfig, lines: list[OrderLine]) -> None:
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    result = produce_live(fresh_kafka, LineSynthesizer(lines), rate=50, timezone="UTC", stop=stop)
    assert 5 <= result.sent <= 40


def test_synth_is_deterministic_with_a_seed(lines: list[OrderLine]) -> None:
    day = dt.date(2026, 11, 25)
    first = LineSynthesizer(lines, seed=1).order(day)
    again = LineSynthesizer(lines, seed=1).order(day)
    assert first == again
    assert all(x.ship_date >= x.order_date == day for x in first)


def test_cli_live(cli, fresh_kafka: KafkaConfig) -> None:
    env = {"SUPERSTORE_TOPIC": fresh_kafka.topic}
    result = cli(
        "produce", "--live", "--rate", "200", "--max-lines", "30", "--inject-bad", "2", env=env
    )
    assert result.returncode == 0, result.stderr
    summary = read_topic(fresh_kafka)
    assert (summary.valid, summary.invalid) == (30, 2)
