"""Sign-in with OpenID Connect: authorization code + PKCE (S256) through Authlib.

Any provider with discovery works (Keycloak, Entra ID, Okta, Google). The ID
token is validated by Authlib (signature against the provider's JWKS, issuer,
audience, nonce, expiry); the server then keeps only what it needs in a
signed (not encrypted) HttpOnly SameSite=Lax cookie: the user's name, the
role and row scope mapped from the configured claims, when the session ends,
and the ID token as the logout hint. The cookie is Secure when the public URL
is https. Logout forgets the user and, when the provider offers an
``end_session_endpoint``, ends the provider's session too (RP-initiated).

The role is the highest one any value of the role claim maps to; a user whose
claims map to no role is refused (signed in, but not let in). Region and state
claims limit the rows; absent or empty, that dimension is not limited.
"""

from __future__ import annotations

import html
import logging
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from superstore.errors import ConfigError
from superstore.web.principal import ROLES, Role

__all__ = ["CLOCK_SKEW", "OidcConfig", "oidc_router"]

log = logging.getLogger(__name__)

CLOCK_SKEW = 10  # seconds of clock difference tolerated on a fresh ID token


@dataclass(frozen=True)
class OidcConfig:
    """The provider, this client, and which claims carry roles and row scopes."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str = "openid profile email"
    role_claim: str = "roles"
    roles: dict[str, Role] = field(
        default_factory=lambda: {"viewer": "viewer", "analyst": "analyst", "admin": "admin"}
    )
    regions_claim: str = "regions"
    states_claim: str = "states"

    def __post_init__(self) -> None:
        missing = [
            name
            for name, value in (
                ("SUPERSTORE_WEB_OIDC_ISSUER", self.issuer),
                ("SUPERSTORE_WEB_OIDC_CLIENT_ID", self.client_id),
                ("SUPERSTORE_WEB_OIDC_CLIENT_SECRET", self.client_secret),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                f"SUPERSTORE_WEB_AUTH=oidc needs {', '.join(missing)}",
                hint="set them to the provider's issuer URL and this client's credentials",
            )

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"

    def role_of(self, claims: dict[str, Any]) -> Role | None:
        """The highest role any value of the role claim maps to (None: no role)."""
        mapped = {self.roles[v] for v in _values(claims.get(self.role_claim)) if v in self.roles}
        return max(mapped, key=ROLES.index) if mapped else None

    def user(self, claims: dict[str, Any], hours: float, now: float) -> dict[str, Any] | None:
        """What the session keeps of a signed-in user (None when no role is mapped)."""
        role = self.role_of(claims)
        if role is None:
            return None
        return {
            "name": str(claims.get("email") or claims.get("name") or claims.get("sub")),
            "sub": str(claims.get("sub")),
            "role": role,
            "regions": _values(claims.get(self.regions_claim)),
            "states": _values(claims.get(self.states_claim)),
            "expires_at": now + hours * 3600,
        }


def _values(claim: Any) -> list[str]:
    """A claim as a list of strings: a JSON list, or one string (space- or comma-separated)."""
    if claim is None:
        return []
    if isinstance(claim, str):
        return [v for v in claim.replace(",", " ").split() if v]
    if isinstance(claim, list | tuple):
        return [str(v) for v in claim if isinstance(v, str | int) and str(v)]
    return []


def _local(target: str | None) -> str:
    """A post-login target only if it is a path on this server (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _page(title: str, text: str, status: int = 200) -> HTMLResponse:
    body = (
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<main><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
        '<p><a href="/auth/login">Sign in</a></p></main>'
    )
    return HTMLResponse(body, status, headers={"Cache-Control": "no-store"})


def oidc_router(app: FastAPI, config: OidcConfig, hours: float, public_url: str) -> APIRouter:
    """The /auth routes: login, callback, logout, logged-out."""
    with warnings.catch_warnings():  # Authlib 1.9 warns about its own httpx module on import
        warnings.simplefilter("ignore")
        # lazy: Authlib and its HTTP client load only when sign-in is on (SUPERSTORE_WEB_AUTH=oidc)
        from authlib.integrations.starlette_client import (  # type: ignore[import-untyped]  # no stubs
            OAuth,
            OAuthError,
        )
    oauth = OAuth()
    oauth.register(
        "idp",
        client_id=config.client_id,
        client_secret=config.client_secret,
        server_metadata_url=config.metadata_url,
        client_kwargs={"scope": config.scope, "code_challenge_method": "S256"},
    )
    idp = oauth.create_client("idp")
    router = APIRouter(prefix="/auth", include_in_schema=False)

    def base(request: Request) -> str:
        return public_url.rstrip("/") or str(request.base_url).rstrip("/")

    @router.get("/login")
    async def login(request: Request, next: str | None = None) -> Response:
        request.session.pop("user", None)
        request.session["next"] = _local(next)
        try:
            redirect: Response = await idp.authorize_redirect(
                request, f"{base(request)}/auth/callback"
            )
            return redirect
        except Exception as exc:  # the provider is down or its discovery is broken
            log.warning("sign-in unavailable: %s", exc)
            return _page("Sign-in unavailable", "The identity provider did not answer.", 503)

    @router.get("/callback")
    async def callback(request: Request) -> Response:
        try:
            token = await idp.authorize_access_token(request, leeway=CLOCK_SKEW)
        except OAuthError as exc:
            return _page("Sign-in failed", exc.description or exc.error or "refused", 400)
        user = config.user(dict(token.get("userinfo") or {}), hours, time.time())
        if user is None:
            return _page("No access", "Your account has no role on these dashboards.", 403)
        target = _local(request.session.pop("next", None))
        request.session["user"] = user
        request.session["id_token"] = token.get("id_token")
        log.info("signed in: %s as %s", user["name"], user["role"])
        return RedirectResponse(target, 303)

    @router.get("/logout")
    async def logout(request: Request) -> Response:
        id_token = request.session.get("id_token")
        request.session.pop("user", None)
        request.session.pop("id_token", None)
        try:
            metadata = await idp.load_server_metadata()
        except Exception:  # the provider is down: at least this server forgets the user
            metadata = {}
        if metadata.get("end_session_endpoint"):
            ended: Response = await idp.logout_redirect(
                request,
                post_logout_redirect_uri=f"{base(request)}/auth/logged-out",
                id_token_hint=id_token,
            )
            return ended
        return RedirectResponse("/auth/logged-out", 303)

    @router.get("/logged-out")
    async def logged_out(request: Request) -> Response:
        if request.query_params.get("state"):
            try:
                await idp.validate_logout_response(request)
            except OAuthError as exc:
                log.info("logout response not validated: %s", exc.error)
        request.session.clear()
        return _page("Signed out", "You are signed out of the dashboards.")

    return router
