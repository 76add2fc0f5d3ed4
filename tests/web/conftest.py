"""Dashboard fixtures: one database, one warehouse, one server and one browser per session.

The browser is Debian's Chromium driven by Playwright (its own browser
download cannot work here); `scripts/system-deps.sh` installs it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from superstore.clients import PgConfig
from superstore.contract import OrderLine
from superstore.data import load_lines
from superstore.oltp import load_lines_direct
from superstore.warehouse import DuckDBReader
from superstore.web import DashboardServer, WebConfig
from tests.support.star import seed_db, seed_lake, seed_lines  # noqa: F401  (fixtures)
from tests.support.webstar import build_star

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def dataset() -> list[OrderLine]:
    """The 9,994 seed lines."""
    return load_lines()


@pytest.fixture(scope="session")
def web_pg(pg: PgConfig, pg_admin: PgConfig, dataset: list[OrderLine]) -> Iterator[PgConfig]:
    """A database on the session server holding the whole data set (writable, for tests)."""
    name = f"web_{uuid.uuid4().hex[:8]}"
    admin = PgConfig(make_conninfo(pg_admin.dsn, dbname="postgres"))
    owner = conninfo_to_dict(pg.dsn)["user"]
    with admin.connect(autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    config = PgConfig(make_conninfo(**(conninfo_to_dict(pg.dsn) | {"dbname": name})))
    load_lines_direct(config, dataset)
    yield config
    with admin.connect(autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def star_path(tmp_path_factory: pytest.TempPathFactory, dataset: list[OrderLine]) -> Path:
    """A DuckDB warehouse holding the data set as a star schema."""
    return build_star(tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb", dataset)


@pytest.fixture(scope="session")
def server(web_pg: PgConfig, star_path: Path) -> Iterator[DashboardServer]:
    """The dashboards on a free port, reading `web_pg` read-only and the star warehouse."""
    config = WebConfig(
        pg=PgConfig(web_pg.dsn).read_only(),
        warehouse=DuckDBReader(star_path),
        timezone="UTC",
    )
    with DashboardServer(config, "127.0.0.1", 0) as running:
        yield running


@pytest.fixture
def api(server: DashboardServer) -> Iterator[httpx.Client]:
    """An HTTP client for the session server."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole session."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: run `bash scripts/system-deps.sh` (apt-get chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


DESKTOP = {"width": 1400, "height": 1000}
PHONE = {"width": 390, "height": 844}


def _watched_page(browser: Browser, server: DashboardServer, **context: object) -> Iterator[Page]:
    tab_context = browser.new_context(base_url=server.url, accept_downloads=True, **context)  # type: ignore[arg-type]
    tab = tab_context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    yield tab
    tab_context.close()
    assert errors == [], f"console errors: {errors}"


@pytest.fixture
def page(browser: Browser, server: DashboardServer) -> Iterator[Page]:
    """A fresh desktop page (1400x1000); the test fails if it logged a console error or threw."""
    yield from _watched_page(browser, server, viewport=DESKTOP)


@pytest.fixture
def phone_page(browser: Browser, server: DashboardServer) -> Iterator[Page]:
    """A fresh phone page (390x844, touch, 3x pixels), failing on console errors too."""
    yield from _watched_page(
        browser, server, viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True
    )
