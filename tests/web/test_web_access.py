"""API tokens, roles and row-level security, against the real dashboards, PostgreSQL and DuckDB.

The truth is computed straight from the warehouse file and the OLTP tables
(`tests.support.web`), never through the app's queries: a West-only token's
totals must equal the West figures exactly, and no answer of any API route
(JSON, CSV, zip, server-sent events) may carry a row of another region.
"""

from __future__ import annotations

import csv
import io
import json
import stat
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from superstore.clients import PgConfig
from superstore.errors import ConfigError, InputError
from superstore.settings import load_settings
from superstore.warehouse import DuckDBReader
from superstore.web import DashboardServer, WebConfig
from superstore.web.access import AuthConfig, auth_config, needed_role
from superstore.web.tokens import TokenStore
from tests.support.web import BUSY_DAY, truth

KPI_FIELDS = ("sales", "profit", "quantity", "lines", "orders", "customers", "cities")


def test_tokens_are_stored_hashed_in_a_private_file(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "state" / "tokens.json")
    token, record = store.create("analyst", "bi", regions=("West",))
    assert token.startswith("sst_") and len(token) > 40
    raw = store.path.read_text()
    assert token not in raw and token.split("_", 2)[2] not in raw
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    found = store.verify(token)
    assert found is not None and found.role == "analyst" and found.scope.regions == {"West"}
    assert store.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.verify("sst_nope_x") is None
    assert [r.name for r in store.list()] == ["bi"]
    store.revoke(record.id)
    assert store.verify(token) is None  # the server sees the rewrite at the next request
    with pytest.raises(InputError, match="no token"):
        store.revoke(record.id)
    with pytest.raises(InputError, match="unknown role"):
        store.create("owner")


def test_each_path_needs_its_role() -> None:
    assert needed_role("/static/app.js", "") == (None, False)
    assert needed_role("/analytics", "") == ("viewer", False)
    assert needed_role("/api/analytics/kpis", "") == ("analyst", True)  # a viewer's page may
    assert needed_role("/api/analytics/kpis", "format=csv") == ("analyst", False)
    assert needed_role("/api/analytics/export", "") == ("analyst", False)
    assert needed_role("/openapi.json", "") == ("analyst", False)
    assert needed_role("/metrics", "") == ("admin", False)
    assert needed_role("/anything-else", "") == ("admin", False)


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> TokenStore:
    return TokenStore(tmp_path_factory.mktemp("tokens") / "web_tokens.json")


@pytest.fixture(scope="module")
def secured(web_pg: PgConfig, star_path: Path, tokens: TokenStore) -> Iterator[DashboardServer]:
    """The dashboards with SUPERSTORE_WEB_AUTH=token."""
    config = WebConfig(
        pg=PgConfig(web_pg.dsn).read_only(),
        warehouse=DuckDBReader(star_path),
        timezone="UTC",
        auth=AuthConfig(mode="token", tokens=tokens),
    )
    with DashboardServer(config, "127.0.0.1", 0) as running:
        yield running


