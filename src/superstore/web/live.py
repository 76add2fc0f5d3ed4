"""Push, not polling: PostgreSQL LISTEN on `sales_lines` -> one snapshot -> every browser.

Every committed ingest transaction sends ``pg_notify('sales_lines', ...)``. One
listening connection per server turns those into a generation counter; a
publisher coalesces bursts (a few ms), recomputes the snapshot of each day
someone watches ONCE, and hands it to each subscriber's one-slot queue
(latest wins: a slow browser skips intermediate states, never lags behind).
A lost listening connection is reopened with backoff and followed by a
refresh, since notifications sent meanwhile are gone.

On a hot standby (dashboards reading a replica: `SUPERSTORE_WEB_PG_DSN` to a
read replica, or the local pair's standby) LISTEN is refused: notifications
are not replicated. The hub then follows the standby's replay position
(`pg_last_wal_replay_lsn()`, polled every `replay_poll` seconds): a position
that moved means the primary committed something the standby now shows, and
is one change. When the standby is promoted, the hub reconnects and LISTENs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from superstore.errors import TransientError
from superstore.oltp import NOTIFY_CHANNEL, TodaySnapshot, read_today
from superstore.web.principal import EVERYONE, Scope

__all__ = ["LiveHub"]

log = logging.getLogger(__name__)

_Key = dt.date | None  # None = "whatever today is", re-resolved at every publish


class LiveHub:
    """Today snapshots per day, cached per change generation, pushed on change."""

    def __init__(
        self,
        dsn: str,
        resolve_day: Callable[[dt.date | None], dt.date],
        timezone: str,
        *,
        debounce: float = 0.005,
        day_check: float = 20.0,
        replay_poll: float = 0.5,
    ) -> None:
        self._dsn = dsn
        self._resolve = resolve_day
        self._timezone = timezone
        self._debounce = debounce
        self._day_check = day_check
        self._replay_poll = replay_poll
        self._pool = AsyncConnectionPool(
            dsn, min_size=1, max_size=4, open=False, kwargs={"autocommit": True}
        )
        self._generation = 0
        self._cache: dict[tuple[dt.date, object], tuple[int, TodaySnapshot]] = {}
        self._locks: dict[tuple[dt.date, object], asyncio.Lock] = {}
        self._subscribers: dict[_Key, set[asyncio.Queue[TodaySnapshot | None]]] = {}
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.listening = False
        self.source = "none"  # how changes arrive: "listen", "replay" (a standby), "none"

    async def start(self) -> None:
        """Open the pool and start listening; PostgreSQL may come up later."""
        await self._pool.open(wait=False)
        self._tasks = [
            asyncio.create_task(self._listen(), name="today-listen"),
            asyncio.create_task(self._publish(), name="today-publish"),
            asyncio.create_task(self._watch_day(), name="today-clock"),
        ]

    async def stop(self) -> None:
        """End every stream, stop the tasks, close the pool."""
        for queues in self._subscribers.values():
            for queue in queues:
                _offer(queue, None)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._pool.close()

    async def snapshot(
        self, requested: dt.date | None = None, scope: Scope = EVERYONE
    ) -> TodaySnapshot:
        """The snapshot of a day (of a row scope's orders only), once per change generation.

        Raises TransientError (with what to do) while PostgreSQL is down or empty.
        """
        day = self._resolve(requested)
        key = (day, scope.key)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            generation = self._generation
            cached = self._cache.get(key)
            if cached and cached[0] == generation:
                return cached[1]
            regions, states = scope.key
            try:
                async with self._pool.connection(timeout=10.0) as conn:
                    snap = await read_today(conn, day, self._timezone, regions, states)
            except psycopg.errors.UndefinedTable as exc:
                raise TransientError(
                    "PostgreSQL has no sales tables yet: run `superstore ingest` first"
                ) from exc
            except (PoolTimeout, psycopg.OperationalError) as exc:
                raise TransientError("PostgreSQL is not reachable") from exc
            self._cache[key] = (generation, snap)
            if len(self._cache) > 64:  # a few days watched at most; forget the oldest
                self._cache.pop(next(iter(self._cache)))
            return snap

    @contextlib.asynccontextmanager
    async def subscribe(
        self, requested: dt.date | None
    ) -> AsyncIterator[asyncio.Queue[TodaySnapshot | None]]:
        """A one-slot queue receiving the day's snapshot at every change (None = closing)."""
        queue: asyncio.Queue[TodaySnapshot | None] = asyncio.Queue(maxsize=1)
        self._subscribers.setdefault(requested, set()).add(queue)
        try:
            yield queue
        finally:
            queues = self._subscribers.get(requested, set())
            queues.discard(queue)
            if not queues:
                self._subscribers.pop(requested, None)

    def notify_changed(self) -> None:
        """Mark every snapshot stale and wake the publisher."""
        self._generation += 1
        self._changed.set()

    async def _listen(self) -> None:
        delay = 0.25
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._dsn, autocommit=True)
                async with conn:
                    cur = await conn.execute("SELECT pg_is_in_recovery()")
                    row = await cur.fetchone()
                    if row and row[0]:
                        delay = await self._follow_replay(conn)
                    else:
                        await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                        self.listening, self.source, delay = True, "listen", 0.25
                        self.notify_changed()  # catch up on what happened while not listening
                        async for _ in conn.notifies():
                            self.notify_changed()
            except (psycopg.Error, OSError) as exc:
                log.warning("live updates paused, PostgreSQL: %s", str(exc).strip()[:200])
            self.listening, self.source = False, "none"
            await asyncio.sleep(delay)
            delay = min(max(delay * 2, 0.25), 5.0)

    async def _follow_replay(self, conn: psycopg.AsyncConnection) -> float:
        """On a standby: a change whenever its replay position moves; returns when promoted."""
        log.info("live updates from a standby: following its replay (LISTEN needs the primary)")
        self.listening, self.source = True, "replay"
        self.notify_changed()
        last = None
        while True:
            cur = await conn.execute("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text")
            row = await cur.fetchone()
            if row is None or not row[0]:
                log.info("live updates: the standby was promoted, listening instead")
                return 0.0  # reconnect at once, now as a primary: LISTEN
            if row[1] != last:
                if last is not None:
                    self.notify_changed()
                last = row[1]
            await asyncio.sleep(self._replay_poll)

    async def _publish(self) -> None:
        while True:
            await self._changed.wait()
            # Coalesce commits landing together (parallel ingest processes). It adds to
            # every update's delay, so keep it short: commits arriving while a snapshot
            # is computed are coalesced into the next one anyway.
            await asyncio.sleep(self._debounce)
            self._changed.clear()
            await self._push(list(self._subscribers))

    async def _push(self, keys: list[_Key]) -> None:
        for key in keys:
            queues = self._subscribers.get(key)
            if not queues:
                continue
            try:
                snap = await self.snapshot(key)
            except TransientError as exc:  # a failed refresh must not stop later ones
                log.warning("today snapshot failed: %s", exc)
                continue
            except Exception:
                log.exception("today snapshot failed")
                continue
            for queue in list(queues):
                _offer(queue, snap)

    async def _watch_day(self) -> None:
        """Streams following "today" move to the new day at midnight (configured zone)."""
        current = self._resolve(None)
        while True:
            await asyncio.sleep(self._day_check)
            now = self._resolve(None)
            if now != current:
                current = now
                await self._push([None])


def _offer(queue: asyncio.Queue[TodaySnapshot | None], item: TodaySnapshot | None) -> None:
    """Put the latest state in a one-slot queue, replacing an unread older one."""
    with contextlib.suppress(asyncio.QueueEmpty):
        queue.get_nowait()
    queue.put_nowait(item)
