"""Who may open what: every request gets a principal, or a 401/403, before any route runs.

A pure ASGI middleware, so every path (routes, mounted assets, ones added
later) passes through it: a path this module does not know needs admin.
What each role may do:

- viewer: the pages and the JSON they draw from, in a signed-in browser
  session. A viewer sees every number the pages show; what is withheld is
  bulk data (CSV, the zip export) and the API for scripts (a viewer token
  opens pages only).
- analyst: + CSV and zip downloads, the API with a token, its docs.
- admin: + operations: /metrics, status and ops pages.

With `SUPERSTORE_WEB_AUTH=none` everyone is an unlimited admin (loopback only,
which the server enforces); with `token` a request presents
``Authorization: Bearer <token>``; with `oidc` a browser signs in
(`superstore.web.oidc`) and tokens still work for scripts.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from superstore.settings import Settings
from superstore.web.hosts import is_loopback
from superstore.web.oidc import OidcConfig, oidc_router
from superstore.web.principal import EVERYONE, Principal, Role, Scope, role_at_least
from superstore.web.problems import PROBLEM_TYPE, problem_body
from superstore.web.tokens import TokenStore

__all__ = [
    "ANONYMOUS",
    "AccessControl",
    "AuthConfig",
    "Mode",
    "auth_config",
    "install_access",
    "needed_role",
    "principal_of",
    "role_allows",
    "session_principal",
]

Mode = Literal["none", "token", "oidc"]
ANONYMOUS = Principal(name="anonymous", role="admin", scope=EVERYONE, via="none")
_PUBLIC = ("/static/", "/auth/")
_PAGES = frozenset({"/", "/today", "/analytics"})
_ANALYST = frozenset({"/docs", "/openapi.json"})
_ADMIN = ("/metrics", "/status", "/ops")


@dataclass(frozen=True)
class AuthConfig:
    """How the dashboards authenticate; built once from the settings (`web_config`)."""

    mode: Mode = "none"
    tokens: TokenStore | None = None
    session_secret: str = field(default="", repr=False)
    session_hours: float = 8.0
    public_url: str = ""  # external base URL; "" = the request's own
    oidc: OidcConfig | None = None  # under mode "oidc"

    tls: bool = False  # the server itself speaks https (--tls-cert)

    @property
    def secure_cookies(self) -> bool:
        """Cookies get the Secure flag under TLS or when the public URL is https."""
        return self.tls or self.public_url.startswith("https://")


def role_allows(principal: Principal, needed: Role | None, session_ok: bool) -> bool:
    """Whether `principal` may open what `needed_role` asked for: the one rule the
    middleware enforces and /api/me reports, so the pages cannot disagree with it."""
    if needed is None:
        return True
    return role_at_least(principal.role, needed) or (
        session_ok and principal.via == "session"  # a viewer's page reading its JSON
    )


def needed_role(path: str, query: str) -> tuple[Role | None, bool]:
    """(role needed, whether a viewer's browser session suffices); None = public."""
    if path.startswith(_PUBLIC) or path == "/favicon.ico":
        return None, False
    if path in _PAGES:
        return "viewer", False
    if path in _ANALYST:
        return "analyst", False
    if path.startswith("/api/"):
        csv = "csv" in parse_qs(query).get("format", [])
        bulk = csv or path.endswith("/export")
        return "analyst", not bulk
    if path.startswith(_ADMIN):
        return "admin", False
    return "admin", False  # unknown paths: the most privileged role (then 404)


def session_principal(session: Mapping[str, Any], now: float) -> Principal | None:
    """The signed-in user of a session cookie, unless the session has expired."""
    user = session.get("user")
    if not isinstance(user, dict):
        return None
    try:
        if float(user["expires_at"]) <= now:
            return None
        return Principal(
            name=str(user["name"]),
            role=user["role"],
            scope=Scope.of(user.get("regions"), user.get("states")),
            via="session",
        )
    except (KeyError, TypeError, ValueError):
        return None


def principal_of(request: Request) -> Principal:
    """The principal the access middleware attached (unlimited when auth is off)."""
    found = getattr(request.state, "principal", None)
    return found if isinstance(found, Principal) else ANONYMOUS


class AccessControl:
    """Attach the principal to `scope["state"]`, or answer 401/403 (pure ASGI)."""

    def __init__(self, app: ASGIApp, auth: AuthConfig, clock: Any = None) -> None:
        self.app = app
        self.auth = auth
        self.clock = clock or time.time

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and self.auth.mode != "none":
            await send({"type": "websocket.close", "code": 1008})  # no route uses them
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        query = scope.get("query_string", b"").decode("latin-1")
        needed, session_ok = needed_role(path, query)
        if path == "/metrics" and _loopback_peer(scope):  # Prometheus scraping on the host
            await self.app(scope, receive, send)
            return
        principal, problem = self._identify(scope)
        if principal is not None:
            scope.setdefault("state", {})["principal"] = principal
        if needed is None:
            await self.app(scope, receive, send)
            return
        if principal is None:
            if (
                self.auth.mode == "oidc"
                and not path.startswith("/api/")
                and path != "/openapi.json"
            ):
                target = path + (f"?{query}" if query else "")
                login = f"/auth/login?next={quote(target)}".encode()
                await _send(send, 303, b"", [(b"location", login)])
                return
            await _deny(send, 401, problem or "sign in first: this server requires credentials")
            return
        if not role_allows(principal, needed, session_ok):
            await _deny(send, 403, f"the {principal.role} role may not open {path}")
            return
        await self.app(scope, receive, send)

    def _identify(self, scope: AsgiScope) -> tuple[Principal | None, str | None]:
        if self.auth.mode == "none":
            return ANONYMOUS, None
        headers = dict(scope.get("headers", []))
        header = headers.get(b"authorization", b"").decode("latin-1")
        if header:
            kind, _, token = header.partition(" ")
            if kind.lower() != "bearer" or not token.strip():
                return None, "unsupported Authorization header: use `Bearer <token>`"
            found = self.auth.tokens.verify(token.strip()) if self.auth.tokens else None
            return (found, None) if found else (None, "unknown or revoked token")
        if self.auth.mode == "oidc":
            session = scope.get("session") or {}
            found = session_principal(session, self.clock())
            if found is None and session.get("user"):
                return None, "the session has expired: sign in again"
            return found, None
        return None, None


def _loopback_peer(scope: AsgiScope) -> bool:
    client = scope.get("client")
    return client is not None and is_loopback(str(client[0]))


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _deny(send: Send, status: int, detail: str) -> None:
    body = problem_body(status, detail)
    headers = [(b"content-type", PROBLEM_TYPE.encode()), (b"cache-control", b"no-store")]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="superstore"'))
    await _send(send, status, body, headers)


def auth_config(settings: Settings) -> AuthConfig:
    """The sign-in configuration from the settings (one clear error when incomplete)."""
    oidc = None
    if settings.web_auth == "oidc":
        secret = settings.web_oidc_client_secret
        oidc = OidcConfig(
            issuer=settings.web_oidc_issuer,
            client_id=settings.web_oidc_client_id,
            client_secret=secret.get_secret_value() if secret else "",
            scope=settings.web_oidc_scope,
            role_claim=settings.web_oidc_role_claim,
            roles=dict(settings.web_oidc_roles),
            regions_claim=settings.web_oidc_regions_claim,
            states_claim=settings.web_oidc_states_claim,
        )
    key = settings.web_session_secret
    return AuthConfig(
        mode=settings.web_auth,
        tokens=TokenStore.from_settings(settings),
        session_secret=key.get_secret_value() if key else secrets.token_urlsafe(32),
        session_hours=settings.web_session_hours,
        public_url=settings.web_public_url,
        oidc=oidc,
    )


def install_access(app: FastAPI, auth: AuthConfig) -> None:
    """Put access control in front of every route (and sign-in routes under oidc).

    Starlette runs the middleware added last first: the session cookie is
    decoded before the access check reads it.
    """
    if auth.mode == "none":
        return
    app.add_middleware(AccessControl, auth=auth)
    if auth.oidc is not None:
        app.include_router(oidc_router(app, auth.oidc, auth.session_hours, auth.public_url))
        app.add_middleware(
            SessionMiddleware,
            secret_key=auth.session_secret,
            session_cookie="superstore_session",
            max_age=int(auth.session_hours * 3600),
            same_site="lax",
            https_only=auth.secure_cookies,
        )
