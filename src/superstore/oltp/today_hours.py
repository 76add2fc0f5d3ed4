"""/today's context: the day's sales by hour received, the same weekday's average, categories.

Order lines carry a date, not a time, so the only honest clock is when the
pipeline stored each line (`order_lines.ingested_at`): the sparkline is "sales
by hour received", in the configured time zone, next to the average of the
same weekday over the previous weeks (days that had sales). These scan the
day's lines (through the order-date index), so the API runs them at most
every few seconds per day, not per commit. `known_categories` gives /today a
fixed list to colour categories by, as /analytics does.

Constant SQL with bound parameters, on a psycopg AsyncConnection (the
dashboards' read-only session).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from psycopg import AsyncConnection

__all__ = ["HOURS", "WEEKS", "known_categories", "sales_by_hour", "weekday_average"]

HOURS = 24
WEEKS = 4  # same weekdays averaged

_BY_HOUR = """
SELECT o.order_date,
       extract(hour FROM l.ingested_at AT TIME ZONE %(tz)s)::int AS hour,
       coalesce(sum(l.sales), 0) AS sales, count(*) AS lines
FROM orders o JOIN order_lines l ON l.order_id = o.order_id
WHERE o.order_date = ANY(%(days)s::date[])
  AND (cardinality(%(regions)s::text[]) = 0 OR o.region = ANY(%(regions)s::text[]))
  AND (cardinality(%(states)s::text[]) = 0 OR o.state = ANY(%(states)s::text[]))
GROUP BY 1, 2
"""

_CATEGORIES = "SELECT DISTINCT category FROM products WHERE category IS NOT NULL ORDER BY 1"


Place = tuple[tuple[str, ...], tuple[str, ...]]  # (regions, states) a caller is limited to
EVERYWHERE: Place = ((), ())


async def _hours(
    conn: AsyncConnection, days: list[dt.date], timezone: str, place: Place = EVERYWHERE
) -> dict[dt.date, dict[int, tuple[Decimal, int]]]:
    regions, states = place
    async with conn.transaction():
        await conn.execute("SET TRANSACTION READ ONLY")
        cur = await conn.execute(
            _BY_HOUR,
            {"days": days, "tz": timezone, "regions": list(regions), "states": list(states)},
        )
        rows = await cur.fetchall()
    out: dict[dt.date, dict[int, tuple[Decimal, int]]] = {}
    for day, hour, sales, lines in rows:
        out.setdefault(day, {})[int(hour)] = (Decimal(sales), int(lines))
    return out


async def sales_by_hour(
    conn: AsyncConnection, day: dt.date, timezone: str, place: Place = EVERYWHERE
) -> list[tuple[int, Decimal, int]]:
    """(hour, sales, lines) for each hour 0-23 of the day's lines by time received."""
    got = (await _hours(conn, [day], timezone, place)).get(day, {})
    return [(h, *got.get(h, (Decimal(0), 0))) for h in range(HOURS)]


async def weekday_average(
    conn: AsyncConnection,
    day: dt.date,
    timezone: str,
    weeks: int = WEEKS,
    place: Place = EVERYWHERE,
) -> tuple[list[tuple[int, Decimal]], list[dt.date]]:
    """Per hour, the average sales of the previous `weeks` same weekdays that had sales.

    Returns the averages and the days averaged (none: no comparable history).
    """
    days = [day - dt.timedelta(weeks=k) for k in range(1, weeks + 1)]
    got = await _hours(conn, days, timezone, place)
    used = sorted(d for d in days if d in got)
    average = []
    for hour in range(HOURS):
        total = sum((got[d].get(hour, (Decimal(0), 0))[0] for d in used), Decimal(0))
        average.append(
            (hour, (total / len(used)).quantize(Decimal("0.0001")) if used else Decimal(0))
        )
    return average, used


async def known_categories(conn: AsyncConnection) -> list[str]:
    """Every product category the database knows, sorted (colours follow this order)."""
    cur = await conn.execute(_CATEGORIES)
    return [r[0] for r in await cur.fetchall()]
