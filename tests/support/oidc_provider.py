"""A real OpenID Connect provider on loopback for sign-in tests, and its pytest fixtures.

The provider is `oidc-provider` (certified, npm) run by Node from tests/support/oidc/.
Why real: sign-in must be proven against what an identity provider actually does
(discovery, a JWKS with a fresh key, PKCE S256, nonce, token and session expiry,
RP-initiated logout), not against a stub that agrees with the code under test.

`npm ci` runs once per lock file into a cache directory; every start then copies the
program there (ESM resolves `oidc-provider` next to the script, not via NODE_PATH), writes a
JSON config, starts Node on a free port and waits for the discovery document.

Use in a conftest: `from tests.support.oidc_provider import oidc_provider, oidc_provider_factory`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

__all__ = [
    "CLAIMS_BY_SCOPE",
    "OidcAccount",
    "OidcClient",
    "OidcFixtureError",
    "OidcLifetimes",
    "OidcProvider",
    "StartProvider",
    "default_accounts",
    "default_client",
    "install_provider",
    "oidc_provider",
    "oidc_provider_factory",
    "run_oidc_provider",
]

SOURCE = Path(__file__).parent / "oidc"
PROGRAM_FILES = ("package.json", "package-lock.json", "provider.mjs")
MIN_NODE = (20, 12)  # oidc-provider 9 calls crypto.hash (Node 20.12+); Debian 12's own is 18

# Which claims each scope releases; the app asks for `superstore` to get roles and scopes of data.
CLAIMS_BY_SCOPE: dict[str, list[str]] = {
    "openid": ["sub"],
    "profile": ["name"],
    "email": ["email", "email_verified"],
    "superstore": ["superstore_roles", "superstore_regions", "superstore_states"],
}


class OidcFixtureError(RuntimeError):
    """The test provider could not be installed or started (the message says why)."""


@dataclass(frozen=True)
class OidcAccount:
    """A user of the test provider: what the login form checks, and the claims it releases."""

    login: str
    password: str
    claims: dict[str, Any]

    @property
    def sub(self) -> str:
        return str(self.claims["sub"])


@dataclass(frozen=True)
class OidcClient:
    """A confidential client (secret + PKCE) of the test provider.

    With `any_loopback_port` the client is registered as a native application, for which
    oidc-provider matches http://127.0.0.1/path against any port (RFC 8252 section 7.3): a
    fixture can then start the provider before the app knows its own port.
    """

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...] = ()
    any_loopback_port: bool = False

    def metadata(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
            "application_type": "native" if self.any_loopback_port else "web",
        }


@dataclass(frozen=True)
class OidcLifetimes:
    """Seconds each artifact lives; short values make expiry testable."""

    id_token: int = 600
    access_token: int = 600
    refresh_token: int = 3600
    session: int = 3600
    grant: int = 3600

    def ttl(self) -> dict[str, int]:
        return {
            "IdToken": self.id_token,
            "AccessToken": self.access_token,
            "RefreshToken": self.refresh_token,
            "Session": self.session,
            "Grant": self.grant,
        }


@dataclass(frozen=True)
class OidcProvider:
    """A running test provider: what a relying party needs to talk to it."""

    issuer: str
    clients: tuple[OidcClient, ...]
    accounts: tuple[OidcAccount, ...]
    lifetimes: OidcLifetimes
    log_path: Path = field(repr=False)

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def client(self) -> OidcClient:
        return self.clients[0]

    def account(self, login: str) -> OidcAccount:
        return next(a for a in self.accounts if a.login == login)


def default_accounts() -> tuple[OidcAccount, ...]:
    """An analyst limited to a region, a viewer limited to states, an admin (fresh passwords)."""
    people = [
        ("alice", "Alice Analyst", ["analyst"], ["West"], []),
        ("bob", "Bob Viewer", ["viewer"], [], ["Texas", "Oklahoma"]),
        ("carol", "Carol Admin", ["admin"], [], []),
    ]
    return tuple(
        OidcAccount(
            login=login,
            password=secrets.token_urlsafe(12),
            claims={
                "sub": f"user-{login}",
                "name": name,
                "email": f"{login}@superstore.test",
                "email_verified": True,
                "superstore_roles": roles,
                "superstore_regions": regions,
                "superstore_states": states,
            },
        )
        for login, name, roles, regions, states in people
    )


def default_client(
    redirect_uris: Sequence[str] = ("http://127.0.0.1/auth/callback",),
    post_logout_redirect_uris: Sequence[str] = ("http://127.0.0.1/auth/logged-out",),
    any_loopback_port: bool = True,
) -> OidcClient:
    """The dashboards' client with a fresh secret."""
    return OidcClient(
        client_id="superstore-dashboards",
        client_secret=secrets.token_urlsafe(24),
        redirect_uris=tuple(redirect_uris),
        post_logout_redirect_uris=tuple(post_logout_redirect_uris),
        any_loopback_port=any_loopback_port,
    )


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "superstore" / "oidc-provider"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise OidcFixtureError("node not found: install Node.js 20.12+ (and npm)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    found = tuple(int(part) for part in version.stdout.strip().lstrip("v").split(".")[:2])
    if found < MIN_NODE:
        raise OidcFixtureError(
            f"node {version.stdout.strip()} is too old for the test OIDC provider: "
            f"Node.js {MIN_NODE[0]}.{MIN_NODE[1]}+ needed"
        )
    return node


def install_provider(cache_dir: Path | None = None) -> Path:
    """The directory holding the provider and its node_modules, `npm ci` run there once.

    Keyed by the hash of package.json + package-lock.json, so a version bump installs anew;
    a file lock keeps parallel sessions from installing at the same time.
    """
    digest = hashlib.sha256()
    for name in PROGRAM_FILES[:2]:
        digest.update((SOURCE / name).read_bytes())
    root = (cache_dir or default_cache_dir()) / digest.hexdigest()[:16]
    root.mkdir(parents=True, exist_ok=True)
    with (root.parent / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "node_modules" / ".package-lock.json").exists():
            npm = shutil.which("npm")
            if npm is None:
                raise OidcFixtureError("npm not found: run `bash scripts/system-deps.sh`")
            for name in PROGRAM_FILES[:2]:
                shutil.copy2(SOURCE / name, root / name)
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                cwd=root,
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:]
                raise OidcFixtureError(f"npm ci of the test OIDC provider failed: {last}")
        # The program itself is copied on every start (cheap), so edits take effect at once.
        script = root / f".provider.{os.getpid()}.mjs"
        shutil.copy2(SOURCE / "provider.mjs", script)
        script.replace(root / "provider.mjs")
    return root


