"""The dashboards behind OpenID Connect sign-in, and a browser signing in as a person does.

The provider is the real one of `tests.support.oidc_provider`; the browser
fills its login form, so the session cookie the pages then carry is the one
a user gets.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from superstore.clients import PgConfig
from superstore.warehouse import DuckDBReader
from superstore.web import DashboardServer, WebConfig
from superstore.web.access import AuthConfig
from superstore.web.oidc import OidcConfig
from tests.support.oidc_provider import OidcAccount, OidcProvider

__all__ = ["browser_sign_in", "oidc_dashboards"]


def oidc_dashboards(
    pg: PgConfig, star: Path, provider: OidcProvider, hours: float = 1.0
) -> DashboardServer:
    """A dashboard server (not started) signing users in at `provider`, roles and scopes
    from its `superstore_*` claims."""
    oidc = OidcConfig(
        issuer=provider.issuer,
        client_id=provider.client.client_id,
        client_secret=provider.client.client_secret,
        scope="openid profile email superstore",
        role_claim="superstore_roles",
        regions_claim="superstore_regions",
        states_claim="superstore_states",
    )
    config = WebConfig(
        pg=PgConfig(pg.dsn).read_only(),
        warehouse=DuckDBReader(star),
        timezone="UTC",
        auth=AuthConfig(mode="oidc", oidc=oidc, session_secret="test-key", session_hours=hours),
    )
    return DashboardServer(config, "127.0.0.1", 0)


def browser_sign_in(page: Page, account: OidcAccount, start: str) -> Page:
    """Open `start`, get sent to the provider, sign in there, land back on `start`."""
    page.goto(start)
    page.wait_for_selector("#login")
    page.fill("#login", account.login)
    page.fill("#password", account.password)
    page.click("#submit")
    page.wait_for_url(lambda url: url.endswith(start) and "/interaction/" not in url)
    return page
