"""A load client in its own process: many /today viewers on SSE, or many analytics clients.

    python -m bench.load sse  URL --viewers 200 --events OUT [--status FILE]
    python -m bench.load http BASE --paths FILE --concurrency 50 --seconds 12 --out OUT.json

Why its own process, and why plain asyncio sockets: the load must not share
the server's interpreter (its GIL would slow the server being measured), and
on 2 cores the client's own CPU comes out of the server's share. A
general-purpose client (httpx) costs several times more per request than
this HTTP/1.1 keep-alive loop, which only writes a GET and reads the status,
headers and a Content-Length or chunked body; what it measures is the
server's answer, not the client's parsing. Nothing is retried: a dropped
stream or a failed request is counted, never hidden.

sse: each viewer opens ``URL`` as an EventSource does and keeps every
``snapshot`` event's receive time, line count, build time and day. A viewer
whose stream ends or fails is *dropped* (not reconnected). ``--status`` is
rewritten a few times a second (viewers connected, first events seen, the
lowest and highest line count seen, dropped) so a parent can follow; on
SIGTERM or SIGINT the events go to ``--events`` (one line per event:
``viewer received lines generated date``, then ``viewer END reason`` for
each dropped viewer) and the process exits 0.

http: ``--concurrency`` clients, one keep-alive connection each, cycle
through ``--paths`` (one path per line, each client starting at its own
offset) as fast as answers come, for ``--warmup`` then ``--seconds``
seconds. Only requests sent and answered inside the measured window count.
The JSON result: requests, errors (non-200 or failed, by kind), req/s, the
latency percentiles, and per path the sha256 of every distinct body seen
(a correct server under load gives one per path).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Connection", "in_rounds", "main", "percentiles"]

ROOT = Path(__file__).resolve().parents[1]


class Connection:
    """One HTTP/1.1 keep-alive connection to a loopback server (no TLS, no redirects)."""

    def __init__(self, host: str, port: int, gzip: bool) -> None:
        self.host, self.port = host, port
        self._extra = b"Accept-Encoding: gzip\r\n" if gzip else b""
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    def send(self, path: str, accept: str = "application/json") -> None:
        assert self.writer is not None
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAccept: {accept}\r\n"
            "Connection: keep-alive\r\n".encode()
            + self._extra
            + b"\r\n"
        )

    async def head(self) -> tuple[int, dict[bytes, bytes]]:
        """The status code and (lower-cased) headers of the next response."""
        assert self.reader is not None
        status = await self.reader.readline()
        if not status:
            raise ConnectionError("closed by the server")
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b"\n", b""):
            key, _, value = line.partition(b":")
            headers[key.strip().lower()] = value.strip()
        return int(status.split()[1]), headers

    async def chunk(self) -> bytes:
        """The next chunk of a chunked body (b"" at its end)."""
        assert self.reader is not None
        size = int((await self.reader.readline()).split(b";")[0], 16)
        data = await self.reader.readexactly(size + 2)
        return data[:-2]

    async def get(self, path: str) -> tuple[int, bytes]:
        """One request on this connection: (status, body, gunzipped if it came gzipped)."""
        assert self.reader is not None
        self.send(path)
        status, headers = await self.head()
        if b"content-length" in headers:
            body = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding") == b"chunked":
            parts = []
            while part := await self.chunk():
                parts.append(part)
            await self.reader.readline()  # the empty line after the last chunk
            body = b"".join(parts)
        else:
            raise ConnectionError("a response without a length")
        if headers.get(b"connection") == b"close":
            self.close()
        if headers.get(b"content-encoding") == b"gzip":
            body = gzip.decompress(body)
        return status, body


def percentiles(seconds: list[float]) -> dict[str, float | None]:
    """p50/p90/p95/p99/max in ms (nearest rank) of latencies in seconds."""
    if not seconds:
        return {k: None for k in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")}
    ordered = sorted(seconds)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2)

    out = {f"p{round(p * 100)}_ms": pct(p) for p in (0.5, 0.9, 0.95, 0.99)}
    return out | {"max_ms": round(ordered[-1] * 1000, 2)}


# -- http ----------------------------------------------------------------------------
async def _client(
    n: int, base: Any, paths: list[str], window: tuple[float, float], args: Any, out: dict
) -> None:
    conn = Connection(base.hostname, base.port, args.gzip)
    i = n * max(1, len(paths) // args.concurrency)
    start, end = window
    while True:
        path = paths[i % len(paths)]
        i += 1
        sent = time.perf_counter()
        if sent >= end:
            break
        try:
            if conn.reader is None:
                await conn.open()
            status, body = await conn.get(path)
            kind = None if status == 200 else f"HTTP {status}"
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            kind, body = type(exc).__name__, b""
            conn.close()
        done = time.perf_counter()
        if sent >= start and done <= end:
            out["latencies"].append(done - sent)
            if kind:
                out["errors"][kind] = out["errors"].get(kind, 0) + 1
            else:
                out["bodies"].setdefault(path, set()).add(hashlib.sha256(body).hexdigest())
    conn.close()


async def run_http(args: argparse.Namespace) -> dict[str, Any]:
    base = urlsplit(args.base)
    paths = [p for p in Path(args.paths).read_text().splitlines() if p.strip()]
    start = time.perf_counter() + args.warmup
    window = (start, start + args.seconds)
    out: dict[str, Any] = {"latencies": [], "errors": {}, "bodies": {}}
    await asyncio.gather(
        *(_client(n, base, paths, window, args, out) for n in range(args.concurrency))
    )
    count = len(out["latencies"])
    return {
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "paths": len(paths),
        "gzip": args.gzip,
        "requests": count,
        "errors": out["errors"],
        "error_count": sum(out["errors"].values()),
        "req_per_s": round(count / args.seconds, 1),
        **percentiles(out["latencies"]),
        "distinct_bodies": {p: sorted(b) for p, b in out["bodies"].items()},
        "client_cpu_seconds": round(time.process_time(), 2),
    }


# -- sse -----------------------------------------------------------------------------
class Viewers:
    """What every viewer received so far; the status a parent follows."""

    def __init__(self, count: int) -> None:
        self.events: list[list[tuple[float, int, float, str]]] = [[] for _ in range(count)]
        self.connected = 0
        self.dropped: dict[int, str] = {}

    def status(self) -> dict[str, Any]:
        seen = [e[-1][1] for e in self.events if e]
        return {
            "viewers": len(self.events),
            "connected": self.connected,
            "first_events": len(seen),
            "min_lines": min(seen) if len(seen) == len(self.events) else -1,
            "max_lines": max(seen, default=-1),
            "dropped": len(self.dropped),
        }

    def dump(self, path: Path) -> None:
        with path.open("w") as f:
            for v, events in enumerate(self.events):
                for received, lines, generated, day in events:
                    f.write(f"{v} {received:.6f} {lines} {generated:.6f} {day}\n")
            for v, reason in self.dropped.items():
                f.write(f"{v} END {reason}\n")


def _snapshot(event: bytes) -> dict[str, Any] | None:
    kind, data = b"", b""
    for line in event.split(b"\n"):
        if line.startswith(b"event: "):
            kind = line[7:]
        elif line.startswith(b"data: "):
            data = line[6:]
    return json.loads(data) if kind == b"snapshot" else None


async def _viewer(v: int, url: Any, viewers: Viewers) -> None:
    conn = Connection(url.hostname, url.port, gzip=False)
    path = url.path + (f"?{url.query}" if url.query else "")
    try:
        await conn.open()
        conn.send(path, accept="text/event-stream")
        status, headers = await conn.head()
        if status != 200 or headers.get(b"transfer-encoding") != b"chunked":
            raise ConnectionError(f"HTTP {status}")
        viewers.connected += 1
        buffer = b""
        while part := await conn.chunk():
            buffer += part
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                received = time.time()
                snap = _snapshot(event)
                if snap is not None:
                    generated = dt.datetime.fromisoformat(snap["generated_at"]).timestamp()
                    viewers.events[v].append((received, snap["lines"], generated, snap["date"]))
        viewers.dropped[v] = "the stream ended"
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        viewers.dropped[v] = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:200]
    finally:
        conn.close()


async def run_sse(args: argparse.Namespace) -> None:
    url = urlsplit(args.url)
    viewers = Viewers(args.viewers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(_viewer(v, url, viewers)) for v in range(args.viewers)]
    status = Path(args.status) if args.status else None
    while not stop.is_set():
        if status is not None:
            tmp = status.with_suffix(".tmp")
            tmp.write_text(json.dumps(viewers.status()))
            os.replace(tmp, status)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    viewers.dump(Path(args.events))


# -- the parent's side ----------------------------------------------------------------
def in_rounds(
    bases: dict[str, str], paths: Path, work: Path, rounds: int, seconds: float, concurrency: int
) -> dict[str, list[dict[str, Any]]]:
    """Each contender (name -> base URL) under the same load, taking turns, order flipped
    each round; one client process per run. Per contender, its runs in round order."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in bases}
    for n in range(rounds):
        for name in list(bases) if n % 2 == 0 else list(reversed(bases)):
            out = work / f"load-{name}-{n}.json"
            argv = [
                sys.executable, "-m", "bench.load", "http", bases[name], "--paths", str(paths),
                "--concurrency", str(concurrency), "--seconds", str(seconds), "--out", str(out),
            ]  # fmt: skip
            subprocess.run(argv, cwd=ROOT, check=True, timeout=seconds + 120)
            result = json.loads(out.read_text())
            bodies = result.pop("distinct_bodies")
            result["paths_answered"] = len(bodies)
            result["paths_with_differing_answers"] = sum(len(b) > 1 for b in bodies.values())
            result["round"] = n + 1
            runs[name].append(result)
            print(
                f"  load  {name:9} round {n + 1}: {result['req_per_s']:,.0f} req/s, "
                f"p95 {result['p95_ms']} ms, errors {result['error_count']}"
            )
    return runs


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    sse = sub.add_parser("sse", help="viewers of an SSE stream")
    sse.add_argument("url")
    sse.add_argument("--viewers", type=int, default=200)
    sse.add_argument("--events", required=True, help="where the events go at the end")
    sse.add_argument("--status", help="a JSON status file, rewritten every 0.1 s")
    http = sub.add_parser("http", help="concurrent clients of a JSON API")
    http.add_argument("base", help="e.g. http://127.0.0.1:8000")
    http.add_argument("--paths", required=True, help="a file of paths, one a line")
    http.add_argument("--concurrency", type=int, default=50)
    http.add_argument("--seconds", type=float, default=12.0)
    http.add_argument("--warmup", type=float, default=2.0)
    http.add_argument("--no-gzip", dest="gzip", action="store_false", help="as wrk does")
    http.add_argument("--out", help="the JSON result (default: stdout)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.mode == "sse":
        asyncio.run(run_sse(args))
        return 0
    result = asyncio.run(run_http(args))
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
