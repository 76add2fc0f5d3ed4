"""API tokens for scripts and BI tools: shown once, stored hashed, revocable.

A token reads ``sst_<id>_<secret>``: the id finds the record, the secret (32
random bytes) is never stored, only the SHA-256 of the whole token. A fast
hash is enough here: the secret has 256 bits of entropy, so there is nothing
to brute-force that a slow password hash would protect (a slow hash matters
for passwords people choose). Comparison is constant time.

The store is one JSON file, mode 0600, owned by this module (no database:
the dashboards must authenticate even while PostgreSQL is down). Writes go to
a temporary file renamed over the old one, under a file lock, so concurrent
`create`/`revoke` never lose a record; the server re-reads the file when its
modification time changes, so a revoked token stops working at once.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from superstore.errors import ConfigError, InputError
from superstore.settings import Settings
from superstore.web.principal import ROLES, Principal, Role, Scope

__all__ = ["PREFIX", "TokenRecord", "TokenStore"]

PREFIX = "sst_"


@dataclass(frozen=True)
class TokenRecord:
    """What is kept of a token: never the token itself."""

    id: str
    name: str
    role: Role
    regions: tuple[str, ...]
    states: tuple[str, ...]
    created_at: str
    sha256: str

    @property
    def scope(self) -> Scope:
        return Scope.of(self.regions, self.states)

    def public(self) -> dict[str, Any]:
        """The record without its hash (for `token list`)."""
        return {k: v for k, v in asdict(self).items() if k != "sha256"}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """The token file: create, list, revoke, and check a presented token."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache: tuple[tuple[int, int, int], dict[str, TokenRecord]] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenStore:
        """The configured store: web_tokens_file, else data_dir/web_tokens.json."""
        return cls(settings.web_tokens_file or settings.data_dir / "web_tokens.json")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read(self) -> dict[str, TokenRecord]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"cannot read the token store {self.path}: {exc.strerror}") from exc
        try:
            items = json.loads(raw or b"{}").get("tokens", [])
            records = [
                TokenRecord(
                    id=str(t["id"]),
                    name=str(t["name"]),
                    role=_role(t["role"]),
                    regions=tuple(t.get("regions", ())),
                    states=tuple(t.get("states", ())),
                    created_at=str(t["created_at"]),
                    sha256=str(t["sha256"]),
                )
                for t in items
            ]
        except (ValueError, KeyError, TypeError, AttributeError, InputError) as exc:
            raise ConfigError(
                f"the token store {self.path} is damaged ({type(exc).__name__})",
                hint="restore it, or delete it and create the tokens again",
            ) from None
        return {r.id: r for r in records}

    def _write(self, records: dict[str, TokenRecord]) -> None:
        body = json.dumps({"tokens": [asdict(r) for r in records.values()]}, indent=2)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(body)
        os.replace(tmp, self.path)
        self._cache = None

    def create(
        self,
        role: str,
        name: str = "",
        regions: tuple[str, ...] = (),
        states: tuple[str, ...] = (),
    ) -> tuple[str, TokenRecord]:
        """A new token (returned once, in clear) and its stored record."""
        checked = _role(role)
        scope = Scope.of(regions, states)
        token_id = secrets.token_hex(6)
        token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        record = TokenRecord(
            id=token_id,
            name=name or f"token-{token_id}",
            role=checked,
            regions=tuple(sorted(scope.regions)),
            states=tuple(sorted(scope.states)),
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            sha256=_digest(token),
        )
        with self._locked():
            records = self._read()
            records[token_id] = record
            self._write(records)
        return token, record

    def list(self) -> list[TokenRecord]:
        """Every live token's record, oldest first."""
        return sorted(self._read().values(), key=lambda r: (r.created_at, r.id))

    def revoke(self, token_id: str) -> TokenRecord:
        """Delete a token by id (or by name); InputError when there is none."""
        with self._locked():
            records = self._read()
            found = records.get(token_id) or next(
                (r for r in records.values() if r.name == token_id), None
            )
            if found is None:
                raise InputError(f"no token {token_id!r}: `superstore web token list` shows them")
            del records[found.id]
            self._write(records)
        return found

    def _records(self) -> dict[str, TokenRecord]:
        """The records, re-read only when the file changed (a stat per request)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        mark = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # a rewrite is a new inode
        if self._cache is None or self._cache[0] != mark:
            self._cache = (mark, self._read())
        return self._cache[1]

    def verify(self, token: str) -> Principal | None:
        """The principal of a presented token, or None when it is unknown or revoked."""
        if not token.startswith(PREFIX) or len(token) > 200:
            return None
        token_id = token[len(PREFIX) :].split("_", 1)[0]
        record = self._records().get(token_id)
        if record is None or not hmac.compare_digest(record.sha256, _digest(token)):
            return None
        return Principal(name=record.name, role=record.role, scope=record.scope, via="token")


def _role(value: object) -> Role:
    for role in ROLES:
        if value == role:
            return role
    raise InputError(f"unknown role {value!r}: one of {', '.join(ROLES)}")
