"""Where the dashboards may listen, and which Host headers they answer.

Two ways the sales data would leak without these checks:

- a bind on a non-loopback address with sign-in off puts every figure on the
  network; `check_bind` refuses it and names the setting to set;
- DNS rebinding: a hostile page re-points its own name at 127.0.0.1 and reads
  the loopback server from the victim's browser. The browser still sends the
  hostile name in `Host`, so answering only known names closes it (`HostAllowList`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from superstore.errors import ConfigError
from superstore.web.problems import PROBLEM_TYPE, problem_body

__all__ = ["HostAllowList", "allowed_hosts", "check_bind", "is_loopback"]

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """True for loopback addresses and `localhost` (the only binds safe without sign-in)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, auth: str) -> None:
    """Refuse an empty address, and a non-loopback one while sign-in is off."""
    if not host.strip():
        raise ConfigError(
            "SUPERSTORE_WEB_HOST is empty: say which address the dashboards bind",
            hint="127.0.0.1 (this machine only) or, with sign-in on, 0.0.0.0",
        )
    if auth == "none" and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve the dashboards on {host} without sign-in: "
            "anyone who reaches that address would read the sales data",
            hint="set SUPERSTORE_WEB_AUTH=token or oidc, or bind 127.0.0.1",
        )


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host header names answered: the loopback names, the bind address, and `extra`."""
    names = {*LOCAL_NAMES, *(x.strip().lower() for x in extra if x.strip())}
    if bind_host not in ("0.0.0.0", "::"):
        names.add(bind_host.strip("[]").lower())
    return frozenset(names)


def _host_name(header: str) -> str:
    """`example.com:8000` -> `example.com`; `[::1]:8000` -> `::1`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class HostAllowList:
    """Answers 400 (a problem document) to any request whose Host is not an allowed name.

    400, not 421 Misdirected Request: 421 tells an HTTP/2 client to retry on
    another connection, while a name we do not serve is the request's own fault.
    """

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        if _host_name(host) in self.allowed:
            await self.app(scope, receive, send)
            return
        body = problem_body(
            400,
            f"Host {host!r} is not served here; add it to SUPERSTORE_WEB_ALLOWED_HOSTS "
            "if it is a name of this server",
        )
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", PROBLEM_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
