"""A database that lost commits the consumer saw (asynchronous failover) is re-read, not skipped.

When a primary dies, a promoted asynchronous standby may lack its last
transactions: rows AND offsets of the same batches, since they commit
together. The consumer still remembers the positions it committed there; its
next batch must then be refused (fenced) and the partition re-read from the
offsets the new primary holds, never written after a gap.
"""

from __future__ import annotations

import pytest

from superstore.clients import KafkaConfig, PgConfig
from superstore.contract import OrderLine
from superstore.ingest import BatchReport, IngestOptions, Ingestor
from superstore.oltp import migrate
from superstore.oltp.batch import Batch, FencedError, StagedLine, write_batch
from superstore.produce import produce_records
from tests.support.faults import assert_ingested_exactly, stored_offsets, synthetic_stream


def test_a_batch_expecting_a_stored_offset_the_database_lacks_is_fenced(
    fresh_pg: PgConfig, dataset: list[OrderLine]
) -> None:
    migrate(fresh_pg)
    staged = [StagedLine.from_line(x, "t", 0, i) for i, x in enumerate(dataset[:10])]
    with fresh_pg.connect(autocommit=True) as conn:
        with pytest.raises(FencedError, match="lost commits"):  # offset 5 was never stored here
            write_batch(conn, "g", Batch(lines=staged[5:], offsets={("t", 0): (5, 10)}))
        assert conn.execute("SELECT count(*) FROM order_lines").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM ingest_offsets").fetchone()[0] == 0


def test_commits_lost_under_a_running_consumer_are_read_again(
    fresh_kafka: KafkaConfig, fresh_pg: PgConfig, dataset: list[OrderLine]
) -> None:
    """After its first batch commits, the database forgets it (as a promoted standby that
    never received it would); the consumer goes on and must still end exact."""
    records, expected = synthetic_stream(dataset, 30_000)
    produce_records(fresh_kafka, records)
    forgotten: list[dict[int, int]] = []

    def forget_first(report: BatchReport) -> None:
        if forgotten:
            return
        forgotten.append(stored_offsets(fresh_pg, fresh_kafka.topic))
        with fresh_pg.connect(autocommit=True) as conn:
            conn.execute("TRUNCATE order_lines, orders, customers, products, ingest_offsets")

    options = IngestOptions(group_id="superstore-ingest", batch_size=5_000, until_idle=2.0)
    stats = Ingestor(fresh_kafka, fresh_pg, options, on_batch=forget_first).run()
    assert forgotten and sum(forgotten[0].values()) > 0, "the first batch was committed, then lost"
    assert stats.fenced >= 1, "the next batch found the offsets it expected missing"
    assert sum(stored_offsets(fresh_pg, fresh_kafka.topic).values()) == 30_000
    assert_ingested_exactly(fresh_pg, expected)
