"""The running day totals /today reads (migration 003), checked against the lines.

The ingest transaction keeps, for each tracked day, its sales and line count
per product version, its order count and its latest orders. These functions
recompute the same numbers from the lines, for `superstore check` and tests:
a tracked day whose totals differ from its lines is drift, and a bug.
"""

from __future__ import annotations

import datetime as dt

import psycopg

__all__ = ["drifted_days", "tracked_days"]

_DRIFT = """
WITH tracked AS (SELECT order_date FROM day_totals),
kept AS (
    SELECT order_date, product_id, product_name, lines, sales
    FROM day_product_sales
    WHERE NOT (lines = 0 AND sales = 0)
), actual AS (
    SELECT o.order_date, l.product_id, l.product_name, count(*) AS lines, sum(l.sales) AS sales
    FROM orders o JOIN order_lines l ON l.order_id = o.order_id
    WHERE o.order_date IN (SELECT order_date FROM tracked)
    GROUP BY o.order_date, l.product_id, l.product_name
), orders_actual AS (
    SELECT o.order_date, count(*) AS orders
    FROM orders o
    WHERE o.order_date IN (SELECT order_date FROM tracked)
      AND EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.order_id)
    GROUP BY o.order_date
)
SELECT DISTINCT order_date FROM (
    SELECT coalesce(k.order_date, a.order_date) AS order_date
    FROM kept k
    FULL JOIN actual a USING (order_date, product_id, product_name)
    WHERE k.lines IS DISTINCT FROM a.lines OR k.sales IS DISTINCT FROM a.sales
    UNION ALL
    SELECT t.order_date
    FROM day_totals t LEFT JOIN orders_actual a USING (order_date)
    WHERE t.orders <> coalesce(a.orders, 0)
) differing
ORDER BY order_date
"""


def tracked_days(conn: psycopg.Connection) -> list[dt.date]:
    """Days whose running totals the ingest keeps, oldest first."""
    return [r[0] for r in conn.execute("SELECT order_date FROM day_totals ORDER BY 1")]


def drifted_days(conn: psycopg.Connection) -> list[dt.date]:
    """Tracked days whose totals (sales, lines per product; orders) differ from the lines."""
    return [r[0] for r in conn.execute(_DRIFT)]
