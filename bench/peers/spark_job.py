"""The Spark Structured Streaming peer, run as its own process by `bench.peers.spark`.

Kafka source -> foreachBatch: JDBC append into an UNLOGGED staging table, then,
in ONE psycopg transaction, the project's own set-based upserts into the OLTP
schema (`superstore.oltp.write_wide`) plus the micro-batch id. A
micro-batch that Spark replays after a crash (same batch id, same offsets, from
its checkpoint) is skipped when its id is already stored: the deduplication
that Spark's foreachBatch documentation prescribes for exactly-once output.

    python -m bench.peers.spark_job --bootstrap H:P --topic T --dsn DSN --jdbc-url URL \
        --checkpoint DIR --jars a.jar,b.jar [--max-offsets N]
"""

from __future__ import annotations

import argparse

import psycopg

from superstore.oltp import WIDE_COLUMNS, wide_table_ddl, write_wide

BATCHES_DDL = """
CREATE TABLE IF NOT EXISTS spark_batches (
    batch_id bigint PRIMARY KEY, committed_at timestamptz NOT NULL DEFAULT now()
)"""


# One wide row per line (WIDE_COLUMNS): JDBC needs a real table, and write_wide()
# spreads it into the ingest's own staging tables.
WIDE_TABLE = "spark_stage"


def _create_staging(dsn: str) -> None:
    """The wide staging table the JDBC sink appends to, and the batch ledger."""
    with psycopg.connect(dsn) as conn:
        conn.execute(wide_table_ddl(WIDE_TABLE))
        conn.execute(BATCHES_DDL)


_INTS = {"line_number", "row_id", "quantity"}
_DATES = {"order_date", "ship_date"}
_MONEY = {"sales": "decimal(18,4)", "profit": "decimal(18,4)", "discount": "decimal(6,4)"}


def _typed_lines(spark, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F
    from pyspark.sql.types import IntegerType, StringType, StructField, StructType

    line_fields = WIDE_COLUMNS[:-3]
    schema = StructType(
        [StructField(n, IntegerType() if n in _INTS else StringType()) for n in line_fields]
    )
    source = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", args.bootstrap)
        .option("subscribe", args.topic)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", args.max_offsets)
        .option("kafka.isolation.level", "read_committed")
        .load()
    )
    doc = F.from_json(F.col("value").cast("string"), schema).alias("d")
    rows = source.select(doc, "topic", "partition", "offset")

    def typed(name: str):  # type: ignore[no-untyped-def]
        col = F.col(f"d.{name}")
        if name in _DATES:
            return F.to_date(col).alias(name)
        if name in _MONEY:
            return col.cast(_MONEY[name]).alias(name)
        return col.alias(name)

    return rows.select(
        *[typed(n) for n in line_fields],
        F.col("topic").alias("src_topic"),
        F.col("partition").alias("src_partition"),
        F.col("offset").alias("src_offset"),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    for flag in ("--bootstrap", "--topic", "--dsn", "--jdbc-url", "--checkpoint", "--jars"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--max-offsets", type=int, default=50_000)
    parser.add_argument("--jdbc-batch", type=int, default=10_000)
    args = parser.parse_args()

    _create_staging(args.dsn)

    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("superstore-bench-spark-peer")
        .config("spark.jars", args.jars)
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    jdbc_props = {"driver": "org.postgresql.Driver", "batchsize": str(args.jdbc_batch)}

    def write(batch, batch_id: int) -> None:  # type: ignore[no-untyped-def]
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            done = conn.execute(
                "SELECT 1 FROM spark_batches WHERE batch_id = %s", [batch_id]
            ).fetchone()
            if done:
                return  # replayed after a crash: already committed
            conn.execute("TRUNCATE spark_stage")  # leftovers of a killed attempt
            batch.write.jdbc(args.jdbc_url, "spark_stage", mode="append", properties=jdbc_props)
            with conn.transaction():
                write_wide(conn, WIDE_TABLE)
                conn.execute("INSERT INTO spark_batches (batch_id) VALUES (%s)", [batch_id])
                conn.execute("TRUNCATE spark_stage")

    query = (
        _typed_lines(spark, args)
        .writeStream.foreachBatch(write)
        .option("checkpointLocation", args.checkpoint)
        .start()
    )
    query.awaitTermination()


if __name__ == "__main__":
    main()
