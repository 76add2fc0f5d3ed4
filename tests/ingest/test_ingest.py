"""Exactly-once ingestion through the real broker into the real PostgreSQL."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import OrderLine
from superstore.data import dataset_stats
from superstore.ingest import IngestOptions, Ingestor
from superstore.oltp import migrate
from superstore.oltp.batch import Batch, FencedError, StagedLine, write_batch
from superstore.produce import mix_bad, produce_records, to_records
from superstore.produce.readback import read_topic
from superstore.stack.postgres import start_postgres, stop_postgres
from tests.support.ingest import run_ingest, totals

SALES = Decimal("2297200.8603")


def test_full_dataset_exactly_once_with_dead_letters(
    fresh_kafka: KafkaConfig, fresh_pg: PgConfig, dataset: list[OrderLine]
) -> None:
    produce_records(fresh_kafka, mix_bad(dataset, 10))
    stats = run_ingest(fresh_kafka, fresh_pg, batch_size=3_000)
    assert (stats.messages, stats.lines, stats.rejected) == (10_004, 9_994, 10)
    assert totals(fresh_pg) == (9_994, SALES, 10)
    with fresh_pg.connect() as conn:
        customers, products, orders = conn.execute(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM products),"
            " (SELECT count(*) FROM orders)"
        ).fetchone()
        reasons = [r for (r,) in conn.execute("SELECT reason FROM rejected_lines ORDER BY id")]
        raw = conn.execute("SELECT raw FROM rejected_lines WHERE reason LIKE '%%JSON%%'").fetchone()
    assert (customers, orders) == (793, 5_009)
    assert products == 1_894, "32 product ids carry two names: every version kept"
    assert any("quantity" in r and "-2" in r for r in reasons)
    assert any("schema_version" in r for r in reasons)
    assert any("sales: Field required" in r for r in reasons)
    assert raw and raw[0].startswith(b'{"schema_version"')
    dlq = read_topic(fresh_kafka, fresh_kafka.dlq_topic)
    assert dlq.messages == 10


def test_dlq_messages_carry_reason_and_source(
    fresh_kafka: KafkaConfig, fresh_pg: PgConfig, dataset: list[OrderLine]
) -> None:
    from confluent_kafka import TopicPartition

    produce_records(fresh_kafka, mix_bad(dataset[:100], 5))
    run_ingest(fresh_kafka, fresh_pg)
    consumer = fresh_kafka.consumer("dlq-read")
    consumer.assign([TopicPartition(fresh_kafka.dlq_topic, 0, 0)])
    got = []
    for _ in range(20):
        got += [m for m in consumer.consume(10, timeout=0.5) if not m.error()]
        if len(got) >= 5:
            break
    consumer.close()
    assert len(got) == 5
    for msg in got:
        headers = dict(msg.headers())
        assert headers["reason"].startswith(b"invalid")
        topic, partition, offset = headers["source"].decode().split("/")
        assert topic == fresh_kafka.topic and int(partition) in range(3) and int(offset) >= 0


def test_replays_and_reruns_double_nothing(
    fresh_kafka: KafkaConfig, fresh_pg: PgConfig, dataset: list[OrderLine]
) -> None:
    produce_records(fresh_kafka, to_records(dataset))
    produce_records(fresh_kafka, to_records(dataset))  # the whole data set replayed
    first = run_ingest(fresh_kafka, fresh_pg)
    assert first.messages == 19_988
    assert totals(fresh_pg) == (9_994, SALES, 0)
    again = run_ingest(fresh_kafka, fresh_pg)  # restart: resumes from stored offsets
    assert again.messages == 0
    produce_records(fresh_kafka, to_records(dataset[:25]))
    third = run_ingest(fresh_kafka, fresh_pg)
    assert third.messages == 25
    assert totals(fresh_pg) == (9_994, SALES, 0)


def test_corrected_line_replaces_not_adds(
    fresh_kafka: KafkaConfig, fresh_pg: PgConfig, dataset: list[OrderLine]
) -> None:
    line = dataset[0]
    fixed = line.model_copy(update={"sales": line.sales + Decimal("0.0001")})
    produce_records(fresh_kafka, to_records([line, fixed]))
    run_ingest(fresh_kafka, fresh_pg)
    assert totals(fresh_pg)[:2] == (1, fixed.sales)


def test_stale_offsets_are_fenced(fresh_pg: PgConfig, dataset: list[OrderLine]) -> None:
    migrate(fresh_pg)
    staged = [StagedLine.from_line(x, "t", 0, i) for i, x in enumerate(dataset[:10])]
    with fresh_pg.connect(autocommit=True) as conn:
        write_batch(conn, "g", Batch(lines=staged[:5], offsets={("t", 0): (None, 5)}))
        with pytest.raises(FencedError):  # a zombie that still thinks the offset is unset
            write_batch(conn, "g", Batch(lines=staged[5:], offsets={("t", 0): (None, 10)}))
        with pytest.raises(FencedError):  # or that it is somewhere else
            write_batch(conn, "g", Batch(lines=staged[5:], offsets={("t", 0): (3, 10)}))
        assert conn.execute("SELECT count(*) FROM order_lines").fetchone()[0] == 5
        write_batch(conn, "g", Batch(lines=staged[5:], offsets={("t", 0): (5, 10)}))
        assert conn.execute("SELECT count(*) FROM order_lines").fetchone()[0] == 10


def test_a_batch_of_stored_and_new_lines_keeps_both(
    fresh_pg: PgConfig, dataset: list[OrderLine]
) -> None:
    """New lines are COPYed straight into order_lines; one stored line in the batch
    (here a correction) must send the whole batch through the upsert, losing nothing."""
    migrate(fresh_pg)
    fixed = dataset[3].model_copy(update={"sales": dataset[3].sales + Decimal("1.5")})
    first = [StagedLine.from_line(x, "t", 0, i) for i, x in enumerate(dataset[:10])]
    second = [
        StagedLine.from_line(x, "t", 0, 10 + i) for i, x in enumerate([*dataset[10:20], fixed])
    ]
    with fresh_pg.connect(autocommit=True) as conn:
        write_batch(conn, "g", Batch(lines=first, offsets={("t", 0): (None, 10)}))
        write_batch(conn, "g", Batch(lines=second, offsets={("t", 0): (10, 21)}))
    expected = sum((x.sales for x in dataset[:20]), Decimal("1.5"))
    assert totals(fresh_pg) == (20, expected, 0)


def test_unchanged_customers_and_products_are_not_locked(
    fresh_pg: PgConfig, dataset: list[OrderLine]
) -> None:
    """Every batch names most customers and products again. A writer must not lock the
    ones it does not change: another transaction holding them (here, the test) must not
    make it wait, or parallel ingest processes queue behind each other's transactions."""
    import threading

    migrate(fresh_pg)
    first = [StagedLine.from_line(x, "t", 0, i) for i, x in enumerate(dataset[:40])]
    later = [
        StagedLine.from_line(x.model_copy(update={"order_id": f"{x.order_id}-2"}), "t", 0, 40 + i)
        for i, x in enumerate(dataset[:40])
    ]
    done = threading.Event()
    with fresh_pg.connect(autocommit=True) as conn:
        write_batch(conn, "g", Batch(lines=first, offsets={("t", 0): (None, 40)}))
    with fresh_pg.connect() as holder:  # another writer, mid-transaction
        holder.execute("SELECT 1 FROM customers FOR UPDATE")
        holder.execute("SELECT 1 FROM products FOR UPDATE")

        def write_later() -> None:
            with fresh_pg.connect(autocommit=True) as conn:
                write_batch(conn, "g", Batch(lines=later, offsets={("t", 0): (40, 80)}))
            done.set()

        thread = threading.Thread(target=write_later, daemon=True)
        thread.start()
        waited = not done.wait(10)
        holder.rollback()
    thread.join(30)
    assert not waited, "the batch waited for locks on customers or products it does not change"
    assert totals(fresh_pg)[0] == 80


