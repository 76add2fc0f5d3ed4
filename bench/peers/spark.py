"""Spark Structured Streaming (pyspark, local[2]) with foreachBatch into the OLTP schema.

The job (`bench.peers.spark_job`) stages each micro-batch over JDBC and runs the
project's own upsert SQL in one transaction with the batch id, so it writes
exactly what ours writes. Spark's Kafka source jar matches the installed
pyspark; it and the PostgreSQL driver are resolved with Maven like the broker.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from superstore.errors import FatalError
from superstore.oltp import migrate
from superstore.stack.tools import resolve_maven_jars

from .base import RESOURCES, Peer, PeerProcess, Target, python_command

__all__ = ["SparkPeer", "spark_version"]

_HINT = "install superstore[spark] (pyspark) to run the Spark peer"


def spark_version() -> str:
    """The installed pyspark's version; a helpful error without the [spark] extra."""
    try:
        import pyspark
    except ImportError as exc:
        raise RuntimeError(_HINT) from exc
    return pyspark.__version__


def _jars(cache_dir: Path) -> list[Path]:
    """Maven-resolved jars that pyspark does not ship already (Kafka source, JDBC driver)."""
    pom = RESOURCES / "spark-pom.xml"
    text = pom.read_text()
    pom_version = re.search(r"<spark.version>([^<]+)</spark.version>", text).group(1)
    installed = spark_version()
    if installed != pom_version:
        # The Kafka source should match the installed Spark (pip may pick any 4.0.x in
        # pyproject's range): resolve a copy of the pom pinned to it. When Maven Central
        # serves no such connector (4.0.5 here, 2026-11), fall back to the pom's own
        # patch release of the same 4.0 line and say so.
        pinned = cache_dir / f"spark-pom-{installed}.xml"
        cache_dir.mkdir(parents=True, exist_ok=True)
        pinned.write_text(
            text.replace(
                f"<spark.version>{pom_version}</spark.version>",
                f"<spark.version>{installed}</spark.version>",
            )
        )
        try:
            resolve_maven_jars(pinned, cache_dir, "spark-sql-kafka-*.jar", name="spark-pom")
            pom = pinned
        except FatalError:
            print(
                f"  spark peer: no spark-sql-kafka {installed} on Maven Central; "
                f"using {pom_version} (same 4.0 line) with pyspark {installed}"
            )
    import pyspark

    shipped = {
        re.sub(r"-\d[^-]*$", "", jar.stem)
        for jar in (Path(pyspark.__file__).parent / "jars").glob("*.jar")
    }
    libs = resolve_maven_jars(pom, cache_dir, "spark-sql-kafka-*.jar", name="spark-pom")[0]
    return sorted(
        jar for jar in libs.glob("*.jar") if re.sub(r"-\d[^-]*$", "", jar.stem) not in shipped
    )


@dataclass
class SparkPeer(Peer):
    """One streaming query, checkpointed under the run's work dir."""

    name = "spark"
    label = "Spark Structured Streaming"
    writes = "OLTP schema via JDBC staging + the project's upsert SQL (multi-table)"
    delivery = (
        "exactly once: Spark checkpoint replays a batch with the same id; the id is stored "
        "in the upsert transaction and a replayed id is skipped"
    )

    def __post_init__(self) -> None:
        self.settings = {
            "master": "local[2]",
            "maxOffsetsPerTrigger": 50_000,
            "jdbc_batchsize": 10_000,
            "jdbc_url_options": "reWriteBatchedInserts=true",
            "trigger": "default (next micro-batch as soon as the previous ends)",
            **self.settings,
        }

    def prepare(self, target: Target) -> None:
        migrate(target.pg)

    def start(self, target: Target) -> PeerProcess:
        assert self.cache_dir is not None
        jars = ",".join(str(j) for j in _jars(self.cache_dir))
        pg = target.pg_params
        url = (
            f"jdbc:postgresql://{pg['host']}:{pg['port']}/{pg['dbname']}"
            f"?user={pg.get('user', 'postgres')}&{self.settings['jdbc_url_options']}"
        )
        cmd = python_command(
            "bench.peers.spark_job", "--bootstrap", target.kafka.bootstrap,
            "--topic", target.kafka.topic, "--dsn", target.pg.dsn, "--jdbc-url", url,
            "--checkpoint", str(target.work_dir / "spark-checkpoint"), "--jars", jars,
            "--max-offsets", str(self.settings["maxOffsetsPerTrigger"]),
            "--jdbc-batch", str(self.settings["jdbc_batchsize"]),
        )  # fmt: skip
        env = {
            "SPARK_LOCAL_IP": "127.0.0.1",  # loopback only, never the host's interfaces
            "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
        }
        return PeerProcess(self.name, cmd, target.log_path(self.name), env)

    def versions(self) -> dict[str, str]:
        assert self.cache_dir is not None
        out = {"pyspark": spark_version()}
        for jar in _jars(self.cache_dir):
            out[re.sub(r"-\d[^-]*$", "", jar.stem)] = jar.stem.rsplit("-", 1)[1]
        return out
