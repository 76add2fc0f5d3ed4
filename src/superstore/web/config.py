"""What the dashboard server reads, and how: built once from the settings.

Both sources are opened read-only. /today reads the PostgreSQL OLTP tables
through a session whose transactions default to READ ONLY (or through a
dedicated read-only role given as ``SUPERSTORE_WEB_PG_DSN``); /analytics reads
the warehouse through the reader its target builds (``superstore.warehouse``),
which opens it read-only too.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry

from superstore.clients import PgConfig
from superstore.errors import ConfigError
from superstore.settings import Settings
from superstore.stack import WEB_ROLE, pg_config
from superstore.warehouse import WarehouseReader, warehouse_config
from superstore.web.access import AuthConfig, auth_config
from superstore.web.proxies import Network, parse_trusted

__all__ = ["WebConfig", "web_config"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebConfig:
    """Sources and clock of the dashboards; `day` pins /today to a date."""

    pg: PgConfig
    warehouse: WarehouseReader | None
    timezone: str = "UTC"
    day: dt.date | None = None
    result_cache: int = 2048  # answers kept per warehouse version; 0 = always recompute
    auth: AuthConfig = field(default_factory=AuthConfig)  # sign-in, roles, row scopes
    allowed_hosts: tuple[str, ...] = ()  # Host names answered beyond loopback and the bind
    tls_cert: Path | None = None  # both set: the server speaks https
    tls_key: Path | None = None
    trusted_proxies: tuple[Network, ...] = ()  # peers whose X-Forwarded-* headers count
    metrics: CollectorRegistry | None = None  # served at /metrics; None = process collectors

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
        pg = PgConfig(settings.web_pg_dsn.get_secret_value()).read_only()
    else:
        pg = pg_config(settings, WEB_ROLE).read_only()  # SELECT on what /today reads
    try:
        reader: WarehouseReader | None = warehouse_config(settings).reader()
    except ConfigError as exc:  # /today still works; /analytics says why it cannot
        log.warning("the analytics dashboard cannot read the warehouse: %s", exc)
        reader = None
    return WebConfig(
        pg=pg,
        warehouse=reader,
        timezone=settings.timezone,
        day=day,
        auth=auth_config(settings),
        allowed_hosts=_allowed_hosts(settings),
        tls_cert=settings.web_tls_cert,
        tls_key=settings.web_tls_key,
        trusted_proxies=parse_trusted(settings.web_trusted_proxies.split(",")),
    )


def _allowed_hosts(settings: Settings) -> tuple[str, ...]:
    """SUPERSTORE_WEB_ALLOWED_HOSTS plus the public URL's host (the name behind a proxy)."""
    names = [x for x in settings.web_allowed_hosts.split(",") if x.strip()]
    public = urlsplit(settings.web_public_url).hostname
    return (*names, public) if public else tuple(names)
