"""The test OpenID Connect provider, proven end to end with Chromium and an Authlib relying party.

What the dashboards' sign-in will rely on: authorization code + PKCE S256 through a real
login page, the ID token validated against the provider's JWKS with nonce, issuer and
audience, custom claims for roles and data scopes, expiry of short-lived ID tokens and
sessions, refresh, and RP-initiated logout ending the provider's session.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError
from joserfc.jwk import KeySet
from playwright.sync_api import Browser, BrowserContext, Page

from tests.support.oidc_provider import (  # noqa: F401
    OidcAccount,
    OidcClient,
    OidcFixtureError,
    OidcLifetimes,
    OidcProvider,
    StartProvider,
    default_client,
    oidc_provider,
    oidc_provider_factory,
    run_oidc_provider,
)
from tests.support.oidc_rp import RelyingParty, listening_socket, serve_rp, socket_url

SHORT = OidcLifetimes(id_token=3, access_token=3, session=4)


@pytest.fixture(scope="module")
def rp(oidc_provider: OidcProvider) -> Iterator[RelyingParty]:  # noqa: F811
    """The relying party on a free port; the session provider accepts any loopback port."""
    with serve_rp(oidc_provider.metadata_url, oidc_provider.client, listening_socket()) as rp:
        yield rp


@pytest.fixture(scope="module")
def short(oidc_provider_factory: StartProvider) -> Iterator[tuple[OidcProvider, RelyingParty]]:  # noqa: F811
    """A provider with seconds-long lifetimes and exact redirect URIs, and its relying party."""
    sock = listening_socket()
    base = socket_url(sock)
    client = default_client(
        redirect_uris=[f"{base}/auth/callback"],
        post_logout_redirect_uris=[f"{base}/auth/logged-out"],
        any_loopback_port=False,
    )
    provider = oidc_provider_factory(clients=[client], lifetimes=SHORT)
    with serve_rp(provider.metadata_url, client, sock) as rp:
        yield provider, rp


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies); fails the test on any console error."""
    ctx = browser.new_context()
    errors: list[str] = []
    ctx.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    ctx.on("weberror", lambda e: errors.append(f"uncaught: {e.error}"))
    yield ctx
    ctx.close()
    assert errors == [], f"console errors: {errors}"


def sign_in(page: Page, rp: RelyingParty, account: OidcAccount, query: str = "") -> dict[str, Any]:
    """Start at the relying party, sign in on the provider's page, return the callback's JSON."""
    page.goto(f"{rp.url}/auth/login{query}")
    page.wait_for_selector("#login")
    page.fill("#login", account.login)
    page.fill("#password", account.password)
    with page.expect_response(lambda r: r.url.startswith(f"{rp.url}/auth/callback")) as answer:
        page.click("#submit")
    assert answer.value.status == 200, answer.value.text()
    return answer.value.json()


def verify_id_token(provider: OidcProvider, id_token: str, leeway: int = 0) -> dict[str, Any]:
    """Check an ID token ourselves: signature by the JWKS, issuer, audience, expiry."""
    keys = KeySet.import_key_set(httpx.get(f"{provider.issuer}/jwks").json())
    token = jwt.decode(id_token, keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        leeway=leeway,
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": provider.client.client_id},
        exp={"essential": True},
    ).validate(token.claims)
    return dict(token.claims)


def test_discovery_over_plain_http_on_loopback(oidc_provider: OidcProvider) -> None:  # noqa: F811
    meta = httpx.get(oidc_provider.metadata_url).json()
    assert meta["issuer"] == oidc_provider.issuer
    assert oidc_provider.issuer.startswith("http://127.0.0.1:")
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["end_session_endpoint"] == f"{oidc_provider.issuer}/session/end"
    assert {"openid", "superstore", "offline_access"} <= set(meta["scopes_supported"])
    assert {"superstore_roles", "superstore_regions", "superstore_states"} <= set(
        meta["claims_supported"]
    )


