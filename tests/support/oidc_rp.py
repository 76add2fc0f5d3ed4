"""A minimal relying party (FastAPI + Authlib) used to prove the test OIDC provider.

It is also the sign-in recipe for the dashboards in runnable form: Authlib's Starlette
client with discovery and S256 PKCE, a signed HttpOnly SameSite=Lax session cookie holding
only what the server needs, ID-token expiry checked on every request without leeway,
refresh with the refresh token, and RP-initiated logout through `end_session_endpoint`.
Routes answer JSON so tests can read what the relying party saw.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware

from tests.support.oidc_provider import OidcClient

__all__ = ["RelyingParty", "create_rp", "listening_socket", "serve_rp", "socket_url"]

SCOPE = "openid profile email superstore"
# Clock skew allowed when a fresh token is validated (iat in the future, exp just past).
# Authlib's default is 120 s, longer than a short ID token lives; 0 breaks on skewed clocks.
CLOCK_SKEW = 10
# Claims copied from the ID token into the session: identity, authorisation, expiry.
SESSION_CLAIMS = (
    "sub",
    "name",
    "email",
    "superstore_roles",
    "superstore_regions",
    "superstore_states",
    "exp",
)


def listening_socket() -> socket.socket:
    """A loopback socket on a free port, bound before the app exists so its URL is known."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def socket_url(sock: socket.socket) -> str:
    """The base URL a loopback socket serves, e.g. http://127.0.0.1:41234."""
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _remember(request: Request, token: dict[str, Any]) -> dict[str, Any]:
    """Keep the claims, the ID token (logout hint) and the refresh token; never the whole token.

    A session cookie is capped near 4 KB by browsers and is signed, not encrypted.
    """
    claims = token["userinfo"]
    request.session["user"] = {k: claims[k] for k in SESSION_CLAIMS if k in claims}
    request.session["id_token"] = token["id_token"]
    if "refresh_token" in token:
        request.session["refresh_token"] = token["refresh_token"]
    return {"claims": dict(claims), "id_token": token["id_token"], "scope": token.get("scope")}


def create_rp(metadata_url: str, client: OidcClient, base_url: str) -> FastAPI:
    """The relying party app; `base_url` (not the Host header) builds every redirect URI."""
    oauth = OAuth()
    oauth.register(
        "idp",
        client_id=client.client_id,
        client_secret=client.client_secret,
        server_metadata_url=metadata_url,
        client_kwargs={"scope": SCOPE, "code_challenge_method": "S256"},
    )
    idp = oauth.create_client("idp")
    app = FastAPI()
    app.add_middleware(
        SessionMiddleware,
        secret_key=secrets.token_urlsafe(32),
        session_cookie="rp_session",  # not "session": cookies ignore ports, the IdP shares the host
        same_site="lax",
        https_only=False,  # plain http on loopback here; True (Secure) behind TLS
        max_age=8 * 3600,
    )

    @app.get("/favicon.ico")
    async def favicon() -> Response:
        return Response(status_code=204)  # Chromium asks for one even for JSON pages

    @app.get("/auth/login")
    async def login(request: Request, offline: bool = False) -> RedirectResponse:
        extra = {"scope": f"{SCOPE} offline_access", "prompt": "consent"} if offline else {}
        return await idp.authorize_redirect(request, f"{base_url}/auth/callback", **extra)

    @app.get("/auth/callback")
    async def callback(request: Request) -> JSONResponse:
        try:
            token = await idp.authorize_access_token(request, leeway=CLOCK_SKEW)
        except OAuthError as exc:
            return JSONResponse({"error": exc.error, "description": exc.description}, 400)
        return JSONResponse(_remember(request, token))

    @app.get("/me")
    async def me(request: Request) -> JSONResponse:
        user = request.session.get("user")
        if user is None:
            return JSONResponse({"error": "signed_out"}, 401)
        if user["exp"] <= time.time():
            return JSONResponse({"error": "expired", "exp": user["exp"]}, 401)
        return JSONResponse(user)

    @app.post("/auth/refresh")
    async def refresh(request: Request) -> JSONResponse:
        refresh_token = request.session.get("refresh_token")
        if refresh_token is None:
            return JSONResponse({"error": "no_refresh_token"}, 401)
        try:
            token = await idp.fetch_access_token(
                grant_type="refresh_token", refresh_token=refresh_token
            )
            token["userinfo"] = await idp.parse_id_token(token, nonce=None, leeway=CLOCK_SKEW)
        except OAuthError as exc:
            request.session.clear()
            return JSONResponse({"error": exc.error, "description": exc.description}, 401)
        return JSONResponse(_remember(request, token))

    @app.get("/auth/logout")
    async def logout(request: Request) -> RedirectResponse:
        id_token = request.session.get("id_token")
        # Forget the user first, but keep the session: Authlib stores the logout state in it.
        for key in ("user", "id_token", "refresh_token"):
            request.session.pop(key, None)
        return await idp.logout_redirect(
            request, post_logout_redirect_uri=f"{base_url}/auth/logged-out", id_token_hint=id_token
        )

    @app.get("/auth/logged-out")
    async def logged_out(request: Request) -> JSONResponse:
        try:
            await idp.validate_logout_response(request)
        except OAuthError as exc:
            return JSONResponse({"error": exc.error, "description": exc.description}, 400)
        return JSONResponse({"signed_out": True})

    return app


class RelyingParty:
    """The relying party served by uvicorn in a thread on a socket bound beforehand."""

    def __init__(self, app: FastAPI, sock: socket.socket) -> None:
        self.sock = sock
        self.url = socket_url(sock)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]})


@contextmanager
def serve_rp(metadata_url: str, client: OidcClient, sock: socket.socket) -> Iterator[RelyingParty]:
    """Serve the relying party until the block ends."""
    rp = RelyingParty(create_rp(metadata_url, client, socket_url(sock)), sock)
    rp.thread.start()
    deadline = time.monotonic() + 10
    while not rp.server.started:
        if not rp.thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"relying party at {rp.url} did not start")
        time.sleep(0.02)
    try:
        yield rp
    finally:
        rp.server.should_exit = True
        rp.thread.join(timeout=10)
        sock.close()
