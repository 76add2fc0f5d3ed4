"""The dashboards under load from a second process (bench/load.py) on loopback.

- 200 /today viewers on the SSE stream while orders are committed: every
  viewer stays connected and receives every update, in order, none skipped.
- The analytics API at 50 concurrent clients for 12 s: no errors, and every
  answer under load is byte for byte the answer given to a lone client.

Each takes well under a minute; the measured rates are printed (-s), the
benchmarks (bench/dashboard.py, bench/freshness.py) hold the targets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from bench.dashboard import analytics_paths, filter_cases
from superstore.clients import PgConfig
from superstore.contract import OrderLine
from superstore.oltp import load_lines_direct
from superstore.web import DashboardServer
from tests.support.webstar import new_order

ROOT = Path(__file__).resolve().parents[2]
VIEWERS = 200
UPDATES = 30
UPDATE_EVERY = 0.3  # seconds between commits: each viewer can take each one


@contextmanager
def _load(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m bench.load ARGS` in its own process, stopped (SIGTERM) at the end."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.load", *args], cwd=ROOT, stdout=out, stderr=out
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _until(what: str, ready: Callable[[], bool], timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"the load client exited while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f}s waiting for {what}"
        time.sleep(0.05)


def _status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


@pytest.mark.timeout(120)
def test_200_viewers_each_receive_every_update(
    server: DashboardServer, web_pg: PgConfig, dataset: list[OrderLine], tmp_path: Path
) -> None:
    day = dt.date(2032, 6, 7)  # a day only this test writes
    status, events = tmp_path / "status.json", tmp_path / "events.txt"
    url = f"{server.url}/api/today/stream?date={day}"
    args = ["sse", url, "--viewers", str(VIEWERS), "--events", str(events), "--status", str(status)]
    with _load(args, tmp_path / "load.log") as proc:
        _until(
            f"{VIEWERS} viewers' first snapshot",
            lambda: _status(status).get("first_events") == VIEWERS,
            60,
            proc,
        )
        totals, committed = [0], []
        for n in range(UPDATES):
            lines = 1 + n % 3
            load_lines_direct(web_pg, new_order(dataset[n], f"LOAD-{n}", day, lines=lines))
            committed.append(time.time())
            totals.append(totals[-1] + lines)
            time.sleep(UPDATE_EVERY)
        _until(
            "every viewer's last update",
            lambda: _status(status).get("min_lines") == totals[-1],
            30,
            proc,
        )
        final = _status(status)
    assert proc.returncode == 0, (tmp_path / "load.log").read_text()[-2000:]
    assert final["connected"] == VIEWERS and final["dropped"] == 0, final

    seen: dict[int, list[tuple[float, int]]] = {v: [] for v in range(VIEWERS)}
    ended = []
    for row in events.read_text().splitlines():
        viewer, received, *rest = row.split()
        if received == "END":
            ended.append(row)
            continue
        assert rest[-1] == str(day)
        seen[int(viewer)].append((float(received), int(rest[0])))
    assert ended == []  # stopped by the test, not dropped by the server
    delays = []
    for viewer, got in seen.items():
        counts = [lines for _, lines in got]
        distinct = [c for i, c in enumerate(counts) if i == 0 or c != counts[i - 1]]
        assert distinct == totals, f"viewer {viewer} received {distinct}, not every update"
        firsts = {c: t for t, c in reversed(got)}  # the first event showing each total
        delays += [firsts[t] - at for t, at in zip(totals[1:], committed, strict=True)]
    delays.sort()
    p99 = delays[int(0.99 * len(delays))]
    print(
        f"{VIEWERS} viewers x {UPDATES} updates: commit -> event p50 "
        f"{delays[len(delays) // 2] * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {delays[-1] * 1000:.0f} ms"
    )
    assert p99 < 1.0, f"p99 commit -> every viewer's event {p99:.2f}s"


@pytest.mark.timeout(120)
def test_analytics_api_holds_50_concurrent_clients(server: DashboardServer, tmp_path: Path) -> None:
    paths = analytics_paths(filter_cases(60))
    (tmp_path / "paths.txt").write_text("\n".join(paths))
    with httpx.Client(base_url=server.url, timeout=30) as client:  # each answer, alone
        alone = {p: hashlib.sha256(client.get(p).raise_for_status().content).hexdigest()
                 for p in paths}  # fmt: skip
    out = tmp_path / "load.json"
    args = [
        "http", server.url, "--paths", str(tmp_path / "paths.txt"), "--concurrency", "50",
        "--seconds", "12", "--warmup", "2", "--no-gzip", "--out", str(out),
    ]  # fmt: skip
    with _load(args, tmp_path / "load.log") as proc:
        assert proc.wait(60) == 0, (tmp_path / "load.log").read_text()[-2000:]
    result = json.loads(out.read_text())
    print(
        f"analytics at 50 clients: {result['req_per_s']:,.0f} req/s, p50 {result['p50_ms']} ms, "
        f"p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms ({result['requests']:,} requests)"
    )
    assert result["error_count"] == 0, result["errors"]
    assert len(result["distinct_bodies"]) == len(paths)  # every path answered under load
    wrong = {p: b for p, b in result["distinct_bodies"].items() if b != [alone[p]]}
    assert not wrong, f"answers under load differ from the lone answer: {list(wrong)[:3]}"
    assert result["p95_ms"] < 1000
