"""Running the dashboards: in the foreground (`superstore serve`), or in a thread.

The socket is bound here, before uvicorn starts, so a busy port is one clear
error instead of a log line and an exit from inside the server, and port 0
resolves to the real port before anyone prints a URL. For the same reason a
TLS certificate is loaded here first: a missing, unreadable or mismatched
file is one line naming the setting, not a traceback from uvicorn's startup.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Self

import uvicorn
from prometheus_client import CollectorRegistry

from superstore.errors import ConfigError, TransientError
from superstore.lifecycle import Closeable
from superstore.settings import Settings
from superstore.web.app import create_app
from superstore.web.config import WebConfig, web_config
from superstore.web.hosts import HostAllowList, allowed_hosts, check_bind
from superstore.web.proxies import ForwardedHeaders

__all__ = ["DashboardServer", "bind", "check_tls", "serve", "serve_until"]


def check_tls(cert: Path | None, key: Path | None) -> bool:
    """True when TLS is configured and its files load; one clear error otherwise."""
    if cert is None and key is None:
        return False
    if cert is None or key is None:
        given, missing = ("--tls-cert", "--tls-key") if key is None else ("--tls-key", "--tls-cert")
        raise ConfigError(
            f"{given} needs {missing} too (SUPERSTORE_WEB_TLS_CERT and SUPERSTORE_WEB_TLS_KEY)"
        )
    for name, path in (("certificate", cert), ("key", key)):
        try:
            path.open("rb").close()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the TLS {name} {path}: {exc.strerror or exc}",
                hint="check SUPERSTORE_WEB_TLS_CERT and SUPERSTORE_WEB_TLS_KEY",
            ) from None
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        raise ConfigError(
            f"the TLS certificate {cert} and key {key} do not load: {reason}",
            hint="both must be PEM files, the key unencrypted and matching the certificate",
        ) from None
    return True


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (0 = a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so,
    # and without it every response waits ~40 ms (Nagle x delayed ACK).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pass another --port (or SUPERSTORE_WEB_PORT), or stop what uses it",
        ) from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class DashboardServer(Closeable):
    """The dashboards on a bound socket; `start()` runs them in a background thread.

    ``with DashboardServer(...) as server:`` serves in the background and stops at the end.
    """

    def __init__(self, config: WebConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        check_bind(host, config.auth.mode)  # before the socket: nothing listens on a refused bind
        self.tls = check_tls(config.tls_cert, config.tls_key)
        if self.tls:  # the session cookie is Secure whenever the server speaks https
            config = replace(config, auth=replace(config.auth, tls=True))
        self.sock = bind(host, port)
        self.host = host
        self.port = int(self.sock.getsockname()[1])
        app = HostAllowList(create_app(config), allowed_hosts(host, config.allowed_hosts))
        self.server = uvicorn.Server(
            uvicorn.Config(
                ForwardedHeaders(app, config.trusted_proxies),
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=1,
                lifespan="on",
                # uvicorn would believe X-Forwarded-* from 127.0.0.1; ForwardedHeaders decides
                proxy_headers=False,
                ssl_certfile=config.tls_cert if self.tls else None,
                ssl_keyfile=config.tls_key if self.tls else None,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:8000 (https under TLS)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def run(self) -> None:
        """Serve in the calling thread until Ctrl-C/SIGTERM (or `stop()` from another thread)."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def start(self, timeout: float = 15.0) -> DashboardServer:
        """Serve in a daemon thread; returns once the server accepts requests."""
        self._thread = threading.Thread(target=self.run, name="dashboards", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise TransientError(f"dashboard server at {self.url} did not start")
            time.sleep(0.02)
        return self

    @property
    def alive(self) -> bool:
        """The background thread is still serving."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Ask the server to finish (open streams are closed after ~1 s) and wait for it."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def close(self) -> None:
        """Stop serving (what leaving a ``with`` block does)."""
        self.stop()

    def __enter__(self) -> Self:
        self.start()
        return self


def serve(config: WebConfig, host: str, port: int, announce: Callable[[str], None] = print) -> None:
    """Serve in the foreground; `announce` receives the URLs once the socket is bound."""
    server = DashboardServer(config, host, port)
    announce(server.url)
    server.run()


def serve_until(
    settings: Settings, stop: threading.Event, metrics: CollectorRegistry | None = None
) -> None:
    """Serve the configured dashboards until `stop` is set (for `superstore run`).

    `metrics`: the pipeline's registry, so /metrics on the dashboard port shows it too.
    """
    config = replace(web_config(settings), metrics=metrics)
    server = DashboardServer(config, settings.web_host, settings.web_port)
    server.start()
    try:
        while not stop.wait(0.5):
            if not server.alive:
                raise TransientError("the dashboard server stopped unexpectedly")
    finally:
        server.stop()
