"""Transport and origin: TLS, trusted forwarded headers, /metrics, and one error model.

The servers here read an unreachable PostgreSQL on purpose: what is tested
is the edge in front of the data (certificates, peers, Host, roles), and the
503 the data routes answer while their source is down.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter

from superstore.clients import PgConfig
from superstore.errors import ConfigError
from superstore.web import DashboardServer, WebConfig, create_app
from superstore.web.access import AuthConfig
from superstore.web.problems import PROBLEM_TYPE
from superstore.web.proxies import ForwardedHeaders, parse_trusted
from superstore.web.server import check_tls
from superstore.web.tokens import TokenStore

DEAD_PG = PgConfig("postgresql://nobody@127.0.0.1:1/none")


def _self_signed(directory: Path, name: str = "tls") -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "superstore test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _is_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_TYPE)
    body = response.json()
    assert body["status"] == status and body["title"] and isinstance(body["detail"], str)
    assert set(body) <= {"type", "title", "status", "detail", "errors"}
    return dict(body)


# -- TLS ------------------------------------------------------------------------------


def test_https_with_a_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    config = WebConfig(pg=DEAD_PG, warehouse=None, tls_cert=cert, tls_key=key)
    with DashboardServer(config, "127.0.0.1", 0) as server:
        assert server.url.startswith("https://127.0.0.1:")
        got = httpx.get(
            f"{server.url}/static/style.css",
            verify=ssl.create_default_context(cafile=cert),
            timeout=10,
        )
        assert got.status_code == 200
        with pytest.raises(httpx.HTTPError):  # plain http on the TLS port gets no answer
            httpx.get(server.url.replace("https://", "http://") + "/api/health", timeout=5)
        app = server.server.config.app.app.app  # ForwardedHeaders -> HostAllowList -> FastAPI
        assert app.state.config.auth.tls  # so the session cookie is Secure
    assert AuthConfig(tls=True).secure_cookies and not AuthConfig().secure_cookies


def test_a_bad_certificate_is_one_clear_error(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    _, other_key = _self_signed(tmp_path, "other")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    assert check_tls(None, None) is False
    assert check_tls(cert, key) is True
    with pytest.raises(ConfigError, match="--tls-cert needs --tls-key"):
        check_tls(cert, None)
    with pytest.raises(ConfigError, match=r"cannot read the TLS certificate .*missing\.crt"):
        check_tls(tmp_path / "missing.crt", key)
    with pytest.raises(ConfigError, match="cannot read the TLS key"):
        check_tls(cert, tmp_path)  # a directory: unreadable as a file
    with pytest.raises(ConfigError, match="do not load"):
        check_tls(junk, key)
    with pytest.raises(ConfigError, match="do not load"):
        check_tls(cert, other_key)  # a key of another certificate


@pytest.mark.parametrize("command", ["serve", "run"])
def test_a_missing_certificate_is_one_line_before_anything_starts(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPERSTORE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SUPERSTORE_PG_DSN", "postgresql://nobody@127.0.0.1:1/none")
    missing = tmp_path / "nope.crt"
    done = subprocess.run(
        [sys.executable, "-m", "superstore", command, "--tls-cert", str(missing),
         "--tls-key", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"cannot read the TLS certificate {missing}" in done.stderr
    assert "Traceback" not in done.stderr


# -- forwarded headers ----------------------------------------------------------------


async def _seen(scope: dict[str, Any], peer: str, headers: list[tuple[bytes, bytes]]) -> Any:
    """What the app behind ForwardedHeaders sees of a request from `peer`."""
    got: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        got.update(scope)

    request = {"type": "http", "client": (peer, 5000), "scheme": "http", "headers": headers}
    await ForwardedHeaders(app, parse_trusted(["10.0.0.0/8", "127.0.0.1"]))(
        {**request, **scope}, None, None
    )
    return got


FORWARDED = [
    (b"host", b"10.0.0.2:8000"),
    (b"x-forwarded-for", b"127.0.0.1, 198.51.100.9, 10.0.0.7"),
    (b"x-forwarded-proto", b"https"),
    (b"x-forwarded-host", b"dash.example.com"),
]


def _run(coro: Any) -> Any:
    """asyncio.run on a thread of its own: in the full suite Playwright's sync API
    keeps an event loop running on the main thread, where asyncio.run refuses."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_forwarded_headers_count_from_trusted_peers_only() -> None:
    seen = _run(_seen({}, "10.0.0.5", FORWARDED))
    assert seen["client"][0] == "198.51.100.9"  # the nearest untrusted hop, not the forged first
    assert seen["scheme"] == "https"
    assert (b"host", b"dash.example.com") in seen["headers"]
    assert (b"host", b"10.0.0.2:8000") not in seen["headers"]
    untrusted = _run(_seen({}, "198.51.100.20", FORWARDED))
    assert untrusted["client"][0] == "198.51.100.20" and untrusted["scheme"] == "http"
    assert untrusted["headers"] == [(b"host", b"10.0.0.2:8000")]  # forwarded headers removed
    with pytest.raises(ConfigError, match=r"SUPERSTORE_WEB_TRUSTED_PROXIES: 'proxy\.lan'"):
        parse_trusted(["10.0.0.1", "proxy.lan"])


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> TokenStore:
    return TokenStore(tmp_path_factory.mktemp("tokens") / "web_tokens.json")