def test_rows_postgres_refuses_go_to_dead_letters(
    fresh_kafka: KafkaConfig, fresh_pg: PgConfig, dataset: list[OrderLine]
) -> None:
    migrate(fresh_pg)
    with fresh_pg.connect(autocommit=True) as conn:  # a business rule only the database knows
        conn.execute("ALTER TABLE order_lines ADD CONSTRAINT cap CHECK (sales < 10000)")
    from superstore.produce.readback import scan_topic

    produce_records(fresh_kafka, mix_bad(dataset, 7))  # batches with both kinds of reject
    stats = run_ingest(fresh_kafka, fresh_pg, batch_size=5_000)
    big = [x for x in dataset if x.sales >= 10000]
    kept = [x for x in dataset if x.sales < 10000]
    assert len(big) > 0
    assert stats.rejected == len(big) + 7
    assert totals(fresh_pg) == (len(kept), dataset_stats(kept).sales, len(big) + 7)
    with fresh_pg.connect() as conn:
        reasons = [r for (r,) in conn.execute("SELECT reason FROM rejected_lines").fetchall()]
    refused = [r for r in reasons if "refused by PostgreSQL" in r]
    assert len(refused) == len(big) and all("cap" in r for r in refused)
    # Each dead letter reaches the topic once: retrying the batch without the refused
    # rows does not resend the rejects the topic already acknowledged.
    sources: list[bytes] = []
    scan_topic(
        fresh_kafka,
        fresh_kafka.dlq_topic,
        lambda _: None,
        on_message=lambda m: sources.append(dict(m.headers())["source"]),
    )
    assert len(sources) == len(set(sources)) == len(big) + 7


