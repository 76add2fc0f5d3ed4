"""What the dashboard server reads, and how: built once from the settings.

Both sources are opened read-only. /today reads the PostgreSQL OLTP tables
through a session whose transactions default to READ ONLY (or through a
dedicated read-only role given as ``SUPERSTORE_WEB_PG_DSN``); /analytics reads
the warehouse through `superstore.web.source`, which opens it read-only too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from superstore.clients import PgConfig, pg_config
from superstore.settings import Settings
from superstore.web.source import WarehouseSource, read_only_dsn, warehouse_source

__all__ = ["WebConfig", "web_config"]


@dataclass(frozen=True)
class WebConfig:
    """Sources and clock of the dashboards; `day` pins /today to a date."""

    pg: PgConfig
    warehouse: WarehouseSource | None
    timezone: str = "UTC"
    day: dt.date | None = None
    result_cache: int = 2048  # answers kept per warehouse version; 0 = always recompute

    def today(self, requested: dt.date | None = None) -> dt.date:
        """The day /today shows: the requested one, the pinned one, else today in the zone."""
        if requested is not None:
            return requested
        if self.day is not None:
            return self.day
        return dt.datetime.now(ZoneInfo(self.timezone)).date()


def web_config(settings: Settings, day: dt.date | None = None) -> WebConfig:
    """Read-only sources from the settings: web_pg_dsn, else pg_dsn or the local stack."""
    if settings.web_pg_dsn is not None:
        pg = PgConfig(read_only_dsn(settings.web_pg_dsn.get_secret_value()))
    else:
        pg = PgConfig(read_only_dsn(pg_config(settings).dsn))
    return WebConfig(
        pg=pg, warehouse=warehouse_source(settings), timezone=settings.timezone, day=day
    )
