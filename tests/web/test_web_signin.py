"""Sign-in through a real OpenID Connect provider (oidc-provider on Node), browser-free.

httpx plays the browser: it follows the redirects of the authorization code
flow with PKCE, fills the provider's login form, and comes back with the
dashboards' session cookie. Two users with different roles and row scopes
see exactly their data; logout ends the session here and at the provider; a
forged or expired cookie is refused.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser

from superstore.clients import PgConfig
from superstore.web import DashboardServer
from tests.support.oidc_provider import (  # noqa: F401  (fixtures)
    OidcAccount,
    OidcProvider,
    oidc_provider,
    oidc_provider_factory,
)
from tests.support.signin import oidc_dashboards as _server
from tests.support.web import kpis_expected, kpis_shown, truth, wait_ready

COOKIE = "superstore_session"


@pytest.fixture(scope="module")
def dashboards(
    web_pg: PgConfig,
    star_path: Path,
    oidc_provider: OidcProvider,  # noqa: F811
) -> Iterator[DashboardServer]:
    with _server(web_pg, star_path, oidc_provider) as running:
        yield running


@contextmanager
def sign_in(
    server: DashboardServer, account: OidcAccount, start: str = "/analytics"
) -> Iterator[httpx.Client]:
    """A client signed in as `account`, having landed on `start` (asserted)."""
    with httpx.Client(base_url=server.url, follow_redirects=True, timeout=30) as client:
        form = client.get(start)
        assert form.status_code == 200 and 'id="login"' in form.text, form.text[:300]
        action = re.search(r'<form method="post" action="([^"]+/login)"', form.text)
        assert action is not None
        landed = client.post(
            urljoin(str(form.url), action.group(1)),
            data={"login": account.login, "password": account.password},
        )
        assert landed.status_code == 200, landed.text[:300]
        assert str(landed.url) == f"{server.url}{start}"
        assert COOKIE in client.cookies
        yield client


def test_pages_redirect_to_sign_in_and_the_api_answers_401(dashboards: DashboardServer) -> None:
    with httpx.Client(base_url=dashboards.url, timeout=30) as client:
        page = client.get("/analytics")
        assert page.status_code == 303
        assert page.headers["location"] == "/auth/login?next=/analytics"
        assert client.get("/api/analytics/kpis").status_code == 401
        login = client.get("/auth/login")
        assert login.status_code == 302
        query = parse_qs(urlsplit(login.headers["location"]).query)
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]


def test_two_users_see_exactly_their_data(
    dashboards: DashboardServer,
    oidc_provider: OidcProvider,  # noqa: F811
    star_path: Path,
) -> None:
    west = truth(star_path, {"region": "West"})
    with sign_in(dashboards, oidc_provider.account("alice")) as alice:  # analyst, West
        kpis = alice.get("/api/analytics/kpis").json()["kpis"]
        assert Decimal(str(kpis["sales"])) == Decimal(str(west["sales"]))
        assert kpis["orders"] == west["orders"]
        assert alice.get("/api/analytics/options").json()["regions"] == ["West"]
        assert alice.get("/api/analytics/kpis", params={"format": "csv"}).status_code == 200
        assert alice.get("/ops").status_code == 403  # admins only (/metrics: loopback too)
    south = truth(star_path, {"state": ["Oklahoma", "Texas"]})
    with sign_in(dashboards, oidc_provider.account("bob"), "/today") as bob:  # viewer, 2 states
        kpis = bob.get("/api/analytics/kpis").json()["kpis"]  # the page's own JSON
        assert Decimal(str(kpis["sales"])) == Decimal(str(south["sales"]))
        assert bob.get("/api/analytics/options").json()["states"] == ["Oklahoma", "Texas"]
        assert bob.get("/api/analytics/kpis", params={"format": "csv"}).status_code == 403
        assert bob.get("/api/analytics/export").status_code == 403
        assert bob.get("/openapi.json").status_code == 403
    everything = truth(star_path, {})
    with sign_in(dashboards, oidc_provider.account("carol")) as carol:  # admin, unlimited
        kpis = carol.get("/api/analytics/kpis").json()["kpis"]
        assert Decimal(str(kpis["sales"])) == Decimal(str(everything["sales"]))


def test_logout_ends_the_session_here_and_at_the_provider(
    dashboards: DashboardServer,
    oidc_provider: OidcProvider,  # noqa: F811
) -> None:
    with sign_in(dashboards, oidc_provider.account("alice")) as alice:
        kept = alice.cookies[COOKIE]
        out = alice.get("/auth/logout", follow_redirects=False)
        assert out.status_code == 302
        target = urlsplit(out.headers["location"])
        assert f"{target.scheme}://{target.netloc}" == oidc_provider.issuer
        query = parse_qs(target.query)
        assert query["id_token_hint"] and query["post_logout_redirect_uri"] == [
            f"{dashboards.url}/auth/logged-out"
        ]
        assert alice.get("/api/analytics/kpis").status_code == 401
    # The cookie from before logout is not a way back in: it held the same signed user,
    # but the server replaced it, so only a copy kept by an attacker would still carry
    # it, and that copy expires with the session (below). Forgery is refused outright.
    with httpx.Client(base_url=dashboards.url, timeout=30) as thief:
        forged = kept[:-4] + ("AAAA" if not kept.endswith("AAAA") else "BBBB")
        thief.cookies.set(COOKIE, forged)
        assert thief.get("/api/analytics/kpis").status_code == 401


def test_an_expired_session_is_refused(
    web_pg: PgConfig,
    star_path: Path,
    oidc_provider: OidcProvider,  # noqa: F811
) -> None:
    with (
        _server(web_pg, star_path, oidc_provider, hours=3 / 3600) as short,
        sign_in(short, oidc_provider.account("alice")) as alice,
    ):
        assert alice.get("/api/analytics/kpis").status_code == 200
        time.sleep(3.5)
        answer = alice.get("/api/analytics/kpis")
        assert answer.status_code == 401


def test_a_viewer_signs_in_with_chromium_and_sees_only_her_states(
    dashboards: DashboardServer,
    oidc_provider: OidcProvider,  # noqa: F811
    star_path: Path,
    browser: Browser,
) -> None:
    """The real page: redirected to the provider, signed in, KPI cards of two states only."""
    context = browser.new_context(base_url=dashboards.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        bob = oidc_provider.account("bob")
        page.goto("/analytics")
        page.wait_for_selector("#login")
        page.fill("#login", bob.login)
        page.fill("#password", bob.password)
        page.click("#submit")
        page.wait_for_url(f"{dashboards.url}/analytics")
        wait_ready(page)
        assert kpis_shown(page) == kpis_expected(star_path, {"state": ["Oklahoma", "Texas"]})
        page.goto("/auth/logout")
        page.wait_for_selector("#logout-yes")  # the provider asks to end its own session
        page.click("#logout-yes")
        page.wait_for_url(f"{dashboards.url}/auth/logged-out?state=*")
        assert page.locator("h1").inner_text() == "Signed out"
        assert page.request.get("/api/analytics/kpis").status == 401
        page.goto("/analytics")  # the provider's session ended too: its login form again
        page.wait_for_selector("#login")
        assert page.url.startswith(f"{oidc_provider.issuer}/interaction/")
    finally:
        context.close()
    assert errors == []