def _client(server: DashboardServer, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def west(tokens: TokenStore, secured: DashboardServer) -> Iterator[httpx.Client]:
    token, _ = tokens.create("analyst", "west", regions=("West",))
    with _client(secured, token) as client:
        yield client


def _west_states(star: Path) -> set[str]:
    with duckdb.connect(str(star), read_only=True) as con:
        rows = con.execute("SELECT DISTINCT state FROM star.location_dim WHERE region = 'West'")
        return {r[0] for r in rows.fetchall()}


def test_no_credentials_is_401_and_a_low_role_403(
    secured: DashboardServer, tokens: TokenStore
) -> None:
    with _client(secured) as anonymous:
        for path in ("/today", "/api/analytics/kpis", "/api/today", "/openapi.json"):
            answer = anonymous.get(path)
            assert answer.status_code == 401, path
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert "detail" in answer.json()
        assert anonymous.get("/static/today.html").status_code == 200  # assets hold no data
    with _client(secured, "sst_0000_forged") as forged:
        assert forged.get("/api/analytics/kpis").status_code == 401
    viewer, _ = tokens.create("viewer", "wall")
    with _client(secured, viewer) as client:
        assert client.get("/analytics").status_code == 200
        assert client.get("/api/analytics/kpis").status_code == 403  # the API is for analysts
    analyst, record = tokens.create("analyst", "bi")
    with _client(secured, analyst) as client:
        assert client.get("/api/analytics/kpis").status_code == 200
        assert client.get("/api/analytics/kpis", params={"format": "csv"}).status_code == 200
        # operations are for admins, but a loopback peer is Prometheus on the host
        assert client.get("/metrics").status_code == 200  # (test_web_edge: from the network)
        tokens.revoke(record.id)
        assert client.get("/api/analytics/kpis").status_code == 401  # revoked: at once
    admin, _ = tokens.create("admin", "ops")
    with _client(secured, admin) as client:
        assert client.get("/metrics").status_code == 200


def test_a_west_token_sees_exactly_the_west_figures(
    west: httpx.Client, star_path: Path, tokens: TokenStore, secured: DashboardServer
) -> None:
    expected = truth(star_path, {"region": "West"})
    kpis = west.get("/api/analytics/kpis").json()["kpis"]
    for name in KPI_FIELDS:
        assert Decimal(str(kpis[name])) == Decimal(str(expected[name])), name
    everything = truth(star_path, {})
    assert expected["sales"] < everything["sales"]
    # The same request unscoped: the cache keys on the scope, so this is everyone's total.
    admin, _ = tokens.create("admin", "all")
    with _client(secured, admin) as client:
        total = client.get("/api/analytics/kpis").json()["kpis"]["sales"]
    assert Decimal(str(total)) == Decimal(str(everything["sales"]))
    # The slicers offer only West, and another region is refused like an unknown value.
    options = west.get("/api/analytics/options").json()
    assert options["regions"] == ["West"]
    assert set(options["states"]) == _west_states(star_path)
    assert west.get("/api/analytics/kpis", params={"region": "East"}).status_code == 422
    # A state slicer inside the scope still narrows it exactly.
    one = west.get("/api/analytics/kpis", params={"state": "California"}).json()["kpis"]
    assert Decimal(str(one["sales"])) == Decimal(
        str(truth(star_path, {"state": ["California"]})["sales"])
    )
    # Breakdowns read the warehouse itself for cities: the scope is bound there too.
    cities = west.get("/api/analytics/breakdown", params={"by": "city", "top": 100}).json()
    assert Decimal(str(cities["total"]["sales"])) == Decimal(str(expected["sales"]))


def _today_truth(pg: PgConfig, region: str) -> dict[str, Any]:
    with pg.connect(autocommit=True) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(l.sales), 0), count(*), count(DISTINCT o.order_id)"
            " FROM orders o JOIN order_lines l ON l.order_id = o.order_id"
            " WHERE o.order_date = %s AND o.region = %s AND o.cancelled_at IS NULL",
            (BUSY_DAY, region),
        ).fetchone()
    assert row is not None
    return {"sales": Decimal(row[0]), "lines": int(row[1]), "orders": int(row[2])}


def test_today_and_its_stream_are_west_only(
    west: httpx.Client, web_pg: PgConfig, star_path: Path
) -> None:
    expected = _today_truth(web_pg, "West")
    snap = west.get("/api/today", params={"date": BUSY_DAY}).json()
    assert Decimal(snap["sales"]) == expected["sales"] and expected["sales"] > 0
    assert (snap["lines"], snap["orders"]) == (expected["lines"], expected["orders"])
    states = _west_states(star_path)
    assert snap["latest_orders"] and {o["state"] for o in snap["latest_orders"]} <= states
    event = _first_event(west, "/api/today/stream", {"date": BUSY_DAY})
    assert event["event"] == "snapshot"
    assert Decimal(event["data"]["sales"]) == expected["sales"]
    hours = west.get("/api/today/hours", params={"date": BUSY_DAY}).json()
    assert sum(Decimal(h["sales"]) for h in hours["hours"]) == expected["sales"]


