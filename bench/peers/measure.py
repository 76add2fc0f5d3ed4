"""Measuring every peer the same way, from PostgreSQL's side.

- When a line became visible: PostgreSQL's commit timestamp of the row
  (`track_commit_timestamp = on`, `pg_xact_commit_timestamp(xmin)`), exact to
  the microsecond and free of polling intervals. Throughput and latency are
  computed from it, never from a peer's own counters.
- Lost / doubled: expected keys and the exact sum of sales against the table.
- Deliveries: a BEFORE INSERT trigger logs every committed write attempt of a
  line (INSERT ... ON CONFLICT fires it for each proposed row, even when the
  upsert then updates or skips), so a line applied twice after a crash shows
  up even where an idempotent upsert leaves the data right.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

import psutil

from superstore.clients import PgConfig
from superstore.settings import Settings
from superstore.stack import pg_admin_config, pg_config, stack_up
from superstore.stack.postgres import stop_postgres
from superstore.stack.state import read_state

__all__ = [
    "Expected",
    "commit_span",
    "cpu_seconds",
    "enable_commit_timestamps",
    "install_delivery_log",
    "latencies",
    "outcome",
    "visible",
    "wait_visible",
]

_DELIVERY_LOG = """
CREATE TABLE line_deliveries (order_id text NOT NULL, line_number integer NOT NULL);
CREATE FUNCTION log_line_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO line_deliveries VALUES (NEW.order_id, NEW.line_number);
  RETURN NEW;
END $$;
CREATE TRIGGER line_delivery BEFORE INSERT ON {table}
  FOR EACH ROW EXECUTE FUNCTION log_line_delivery();
"""


@dataclass(frozen=True)
class Expected:
    """What a topic holds: distinct lines and their exact sales sum."""

    lines: int
    sales: Decimal


def enable_commit_timestamps(settings: Settings) -> None:
    """Turn on track_commit_timestamp on the bench server (needs a restart).

    ALTER SYSTEM takes the superuser: the pipeline's roles have no such right.
    """
    with pg_admin_config(settings).connect(autocommit=True) as conn:
        if conn.execute("SHOW track_commit_timestamp").fetchone()[0] == "on":
            return
        conn.execute("ALTER SYSTEM SET track_commit_timestamp = on")
    state = read_state(settings.data_dir)
    assert state and state.postgres, "the bench stack runs its own PostgreSQL"
    stop_postgres(state.postgres)
    stack_up(settings)
    with pg_config(settings).connect(autocommit=True) as conn:
        assert conn.execute("SHOW track_commit_timestamp").fetchone()[0] == "on"


def visible(pg: PgConfig, table: str) -> int:
    """Lines committed in `table` now."""
    with pg.connect(autocommit=True) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def wait_visible(
    pg: PgConfig,
    table: str,
    target: int,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    poll: float = 1.0,
    on_poll: Callable[[int], None] = lambda _: None,
) -> int:
    """Poll until `target` lines are visible, `timeout` passes or the peer dies."""
    deadline = time.monotonic() + timeout
    count = visible(pg, table)
    while count < target and time.monotonic() < deadline and alive():
        time.sleep(poll)
        count = visible(pg, table)
        on_poll(count)
    return count


def cpu_seconds(pids: Iterable[int]) -> float:
    """CPU time (user + system) used so far by these processes and all their descendants.

    Exited descendants count through their parent's children times once reaped
    (PostgreSQL backends of closed connections), live ones through their own.
    """
    total, seen = 0.0, set()
    for pid in pids:
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for proc in tree:
            if proc.pid in seen:
                continue
            seen.add(proc.pid)
            try:
                t = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system + t.children_user + t.children_system
    return total


def commit_span(pg: PgConfig, table: str) -> dict[str, float | int | None]:
    """First and last commit time (epoch s) of the table's rows, and rows after the first."""
    with pg.connect(autocommit=True) as conn:
        first, last, rows, after_first = conn.execute(
            f"""WITH c AS (SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 AS t
                           FROM {table})
                SELECT min(t), max(t), count(*), count(*) FILTER (WHERE t > (SELECT min(t) FROM c))
                FROM c"""
        ).fetchone()
    return {"first": first, "last": last, "rows": rows, "rows_after_first": after_first}


def latencies(pg: PgConfig, table: str, sent: dict[tuple[str, int], float]) -> dict[str, object]:
    """Produce-call-to-commit latency of the lines in `sent` (ms percentiles)."""
    with pg.connect(autocommit=True) as conn:
        rows = conn.execute(
            f"SELECT order_id, line_number,"
            f" extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 FROM {table}"
        ).fetchall()
    ms = sorted((t - sent[(o, n)]) * 1000 for o, n, t in rows if (o, n) in sent)
    if not ms:
        return {"lines": len(sent), "visible": 0}

    def pct(p: float) -> float:
        return round(ms[min(len(ms) - 1, int(p / 100 * len(ms)))], 1)

    return {
        "lines": len(sent),
        "visible": len(ms),
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "max_ms": round(ms[-1], 1),
    }


def install_delivery_log(pg: PgConfig, table: str) -> None:
    """Log every committed write attempt of a line (see the module docstring)."""
    with pg.connect(autocommit=True) as conn:
        conn.execute(_DELIVERY_LOG.format(table=table))


def outcome(pg: PgConfig, table: str, expected: Expected) -> dict[str, object]:
    """Lost and doubled lines, and lines the peer applied more than once."""
    with pg.connect(autocommit=True) as conn:
        totals = f"SELECT count(*), coalesce(sum(sales), 0) FROM {table}"
        rows, sales = conn.execute(totals).fetchone()
        attempts, distinct, multi = conn.execute(
            """SELECT coalesce(sum(n), 0), count(*), count(*) FILTER (WHERE n > 1)
               FROM (SELECT count(*) AS n FROM line_deliveries
                     GROUP BY order_id, line_number) d"""
        ).fetchone()
    return {
        "rows": rows,
        "lost": max(expected.lines - rows, 0),
        "doubled": max(rows - expected.lines, 0),
        "sales_exact": sales == expected.sales,
        "sales_diff": str(sales - expected.sales),
        "lines_applied_twice_or_more": multi,
        "extra_applications": int(attempts - distinct),
    }
