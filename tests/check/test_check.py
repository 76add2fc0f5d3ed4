"""End to end: Kafka -> PostgreSQL -> lake -> warehouse, reconciled; then broken on purpose."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import pytest

from superstore.check.run import run_check
from superstore.clients import KafkaConfig, PgConfig
from superstore.data import dataset_stats, lines_between, load_lines
from superstore.ingest.consumer import IngestOptions, Ingestor
from superstore.ops.pipeline import etl_days_step, export_days_step
from superstore.produce import mix_bad, produce_records
from superstore.settings import Settings, load_settings
from superstore.stack.kafka import create_topics
from superstore.warehouse import warehouse_config
from tests.support.pgadmin import create_database

UNTIL = dt.date(2017, 12, 31)


FIRST = dt.date(2017, 10, 1)


@pytest.fixture(scope="module")
def lines() -> list:
    """The last quarter of the data set (about 1,200 lines over 90 days): every trap, fast."""
    return lines_between(load_lines(), FIRST, UNTIL)


@pytest.fixture(scope="module")
def pipeline(
    tmp_path_factory: pytest.TempPathFactory, kafka: KafkaConfig, pg: PgConfig, lines: list
) -> Settings:
    """Those lines through every layer, with a few bad messages on the way.

    Module-scoped: built once; the tests that break a layer on purpose run last.
    """
    tmp_path = tmp_path_factory.mktemp("check")
    fresh_kafka = _fresh_topic(kafka)
    fresh_pg = _fresh_database(pg)
    settings = load_settings(
        data_dir=tmp_path,
        kafka_bootstrap=fresh_kafka.bootstrap,
        topic=fresh_kafka.topic,
        dlq_topic=fresh_kafka.dlq_topic,
        pg_dsn=fresh_pg.dsn,
        lake_url=str(tmp_path / "lake"),
    )
    produce_records(fresh_kafka, mix_bad(lines, 3))
    Ingestor(fresh_kafka, fresh_pg, IngestOptions(until_idle=1.5)).run()
    days = sorted({x.order_date for x in lines})
    export_days_step(days, settings)
    etl_days_step(days, settings)
    return settings


def _fresh_topic(kafka: KafkaConfig) -> KafkaConfig:
    suffix = uuid.uuid4().hex[:8]
    config = KafkaConfig(kafka.bootstrap, f"chk{suffix}", f"chk{suffix}.dlq", 3, kafka.security)
    create_topics(config, report=lambda _: None)
    return config


def _fresh_database(pg: PgConfig) -> PgConfig:
    return create_database(pg, f"chk_{uuid.uuid4().hex[:8]}")


def test_all_layers_agree_and_json_is_exact(pipeline: Settings, cli, lines: list) -> None:
    report = run_check(pipeline, until=UNTIL)
    assert report.ok, [d.describe() for d in report.differences] + report.problems
    doc = report.as_json()
    assert [layer["layer"] for layer in doc["layers"]] == ["kafka", "postgres", "lake", "warehouse"]
    stats = dataset_stats(lines)
    for layer in doc["layers"]:
        assert (layer["lines"], layer["orders"]) == (stats.lines, stats.orders)
        assert layer["sales"] == str(stats.sales)
        assert len(layer["days"]) == stats.order_dates
    assert doc["layers"][0]["notes"]["invalid"] == 3
    env = {k.upper(): v for k, v in {
        "SUPERSTORE_KAFKA_BOOTSTRAP": pipeline.kafka_bootstrap,
        "SUPERSTORE_TOPIC": pipeline.topic,
        "SUPERSTORE_DLQ_TOPIC": pipeline.dlq_topic,
        "SUPERSTORE_PG_DSN": pipeline.pg_dsn_value,
        "SUPERSTORE_LAKE_URL": pipeline.lake_url,
        "SUPERSTORE_DATA_DIR": str(pipeline.data_dir),
    }.items()}  # fmt: skip
    result = cli("check", "--json", "--until", "2017-12-31", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True


def test_deleted_warehouse_row_is_named(pipeline: Settings) -> None:
    with warehouse_config(pipeline).open() as wh:
        victim = wh.query(
            "SELECT line_key, time_key FROM star.sales_fact ORDER BY line_key LIMIT 1"
        )
    import duckdb

    path = pipeline.data_dir / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("DELETE FROM star.sales_fact WHERE line_key = ?", [victim[0][0]])
    report = run_check(pipeline, until=UNTIL, include_kafka=False)
    assert not report.ok
    (diff,) = report.differences
    day = dt.datetime.strptime(str(victim[0][1]), "%Y%m%d").date()
    assert (diff.upstream, diff.downstream, diff.day) == ("lake", "warehouse", day)
    assert diff.expected.lines - diff.found.lines == 1


def test_tampered_lake_file_is_named(pipeline: Settings) -> None:
    day = dt.date(2017, 12, 30)
    orders = Path(pipeline.lake_url) / "raw" / f"date={day}" / "orders.csv"
    header, first, *rest = orders.read_text().splitlines(keepends=True)
    orders.write_text(header + first.replace(",", ";", 1) + "".join(rest))  # one byte changed
    report = run_check(pipeline, until=UNTIL, include_kafka=False)
    assert not report.ok
    assert any(f"partition {day}" in p for p in report.problems), report.problems


def test_order_without_its_customer_is_named(pipeline: Settings) -> None:
    """No FK guards orders -> customers (migration 002): `check` is what notices."""
    from superstore.stack import pg_config

    pg = pg_config(pipeline)
    with pg.connect() as conn:
        victim = conn.execute(
            "DELETE FROM customers WHERE customer_id = (SELECT min(customer_id) FROM orders)"
            " RETURNING customer_id, customer_name, segment"
        ).fetchone()
        orders = conn.execute(
            "SELECT count(*) FROM orders WHERE customer_id = %s", [victim[0]]
        ).fetchone()[0]
    try:
        report = run_check(pipeline, until=UNTIL, include_kafka=False)
        assert not report.ok
        assert f"postgres: {orders} orders without their customer" in report.problems
    finally:
        with pg.connect() as conn:
            conn.execute(
                "INSERT INTO customers (customer_id, customer_name, segment) VALUES (%s, %s, %s)",
                victim,
            )
    after = run_check(pipeline, until=UNTIL, include_kafka=False).problems
    assert not [p for p in after if "without their customer" in p], after


def test_topic_kept_forever_and_deleted_messages_are_named(
    fresh_kafka: KafkaConfig, lines: list
) -> None:
    """`check` reads the whole topic: `stack up` keeps it forever, and a topic whose
    retention deleted messages is named instead of showing as missing days."""
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import ConfigResource

    from superstore.check.layers import kafka_layer
    from superstore.check.reconcile import reconcile
    from superstore.produce import to_records

    admin = fresh_kafka.admin()
    for topic in (fresh_kafka.topic, fresh_kafka.dlq_topic):
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        config = admin.describe_configs([resource])[resource].result()
        assert config["retention.ms"].value == "-1"
    produce_records(fresh_kafka, to_records(lines[:40]))
    assert "deleted_by_retention" not in kafka_layer(fresh_kafka).notes
    # What retention does to old segments, done at once: delete every message so far.
    ends = []
    consumer = fresh_kafka.consumer(f"t-{uuid.uuid4().hex[:6]}")
    for pid in range(fresh_kafka.partitions):
        _, high = consumer.get_watermark_offsets(TopicPartition(fresh_kafka.topic, pid), 10)
        ends.append(TopicPartition(fresh_kafka.topic, pid, high))
    consumer.close()
    for future in admin.delete_records(ends).values():
        future.result()
    layer = kafka_layer(fresh_kafka)
    assert layer.notes["deleted_by_retention"] == 40
    problems = reconcile([layer], None).problems
    assert any("40 messages were already deleted by the topic's retention" in p for p in problems)