def _first_event(client: httpx.Client, path: str, params: dict[str, str]) -> dict[str, Any]:
    with client.stream("GET", path, params=params, timeout=30) as answer:
        assert answer.status_code == 200, path
        lines: list[str] = []
        for line in answer.iter_lines():
            if line == "" and any(x.startswith("data:") for x in lines):
                break
            if not line.startswith(":"):
                lines.append(line)
    fields = dict(line.split(": ", 1) for line in lines if ": " in line)
    return {"event": fields.get("event"), "data": json.loads(fields["data"])}


def _places(value: Any, found: set[tuple[str, str]]) -> None:
    """Every (key, value) of a region or state anywhere in a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("region", "state") and isinstance(item, str):
                found.add((key, item))
            _places(item, found)
    elif isinstance(value, list):
        for item in value:
            _places(item, found)


def _csv_places(text: str, found: set[tuple[str, str]]) -> int:
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    for row in rows:
        for key in ("region", "state"):
            if row.get(key):
                found.add((key, row[key]))
    return len(rows)


def test_no_api_route_carries_another_regions_rows(west: httpx.Client, star_path: Path) -> None:
    """Every GET route of the OpenAPI document, as JSON and CSV, its streams and the zip."""
    schema = west.get("/openapi.json").json()
    allowed = {("region", "West")} | {("state", s) for s in _west_states(star_path)}
    found: set[tuple[str, str]] = set()
    checked = []
    for path, item in schema["paths"].items():
        if "get" not in item or "{" in path:
            continue
        names = {p["name"] for p in item["get"].get("parameters", [])}
        params: dict[str, str] = {"date": BUSY_DAY} if "date" in names else {}
        if path.endswith("/breakdown"):
            params |= {"by": "city", "top": "100"}
        content = item["get"]["responses"]["200"].get("content", {})
        if "text/event-stream" in content:
            _places(_first_event(west, path, params)["data"], found)
            checked.append(path)
            continue
        answer = west.get(path, params=params)
        assert answer.status_code == 200, (path, answer.text[:200])
        if "zip" in answer.headers["content-type"]:
            with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
                for name in archive.namelist():
                    if name.endswith(".csv"):
                        _csv_places(archive.read(name).decode(), found)
        else:
            _places(answer.json(), found)
        if "format" in names:
            csv_answer = west.get(path, params=params | {"format": "csv"})
            assert csv_answer.status_code == 200, path
            _csv_places(csv_answer.text, found)
        checked.append(path)
    assert len(checked) == sum("get" in item for item in schema["paths"].values()) >= 15
    assert {"/api/analytics/kpis", "/api/analytics/lines", "/api/today/stream"} <= set(checked)
    assert ("region", "West") in found and any(k == "state" for k, _ in found)
    assert found <= allowed, sorted(found - allowed)[:5]


def test_settings_build_the_access_config(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, web_auth="token", web_session_hours=2)
    auth = auth_config(settings)
    assert auth.mode == "token" and auth.session_hours == 2 and auth.oidc is None
    assert auth.tokens is not None and auth.tokens.path == tmp_path / "web_tokens.json"
    assert not auth.secure_cookies
    with pytest.raises(ConfigError, match="SUPERSTORE_WEB_OIDC_ISSUER"):
        auth_config(load_settings(data_dir=tmp_path, web_auth="oidc", web_oidc_client_id="x"))
    oidc = auth_config(
        load_settings(
            data_dir=tmp_path,
            web_auth="oidc",
            web_oidc_issuer="https://id.example",
            web_oidc_client_id="dash",
            web_oidc_client_secret="s3cret",
            web_oidc_roles={"bi-team": "analyst", "ops": "admin"},
            web_public_url="https://dash.example",
        )
    )
    assert oidc.secure_cookies and oidc.oidc is not None
    assert oidc.oidc.role_of({"roles": ["bi-team", "ops"]}) == "admin"
    assert oidc.oidc.role_of({"roles": "bi-team"}) == "analyst"
    assert oidc.oidc.role_of({"roles": ["someone-else"]}) is None
    assert "s3cret" not in repr(oidc) and oidc.session_secret not in repr(oidc)
    with pytest.raises(ConfigError, match="web_oidc_roles"):
        load_settings(web_oidc_roles={"x": "owner"})