@pytest.mark.parametrize("login", ["alice", "bob"])
def test_code_flow_with_pkce_delivers_the_users_claims(
    oidc_provider: OidcProvider,  # noqa: F811
    rp: RelyingParty,
    context: BrowserContext,
    login: str,
) -> None:
    account = oidc_provider.account(login)
    page = context.new_page()
    authorize: list[str] = []
    page.on(
        "request",
        lambda r: (
            authorize.append(r.url) if r.url.startswith(f"{oidc_provider.issuer}/auth?") else None
        ),
    )
    seen = sign_in(page, rp, account)

    query = parse_qs(urlsplit(authorize[0]).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["nonce"] and query["state"] and query["response_type"] == ["code"]
    claims = verify_id_token(oidc_provider, seen["id_token"])
    assert claims["nonce"] == query["nonce"][0]
    for name, value in account.claims.items():
        assert seen["claims"][name] == value == claims[name], name
    me = context.request.get(f"{rp.url}/me")
    assert me.status == 200
    assert me.json()["superstore_roles"] == account.claims["superstore_roles"]
    # Editing the token (say, to become admin) breaks its signature.
    header, _, signature = seen["id_token"].split(".")
    forged = json.dumps(claims | {"superstore_roles": ["admin"]}).encode()
    payload = base64.urlsafe_b64encode(forged).rstrip(b"=").decode()
    with pytest.raises(BadSignatureError):
        verify_id_token(oidc_provider, f"{header}.{payload}.{signature}")


def test_wrong_password_is_refused_on_the_login_page(
    oidc_provider: OidcProvider,  # noqa: F811
    rp: RelyingParty,
    context: BrowserContext,
) -> None:
    alice = oidc_provider.account("alice")
    page = context.new_page()
    page.goto(f"{rp.url}/auth/login")
    page.fill("#login", alice.login)
    page.fill("#password", alice.password + "x")
    page.click("#submit")
    assert page.inner_text("#error") == "Invalid login or password."
    assert page.url.startswith(f"{oidc_provider.issuer}/interaction/")
    assert context.request.get(f"{rp.url}/me").status == 401


def test_pkce_is_required_and_redirect_uris_are_checked(
    oidc_provider: OidcProvider,  # noqa: F811
    short: tuple[OidcProvider, RelyingParty],
) -> None:
    def authorize(provider: OidcProvider, redirect_uri: str, **extra: str) -> httpx.Response:
        params = {"client_id": provider.client.client_id, "response_type": "code"}
        params |= {"scope": "openid", "redirect_uri": redirect_uri, "nonce": "n", "state": "s"}
        return httpx.get(f"{provider.issuer}/auth", params=params | extra)

    pkce = {"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuBJSSbz3Mw"}
    pkce["code_challenge_method"] = "S256"
    no_pkce = authorize(oidc_provider, "http://127.0.0.1:1/auth/callback")
    assert no_pkce.status_code == 303
    error = parse_qs(urlsplit(no_pkce.headers["location"]).query)
    assert error["error"] == ["invalid_request"] and "PKCE" in error["error_description"][0]
    # Any loopback port matches for the session's client, never another path.
    assert authorize(oidc_provider, "http://127.0.0.1:1/auth/callback", **pkce).status_code == 303
    assert authorize(oidc_provider, "http://127.0.0.1:1/other", **pkce).status_code == 400
    # A web client's redirect URIs match exactly.
    provider, rp = short
    assert authorize(provider, f"{rp.url}/auth/callback", **pkce).status_code == 303
    assert authorize(provider, "http://127.0.0.1:1/auth/callback", **pkce).status_code == 400


def test_sign_in_started_on_another_host_name_fails_on_state(
    oidc_provider: OidcProvider,  # noqa: F811
    rp: RelyingParty,
    browser: Browser,
) -> None:
    """localhost and 127.0.0.1 keep separate cookies: the state saved at one is not at the other.

    The app must send users to its canonical host before sign-in starts.
    """
    ctx = browser.new_context()  # the 400 below is logged by the browser, expectedly
    try:
        page = ctx.new_page()
        page.goto(f"http://localhost:{urlsplit(rp.url).port}/auth/login")
        alice = oidc_provider.account("alice")
        page.fill("#login", alice.login)
        page.fill("#password", alice.password)
        with page.expect_response(lambda r: r.url.startswith(f"{rp.url}/auth/callback")) as answer:
            page.click("#submit")
        assert answer.value.status == 400
        assert answer.value.json()["error"] == "mismatching_state"
    finally:
        ctx.close()


def test_rp_initiated_logout_ends_the_provider_session(
    oidc_provider: OidcProvider,  # noqa: F811
    rp: RelyingParty,
    context: BrowserContext,
) -> None:
    alice = oidc_provider.account("alice")
    page = context.new_page()
    sign_in(page, rp, alice)
    # While the provider's session lives, a new sign-in passes without the login page.
    with page.expect_response(lambda r: r.url.startswith(f"{rp.url}/auth/callback")) as again:
        page.goto(f"{rp.url}/auth/login")
    assert again.value.json()["claims"]["sub"] == alice.sub

    page.goto(f"{rp.url}/auth/logout")
    assert page.url.startswith(f"{oidc_provider.issuer}/session/end")
    with page.expect_response(lambda r: r.url.startswith(f"{rp.url}/auth/logged-out")) as out:
        page.click("#logout-yes")
    assert out.value.json() == {"signed_out": True}
    assert context.request.get(f"{rp.url}/me").json() == {"error": "signed_out"}

    page.goto(f"{rp.url}/auth/login")
    page.wait_for_selector("#login")
    assert page.url.startswith(f"{oidc_provider.issuer}/interaction/")


def test_short_id_token_expires_and_refresh_renews_it(
    short: tuple[OidcProvider, RelyingParty], context: BrowserContext
) -> None:
    provider, rp = short
    page = context.new_page()
    seen = sign_in(page, rp, provider.account("bob"), "?offline=true")
    claims = verify_id_token(provider, seen["id_token"])
    assert claims["exp"] - claims["iat"] == SHORT.id_token
    assert "offline_access" in seen["scope"].split()
    assert context.request.get(f"{rp.url}/me").status == 200

    time.sleep(max(0.0, claims["exp"] - time.time()) + 1.1)
    with pytest.raises(ExpiredTokenError):
        verify_id_token(provider, seen["id_token"])
    # Authlib's own default leeway (120 s) would still accept it: the app must not rely on it.
    verify_id_token(provider, seen["id_token"], leeway=120)
    assert context.request.get(f"{rp.url}/me").json()["error"] == "expired"

    renewed = context.request.post(f"{rp.url}/auth/refresh")
    assert renewed.status == 200, renewed.text()
    fresh = verify_id_token(provider, renewed.json()["id_token"])
    assert fresh["sub"] == claims["sub"] and fresh["exp"] > claims["exp"]
    assert fresh["superstore_states"] == ["Texas", "Oklahoma"]
    assert context.request.get(f"{rp.url}/me").status == 200
    # Claims + ID token + refresh token must fit the ~4 KB a browser keeps of one cookie.
    session = next(c for c in context.cookies() if c["name"] == "rp_session")
    print(f"rp_session cookie: {len(session['value'])} bytes")
    assert len(session["value"]) < 4000


def test_provider_session_expires(
    short: tuple[OidcProvider, RelyingParty], context: BrowserContext
) -> None:
    provider, rp = short
    page = context.new_page()
    sign_in(page, rp, provider.account("alice"))
    time.sleep(SHORT.session + 1.1)
    page.goto(f"{rp.url}/auth/login")
    page.wait_for_selector("#login")
    assert page.url.startswith(f"{provider.issuer}/interaction/")


def test_a_provider_that_cannot_start_says_why(tmp_path: Path) -> None:
    bad = OidcClient("broken", "secret", redirect_uris=("not a uri",))
    failure = pytest.raises(OidcFixtureError, match=r"exited \(1\).*redirect_uris")
    with failure, run_oidc_provider(tmp_path / "bad", clients=[bad]):
        pass


def test_an_old_node_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bin" / "node"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho v18.19.0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    failure = pytest.raises(OidcFixtureError, match=r"node v18.19.0 is too old .* 20.12\+ needed")
    with failure, run_oidc_provider(tmp_path / "old"):
        pass
