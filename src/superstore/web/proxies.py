"""Behind a reverse proxy: honour X-Forwarded-For/-Proto/-Host from trusted peers only.

A proxy that terminates TLS and forwards to the dashboards makes every
request look like it comes from the proxy, over http, for the proxy's
upstream name. The forwarded headers carry the truth, but anyone can send
them: believed from every peer, they would let a client claim to be on
loopback (and read /metrics) or name an allowed host it is not. So they are
read only from the addresses in SUPERSTORE_WEB_TRUSTED_PROXIES, and removed
from every other request before anything downstream could read them.
This runs in front of the Host allow-list, which then checks the forwarded host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from superstore.errors import ConfigError

__all__ = ["ForwardedHeaders", "Network", "parse_trusted"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_FORWARDED = (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host")
_SCHEMES = {"http": ("http", "ws"), "https": ("https", "wss")}


def parse_trusted(values: Iterable[str]) -> tuple[Network, ...]:
    """IPs and CIDRs of trusted proxies; one clear error naming the setting otherwise."""
    networks = []
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ConfigError(
                f"SUPERSTORE_WEB_TRUSTED_PROXIES: {value!r} is not an IP address or CIDR",
                hint="a comma-separated list such as 127.0.0.1,10.0.0.0/8",
            ) from None
    return tuple(networks)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in net for net in networks)


def _values(headers: list[tuple[bytes, bytes]], name: bytes) -> list[str]:
    """Every comma-separated value of a (possibly repeated) header, in order."""
    out: list[str] = []
    for key, value in headers:
        if key == name:
            out.extend(x.strip() for x in value.decode("latin-1").split(",") if x.strip())
    return out


class ForwardedHeaders:
    """Rewrites client, scheme and Host from the forwarded headers of trusted peers (ASGI)."""

    def __init__(self, app: ASGIApp, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = list(scope.get("headers", []))
        client = scope.get("client")
        peer = client[0] if client else ""
        if not self.trusted or not _trusted(peer, self.trusted):
            scope = {**scope, "headers": [(k, v) for k, v in headers if k not in _FORWARDED]}
            await self.app(scope, receive, send)
            return
        scope = dict(scope)
        chain = _values(headers, b"x-forwarded-for")
        if chain:
            # the nearest untrusted hop is the client; earlier entries are the client's own word
            hops = [x for x in reversed(chain) if not _trusted(x, self.trusted)]
            scope["client"] = (hops[0] if hops else chain[0], 0)
        protos = _values(headers, b"x-forwarded-proto")
        if protos and protos[-1].lower() in _SCHEMES:
            http, ws = _SCHEMES[protos[-1].lower()]
            scope["scheme"] = ws if scope["type"] == "websocket" else http
        hosts = _values(headers, b"x-forwarded-host")
        if hosts:
            host = hosts[-1].encode("latin-1")
            scope["headers"] = [(k, v) for k, v in headers if k != b"host"] + [(b"host", host)]
        await self.app(scope, receive, send)
