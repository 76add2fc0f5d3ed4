"""Order lines and long-tail breakdowns, read from the warehouse itself, on demand.

The pre-aggregates answer every chart, but not "which lines make this
number" (drill-through) nor "top products / customers / cities": those are
as many rows as the facts hold, so they are read from the star schema when
asked, through the warehouse reader (`WarehouseReader.rows`), with the same
filters as bound parameters and the same read-only discipline as the
rebuilds. At 10M facts a DuckDB drill-through page takes tens of
milliseconds. Statements are constants written once in PostgreSQL's
dialect; the reader adapts the placeholder style.
"""

from __future__ import annotations

__all__ = ["DETAIL_FILTERS", "FACTS", "WHERE"]

FACTS = """
FROM {s}.sales_fact f
JOIN {s}.time_dim t ON t.time_key = f.time_key
JOIN {s}.customer_dim c ON c.customer_key = f.customer_key
JOIN {s}.product_dim p ON p.product_key = f.product_key
JOIN {s}.location_dim l ON l.location_key = f.location_key
"""

# Every filter of the page, plus what identifies one row of a breakdown. Cancelled
# lines are left out, as the pre-aggregates leave them out.
WHERE = """
WHERE f.time_key BETWEEN %(lo_key)s AND %(hi_key)s
  AND coalesce(f.status, 'sold') <> 'cancelled'
  AND (cardinality(%(years)s::int[]) = 0 OR t.year = ANY(%(years)s::int[]))
  AND (cardinality(%(states)s::text[]) = 0 OR l.state = ANY(%(states)s::text[]))
  AND (cardinality(%(scope_regions)s::text[]) = 0 OR l.region = ANY(%(scope_regions)s::text[]))
  AND (cardinality(%(scope_states)s::text[]) = 0 OR l.state = ANY(%(scope_states)s::text[]))
  AND (%(segment)s::text IS NULL OR c.segment = %(segment)s::text)
  AND (%(region)s::text IS NULL OR l.region = %(region)s::text)
  AND (%(category)s::text IS NULL OR p.category = %(category)s::text)
  AND (%(sub_category)s::text IS NULL OR p.sub_category = %(sub_category)s::text)
  AND (%(product_id)s::text IS NULL OR p.product_id = %(product_id)s::text)
  AND (%(customer_id)s::text IS NULL OR c.customer_id = %(customer_id)s::text)
  AND (%(city)s::text IS NULL OR l.city = %(city)s::text)
"""
DETAIL_FILTERS = ("sub_category", "product_id", "customer_id", "city")
