"""Kafka Connect standalone + the Debezium JDBC sink, upserting into a flat table.

Debezium's JDBC sink needs a schema for every record (it maps Connect types
to columns), and Maven Central serves no schema registry (Confluent's are not
there). So this peer reads a schema-ful copy of the topic: each message is the
same line wrapped as `{"schema": ..., "payload": ...}` for Connect's
JsonConverter with schemas.enable=true, money as Connect Decimal(scale 4) and
dates as Connect Date. The copy is produced before the clock starts; it makes
each message about 4x larger, which is this peer's real cost of JSON without
a registry. One sink cannot upsert into several tables per record, so it
writes a flat `order_lines_flat` table keyed by (order_id, line_number).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from superstore.stack.tools import find_java, resource_path

from .base import Peer, PeerProcess, Target, resolve_jars

__all__ = ["ConnectDefaultsPeer", "ConnectPeer", "to_connect_json"]

_TEXT = (
    "ship_mode", "customer_id", "customer_name", "segment", "country", "city", "state",
)  # fmt: skip
_PRODUCT = ("product_id", "category", "sub_category", "product_name")
_MONEY = ("sales", "discount", "profit")
_DATES = ("order_date", "ship_date")
_EPOCH = dt.date(1970, 1, 1)


def _field(name: str, kind: str, optional: bool = False, logical: str = "") -> dict:
    out: dict = {"field": name, "type": kind, "optional": optional}
    if logical == "date":
        out |= {"name": "org.apache.kafka.connect.data.Date", "version": 1}
    elif logical == "decimal":
        out |= {"name": "org.apache.kafka.connect.data.Decimal", "version": 1}
        out["parameters"] = {"scale": "4", "connect.decimal.precision": "18"}
    return out


_SCHEMA = {
    "type": "struct",
    "name": "superstore.OrderLine",
    "optional": False,
    "fields": [
        _field("schema_version", "int32"),
        _field("order_id", "string"),
        _field("line_number", "int32"),
        _field("row_id", "int32", optional=True),
        *[_field(n, "int32", logical="date") for n in _DATES],
        *[_field(n, "string") for n in _TEXT],
        _field("postal_code", "string", optional=True),
        _field("region", "string"),
        *[_field(n, "string") for n in _PRODUCT],
        _field("sales", "bytes", logical="decimal"),
        _field("quantity", "int32", optional=True),
        _field("discount", "bytes", optional=True, logical="decimal"),
        _field("profit", "bytes", optional=True, logical="decimal"),
    ],
}
_SCHEMA_JSON = json.dumps(_SCHEMA, separators=(",", ":")).encode()

FLAT_DDL = """
CREATE TABLE order_lines_flat (
    schema_version integer, order_id text NOT NULL, line_number integer NOT NULL,
    row_id integer, order_date date NOT NULL, ship_date date NOT NULL, ship_mode text NOT NULL,
    customer_id text NOT NULL, customer_name text NOT NULL, segment text NOT NULL,
    country text NOT NULL, city text NOT NULL, state text NOT NULL, postal_code text,
    region text NOT NULL, product_id text NOT NULL, category text NOT NULL,
    sub_category text NOT NULL, product_name text NOT NULL, sales numeric(18,4) NOT NULL,
    quantity integer, discount numeric(6,4), profit numeric(18,4),
    PRIMARY KEY (order_id, line_number)
)
"""


_RETYPE = re.compile(
    rb'"(order_date|ship_date)":"(\d{4}-\d{2}-\d{2})"|"(sales|discount|profit)":"(-?[0-9.]+)"'
)


@lru_cache(maxsize=8192)
def _days(text: bytes) -> int:
    return (dt.date.fromisoformat(text.decode()) - _EPOCH).days


def _retype(match: re.Match[bytes]) -> bytes:
    if match.group(1):
        return b'"%s":%d' % (match.group(1), _days(match.group(2)))
    return b'"%s":%s' % (match.group(3), match.group(4))


def to_connect_json(value: bytes) -> bytes:
    """A wire line as Connect's JsonConverter (schemas.enable=true) reads it.

    The payload is the wire JSON itself with dates as days since the epoch and
    money as JSON numbers carrying the wire's exact digits (the converter reads
    numbers as BigDecimal). A regex, not json.loads/dumps: 6x faster here.
    """
    return b'{"schema":%s,"payload":%s}' % (_SCHEMA_JSON, _RETYPE.sub(_retype, value))


@dataclass
class ConnectPeer(Peer):
    """ConnectStandalone with one Debezium JdbcSinkConnector task in upsert mode."""

    name = "connect"
    label = "Kafka Connect + Debezium JDBC sink"
    wire = "connect-json"
    table = "order_lines_flat"
    writes = "flat order_lines_flat table, upsert on (order_id, line_number)"
    delivery = (
        "at least once: offsets committed to Kafka every offset.flush.interval.ms; "
        "idempotent by upsert"
    )

    def __post_init__(self) -> None:
        self.settings = {
            "tasks.max": 2,  # one task per core, as ours runs --workers 2
            "batch.size": 5_000,  # default 500: 5,286 vs 7,360 lines/s in a tuning run
            "offset.flush.interval.ms": 60_000,
            "consumer.max.poll.records": 5_000,  # default 500
            "consumer.session.timeout.ms": 10_000,
            "jdbc_url_options": "reWriteBatchedInserts=true",
            "heap": "1g",
            **self.settings,
        }

    def encode(self, value: bytes) -> bytes:
        return to_connect_json(value)

    def prepare(self, target: Target) -> None:
        with target.pg.connect(autocommit=True) as conn:
            conn.execute(FLAT_DDL)

    def _libs(self) -> Path:
        assert self.cache_dir is not None
        return resolve_jars("connect-pom.xml", self.cache_dir, "connect-runtime-*.jar")

    def start(self, target: Target) -> PeerProcess:
        libs = self._libs()
        java = find_java(None).path
        pg = target.pg_params
        s = self.settings
        worker = target.work_dir / "connect-worker.properties"
        worker.write_text(
            f"bootstrap.servers={target.kafka.bootstrap}\n"
            "key.converter=org.apache.kafka.connect.storage.StringConverter\n"
            "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
            "value.converter.schemas.enable=true\n"
            f"offset.storage.file.filename={target.work_dir / 'connect.offsets'}\n"
            f"offset.flush.interval.ms={s['offset.flush.interval.ms']}\n"
            f"consumer.session.timeout.ms={s['consumer.session.timeout.ms']}\n"
            f"consumer.max.poll.records={s['consumer.max.poll.records']}\n"
            "consumer.isolation.level=read_committed\n"
            "listeners=http://127.0.0.1:0\n"
            "plugin.discovery=only_scan\n"
        )
        sink = target.work_dir / "connect-sink.properties"
        sink.write_text(
            f"name={target.run_id}\n"
            "connector.class=io.debezium.connector.jdbc.JdbcSinkConnector\n"
            f"tasks.max={s['tasks.max']}\n"
            f"topics={target.kafka.topic}\n"
            f"connection.url=jdbc:postgresql://{pg['host']}:{pg['port']}/{pg['dbname']}"
            f"?{s['jdbc_url_options']}\n"
            f"connection.username={pg.get('user', 'postgres')}\n"
            f"connection.password={pg.get('password', '')}\n"
            "insert.mode=upsert\n"
            "primary.key.mode=record_value\n"
            "primary.key.fields=order_id,line_number\n"
            "schema.evolution=none\n"
            f"collection.name.format={self.table}\n"
            f"batch.size={s['batch.size']}\n"
        )
        cmd = [
            java, f"-Xmx{s['heap']}",
            f"-Dlog4j2.configurationFile={resource_path('log4j2.properties')}",
            "-cp", f"{libs}/*", "org.apache.kafka.connect.cli.ConnectStandalone",
            str(worker), str(sink),
        ]  # fmt: skip
        return PeerProcess(self.name, cmd, target.log_path(self.name))

    def versions(self) -> dict[str, str]:
        libs = self._libs()
        wanted = ("connect-runtime-", "debezium-connector-jdbc-", "postgresql-", "hibernate-core-")
        return {
            jar.stem.rsplit("-", 1)[0]: jar.stem.rsplit("-", 1)[1]
            for jar in sorted(libs.glob("*.jar"))
            if jar.name.startswith(wanted)
        }


@dataclass
class ConnectDefaultsPeer(ConnectPeer):
    """The same sink with Debezium's and the consumer's default batch sizes (500)."""

    name = "connect_defaults"
    label = "Kafka Connect + Debezium JDBC sink (default batch sizes)"

    def __post_init__(self) -> None:
        self.settings = {"batch.size": 500, "consumer.max.poll.records": 500, **self.settings}
        super().__post_init__()