def _wait_ready(
    process: subprocess.Popen[bytes], ready_file: Path, log: Path, timeout: float
) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise OidcFixtureError(f"test OIDC provider exited ({process.returncode}): {tail}")
        if ready_file.exists():
            issuer = json.loads(ready_file.read_text())["issuer"]
            try:
                answer = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2)
                if answer.status_code == 200 and answer.json()["issuer"] == issuer:
                    return str(issuer)
            except httpx.HTTPError:
                pass
        time.sleep(0.05)
    raise OidcFixtureError(f"test OIDC provider not ready after {timeout:.0f} s (log: {log})")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the provider's process group (it and any children), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def run_oidc_provider(
    work_dir: Path,
    *,
    clients: Sequence[OidcClient] | None = None,
    accounts: Sequence[OidcAccount] | None = None,
    lifetimes: OidcLifetimes | None = None,
    cache_dir: Path | None = None,
    timeout: float = 30.0,
) -> Iterator[OidcProvider]:
    """Run a provider on 127.0.0.1 (free port) until the block ends."""
    clients = tuple(clients) if clients is not None else (default_client(),)
    accounts = tuple(accounts) if accounts is not None else default_accounts()
    lifetimes = lifetimes or OidcLifetimes()
    node = _node()
    program = install_provider(cache_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    ready_file, log_path = work_dir / "ready.json", work_dir / "provider.log"
    config = {
        "host": "127.0.0.1",
        "port": 0,
        "ready_file": str(ready_file),
        "clients": [client.metadata() for client in clients],
        "accounts": [
            {"login": a.login, "password": a.password, "claims": a.claims} for a in accounts
        ],
        "claims": CLAIMS_BY_SCOPE,
        "ttl": lifetimes.ttl(),
        "id_token_claims": True,
        "pkce_required": True,
    }
    config_path = work_dir / "config.json"
    config_path.write_text(json.dumps(config, indent=2))
    config_path.chmod(0o600)  # holds the client secret and passwords
    ready_file.unlink(missing_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [node, str(program / "provider.mjs"), str(config_path)],
            cwd=program,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        issuer = _wait_ready(process, ready_file, log_path, timeout)
        yield OidcProvider(issuer, clients, accounts, lifetimes, log_path)
    finally:
        _stop(process)


StartProvider = Callable[..., OidcProvider]


@pytest.fixture(scope="session")
def oidc_provider_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartProvider]:
    """Start providers with custom clients, accounts or lifetimes; all stop at session end."""
    with ExitStack() as stack:

        def start(**kwargs: Any) -> OidcProvider:
            work_dir = tmp_path_factory.mktemp("oidc")
            return stack.enter_context(run_oidc_provider(work_dir, **kwargs))

        yield start


@pytest.fixture(scope="session")
def oidc_provider(oidc_provider_factory: StartProvider) -> OidcProvider:
    """The session's provider: the dashboards' client on any loopback port, the default users."""
    return oidc_provider_factory()