@pytest.fixture(scope="module")
def proxied(tokens: TokenStore) -> Iterator[DashboardServer]:
    """Token sign-in behind a proxy on loopback (the test client plays the proxy)."""
    registry = CollectorRegistry()
    Counter("superstore_test_total", "A pipeline metric.", registry=registry).inc()
    config = WebConfig(
        pg=DEAD_PG,
        warehouse=None,
        auth=AuthConfig(mode="token", tokens=tokens),
        allowed_hosts=("dash.example.com",),
        trusted_proxies=parse_trusted(["127.0.0.1"]),
        metrics=registry,
    )
    with DashboardServer(config, "127.0.0.1", 0) as server:
        yield server


def _via_proxy(client: str, host: str = "dash.example.com") -> dict[str, str]:
    return {"X-Forwarded-For": client, "X-Forwarded-Host": host, "X-Forwarded-Proto": "https"}


def test_the_host_allow_list_checks_the_forwarded_host(proxied: DashboardServer) -> None:
    url = f"{proxied.url}/static/style.css"
    assert httpx.get(url, headers=_via_proxy("203.0.113.7"), timeout=10).status_code == 200
    hostile = httpx.get(url, headers=_via_proxy("203.0.113.7", "attacker.example"), timeout=10)
    body = _is_problem(hostile, 400)
    assert "attacker.example" in body["detail"]


def test_untrusted_peers_forwarded_headers_are_ignored() -> None:
    """A server trusting another network: the Host sent counts, X-Forwarded-Host does not."""
    config = WebConfig(pg=DEAD_PG, warehouse=None, trusted_proxies=parse_trusted(["10.9.0.0/16"]))
    with DashboardServer(config, "127.0.0.1", 0) as server:
        url = f"{server.url}/static/style.css"
        sneaky = _via_proxy("203.0.113.7", "attacker.example")
        assert httpx.get(url, headers=sneaky, timeout=10).status_code == 200  # Host: 127.0.0.1
        named = {"Host": "attacker.example", "X-Forwarded-Host": "localhost"}
        _is_problem(httpx.get(url, headers=named, timeout=10), 400)


# -- /metrics -------------------------------------------------------------------------


def test_metrics_from_loopback_always_and_otherwise_for_admins(
    proxied: DashboardServer, tokens: TokenStore
) -> None:
    local = httpx.get(f"{proxied.url}/metrics", timeout=10)  # no token, a loopback peer
    assert local.status_code == 200 and "superstore_test_total 1.0" in local.text
    remote = _via_proxy("203.0.113.7")  # the proxy says: a client on the network
    _is_problem(httpx.get(f"{proxied.url}/metrics", headers=remote, timeout=10), 401)
    analyst, _ = tokens.create("analyst", "bi")
    admin, _ = tokens.create("admin", "ops")
    as_analyst = {**remote, "Authorization": f"Bearer {analyst}"}
    _is_problem(httpx.get(f"{proxied.url}/metrics", headers=as_analyst, timeout=10), 403)
    as_admin = {**remote, "Authorization": f"Bearer {admin}"}
    got = httpx.get(f"{proxied.url}/metrics", headers=as_admin, timeout=10)
    assert got.status_code == 200 and "superstore_test_total" in got.text
    forged = {"X-Forwarded-For": "127.0.0.1, 203.0.113.7", "X-Forwarded-Host": "localhost"}
    _is_problem(httpx.get(f"{proxied.url}/metrics", headers=forged, timeout=10), 401)


