"""The shape of the local stack: how many Kafka nodes, whether PostgreSQL has a standby.

`stack.json` records running processes and is deleted by `stack down`; the
shape is a property of the data on disk, so it is kept beside that data in
`topology.json` and outlives `down` (only `--purge` forgets it). A later
`stack up` without flags therefore starts the same cluster, and after a
failover never starts the old PostgreSQL primary as a second primary: the
file names which node is primary now.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from superstore.errors import ConfigError, InputError

__all__ = [
    "CLUSTER_SIZE",
    "PG_NODES",
    "Topology",
    "clear_topology",
    "read_topology",
    "resolve_topology",
    "write_topology",
]

TOPOLOGY_FILE = "topology.json"
CLUSTER_SIZE = 3
# Home directories of the PostgreSQL nodes under the data dir, in DSN order:
# the first is where a stack without a standby has always kept its server.
PG_NODES = ("postgres", "postgres-2")


@dataclass(frozen=True)
class Topology:
    """What `stack up` starts locally (services given by configuration aside)."""

    brokers: int = 1
    pg_standby: bool = False
    pg_primary: str = PG_NODES[0]

    @property
    def pg_other(self) -> str:
        """Home of the PostgreSQL node that is not the primary."""
        return PG_NODES[1] if self.pg_primary == PG_NODES[0] else PG_NODES[0]

    @property
    def pg_pair(self) -> bool:
        """True when PostgreSQL is managed as two nodes (standby now or after a failover)."""
        return self.pg_standby or self.pg_primary != PG_NODES[0]


def read_topology(data_dir: Path) -> Topology | None:
    """The recorded shape, or None when none was recorded."""
    try:
        raw = json.loads((data_dir / TOPOLOGY_FILE).read_text())
    except (OSError, ValueError):
        return None
    return Topology(
        brokers=int(raw.get("brokers", 1)),
        pg_standby=bool(raw.get("pg_standby", False)),
        pg_primary=raw.get("pg_primary", PG_NODES[0]),
    )


def write_topology(data_dir: Path, topology: Topology) -> None:
    """Record the shape atomically."""
    path = data_dir / TOPOLOGY_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(topology), indent=2))
    tmp.chmod(0o600)
    os.replace(tmp, path)


def clear_topology(data_dir: Path) -> None:
    """Forget the shape (with the data it describes)."""
    (data_dir / TOPOLOGY_FILE).unlink(missing_ok=True)


def _formatted_brokers(data_dir: Path) -> int | None:
    """How many Kafka nodes the storage under the data dir was formatted for, if any."""
    kafka = data_dir / "kafka"
    if (kafka / "node-1" / "logs" / "meta.properties").exists():
        return CLUSTER_SIZE
    if (kafka / "logs" / "meta.properties").exists():
        return 1
    return None


def resolve_topology(
    data_dir: Path, brokers: int | None, pg_standby: bool | None, external_kafka: bool = False
) -> Topology:
    """The shape to start: the flags where given, else the recorded one, else defaults.

    A different number of brokers over formatted storage is refused: the
    topics and offsets live in that storage, and silently starting an empty
    cluster beside it would look like data loss.
    """
    if brokers is not None and brokers not in (1, CLUSTER_SIZE):
        raise InputError(f"--brokers takes 1 or {CLUSTER_SIZE}, not {brokers}")
    recorded = read_topology(data_dir)
    on_disk = _formatted_brokers(data_dir)
    base = recorded or Topology(brokers=on_disk or 1)
    wanted = brokers if brokers is not None else base.brokers
    if not external_kafka and on_disk is not None and wanted != on_disk:
        raise ConfigError(
            f"the Kafka storage in {data_dir / 'kafka'} belongs to a {on_disk}-broker stack,"
            f" not {wanted}",
            hint="run `superstore stack down --purge` first to start over with another size",
        )
    standby = base.pg_standby if pg_standby is None else pg_standby
    return replace(base, brokers=wanted, pg_standby=standby)