def test_ingest_cli_until_idle(
    spawn_ingest, fresh_kafka: KafkaConfig, fresh_pg: PgConfig, dataset: list[OrderLine]
) -> None:
    produce_records(fresh_kafka, to_records(dataset[:1000]))
    proc = spawn_ingest(fresh_pg, "--until-idle", "1.5")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert "ingested 1,000 lines, rejected 0" in out
    assert totals(fresh_pg) == (1000, dataset_stats(dataset[:1000]).sales, 0)


def _wait_for_offsets(pg: PgConfig, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with pg.connect() as conn:
                if conn.execute("SELECT count(*) FROM ingest_offsets").fetchone()[0]:
                    return
        except Exception:
            pass
        time.sleep(0.05)
    raise AssertionError("ingest never committed a batch")


def test_kill_9_mid_stream_loses_and_doubles_nothing(
    spawn_ingest, fresh_kafka: KafkaConfig, fresh_pg: PgConfig, dataset: list[OrderLine]
) -> None:
    produce_records(fresh_kafka, mix_bad(dataset, 5))
    proc = spawn_ingest(fresh_pg, "--batch-size", "200")
    _wait_for_offsets(fresh_pg)
    proc.kill()  # SIGKILL: no chance to clean up
    proc.wait()
    partial = totals(fresh_pg)
    assert 0 < partial[0] < 9_994, "killed mid-stream"
    again = spawn_ingest(fresh_pg, "--until-idle", "2")
    out, _ = again.communicate(timeout=180)
    assert again.returncode == 0, out
    assert totals(fresh_pg) == (9_994, SALES, 5)


def test_two_processes_share_partitions_through_a_rebalance(
    spawn_ingest, fresh_kafka: KafkaConfig, fresh_pg: PgConfig, dataset: list[OrderLine]
) -> None:
    produce_records(fresh_kafka, to_records(dataset))
    first = spawn_ingest(fresh_pg, "--batch-size", "100", "--until-idle", "3")
    _wait_for_offsets(fresh_pg)
    second = spawn_ingest(fresh_pg, "--batch-size", "100", "--until-idle", "3")  # rebalance
    out1, _ = first.communicate(timeout=180)
    out2, _ = second.communicate(timeout=180)
    assert first.returncode == 0 and second.returncode == 0, out1 + out2
    assert totals(fresh_pg) == (9_994, SALES, 0)
    assert "revoked" in out1, "the first process went through a rebalance"
    with fresh_pg.connect() as conn:
        stored = conn.execute("SELECT sum(next_offset) FROM ingest_offsets").fetchone()[0]
    assert stored == 9_994


def test_postgres_outage_pauses_then_resumes_exactly(
    tmp_path, fresh_kafka: KafkaConfig, dataset: list[OrderLine]
) -> None:
    """Stop PostgreSQL mid-stream: the consumer retries, skips nothing, and finishes exactly."""
    server = start_postgres(tmp_path / "pg", 0, report=lambda _: None)
    pg = PgConfig(server.address)
    produce_records(fresh_kafka, to_records(dataset))
    options = IngestOptions(batch_size=300, until_idle=4.0, progress_every=60.0)
    ingestor = Ingestor(fresh_kafka, pg, options)
    worker = threading.Thread(target=ingestor.run)
    worker.start()
    try:
        _wait_for_offsets(pg)
        stop_postgres(server)  # the database goes away mid-stream
        deadline = time.monotonic() + 60
        while ingestor.stats.retries == 0:  # it noticed, and waits for PostgreSQL
            assert worker.is_alive(), "the consumer waits for PostgreSQL instead of exiting"
            assert time.monotonic() < deadline, "no retry within 60 s of stopping PostgreSQL"
            time.sleep(0.05)
        assert worker.is_alive(), "the consumer waits for PostgreSQL instead of exiting"
        server = start_postgres(tmp_path / "pg", server.port, report=lambda _: None)
        worker.join(timeout=180)
        assert not worker.is_alive()
        assert totals(pg) == (9_994, SALES, 0)
        with pg.connect() as conn:
            stored = conn.execute("SELECT sum(next_offset) FROM ingest_offsets").fetchone()[0]
        assert stored == 9_994
    finally:
        stop_postgres(server)


def test_sigterm_stops_cleanly_after_a_whole_batch(
    spawn_ingest, fresh_kafka: KafkaConfig, fresh_pg: PgConfig, dataset: list[OrderLine]
) -> None:
    import signal

    produce_records(fresh_kafka, to_records(dataset))
    proc = spawn_ingest(fresh_pg, "--batch-size", "100")
    _wait_for_offsets(fresh_pg)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "ingested" in out and "Traceback" not in out
    lines, _, _ = totals(fresh_pg)
    with fresh_pg.connect() as conn:
        stored = conn.execute("SELECT sum(next_offset) FROM ingest_offsets").fetchone()[0]
    assert lines == stored, "every committed offset covers exactly the lines written"


def test_max_lines_stops_after_whole_batches(
    fresh_kafka: KafkaConfig, fresh_pg: PgConfig, dataset: list[OrderLine]
) -> None:
    produce_records(fresh_kafka, to_records(dataset))
    stats = run_ingest(fresh_kafka, fresh_pg, batch_size=500, max_lines=2_000)
    assert 2_000 <= stats.messages < 9_994
    assert totals(fresh_pg)[0] == stats.lines


def test_workers_share_partitions_and_sigterm_stops_them_all(
    spawn_ingest, fresh_kafka: KafkaConfig, fresh_pg: PgConfig, dataset: list[OrderLine]
) -> None:
    """`--workers 3` on a 3-partition topic: every worker gets a partition, totals are exact."""
    import signal

    produce_records(fresh_kafka, mix_bad(dataset, 6))
    proc = spawn_ingest(fresh_pg, "--workers", "3", "--batch-size", "500")
    _wait_for_offsets(fresh_pg, timeout=120)
    deadline = time.monotonic() + 180
    while totals(fresh_pg)[:2] != (9_994, SALES) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "3 workers ingested 9,994 lines, rejected 6" in out, out
    assert totals(fresh_pg) == (9_994, SALES, 6)
    with fresh_pg.connect() as conn:
        owners = conn.execute("SELECT count(*), sum(next_offset) FROM ingest_offsets").fetchone()
    assert owners == (fresh_kafka.partitions, 10_000)
    assert "Traceback" not in out


def test_workers_refuse_max_lines(spawn_ingest, fresh_pg: PgConfig) -> None:
    proc = spawn_ingest(fresh_pg, "--workers", "2", "--max-lines", "10")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "--max-lines" in out, out