def test_metrics_from_a_network_peer_need_an_admin(tokens: TokenStore) -> None:
    """Without a proxy: the ASGI app's peer is the test client's address, not loopback."""
    app = create_app(
        WebConfig(pg=DEAD_PG, warehouse=None, auth=AuthConfig(mode="token", tokens=tokens))
    )
    admin, _ = tokens.create("admin", "ops2")
    remote = TestClient(app, client=("192.0.2.50", 4000))
    _is_problem(remote.get("/metrics"), 401)
    assert remote.get("/metrics", headers={"Authorization": f"Bearer {admin}"}).status_code == 200
    assert TestClient(app, client=("127.0.0.1", 4000)).get("/metrics").status_code == 200


# -- one error model ------------------------------------------------------------------


def test_every_error_is_a_problem_document(tokens: TokenStore) -> None:
    open_app = TestClient(create_app(WebConfig(pg=DEAD_PG, warehouse=None)))
    for value in ("0", "1512000000", "2017-02-30"):  # numbers are not dates
        body = _is_problem(open_app.get("/api/today", params={"date": value}), 422)
        assert body["errors"][0]["loc"] == ["query", "date"] and "date" in body["detail"]
    own = _is_problem(open_app.get("/api/analytics/kpis", params={"range": "zz"}), 422)
    assert "invalid range" in own["detail"] and own["errors"][0]["msg"] == own["detail"]
    _is_problem(open_app.get("/api/nothing-here"), 404)
    _is_problem(open_app.get("/api/analytics/kpis"), 503)  # no warehouse configured
    secured = TestClient(
        create_app(
            WebConfig(pg=DEAD_PG, warehouse=None, auth=AuthConfig(mode="token", tokens=tokens))
        )
    )
    assert _is_problem(secured.get("/api/today"), 401)["title"] == "Unauthorized"
    viewer, _ = tokens.create("viewer", "wall")
    _is_problem(secured.get("/api/today", headers={"Authorization": f"Bearer {viewer}"}), 403)


def test_a_source_down_is_a_503_problem() -> None:
    with DashboardServer(WebConfig(pg=DEAD_PG, warehouse=None), "127.0.0.1", 0) as server:
        _is_problem(httpx.get(f"{server.url}/api/today", timeout=30), 503)


def test_the_openapi_document_declares_the_problem_on_every_operation(
    tokens: TokenStore,
) -> None:
    def spec(auth: AuthConfig) -> dict[str, Any]:
        app = create_app(WebConfig(pg=DEAD_PG, warehouse=None, auth=auth))
        admin, _ = tokens.create("admin", f"spec-{auth.mode}")
        got = TestClient(app).get("/openapi.json", headers={"Authorization": f"Bearer {admin}"})
        return dict(got.json())

    problem = {"$ref": "#/components/schemas/Problem"}
    for auth, expected in (
        (AuthConfig(), {"422", "503"}),
        (AuthConfig(mode="token", tokens=tokens), {"401", "403", "422", "503"}),
    ):
        document = spec(auth)
        assert "HTTPValidationError" not in document["components"]["schemas"]
        assert ("security" in document) is (auth.mode != "none")
        operations = [op for item in document["paths"].values() for op in item.values()]
        assert len(operations) >= 10
        for operation in operations:
            errors = {k for k in operation["responses"] if k[0] in "45"}
            assert errors == expected, operation["operationId"]
            for status in errors:
                content = operation["responses"][status]["content"]
                assert content == {PROBLEM_TYPE: {"schema": problem}}
