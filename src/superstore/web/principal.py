"""Who is asking, and which rows they may see: a role and a data scope.

A principal comes from an API token (`superstore.web.tokens`) or a sign-in
session (`superstore.web.oidc`); `superstore.web.access` attaches it to every
request. Roles are ordered: viewer < analyst < admin, each allowed what the
one below is plus more. A scope limits the rows to some regions and/or states
(empty = no limit on that dimension); an order line is visible when its
region and its state both pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["EVERYONE", "ROLES", "Principal", "Role", "Scope", "role_at_least"]

Role = Literal["viewer", "analyst", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "analyst", "admin")


def role_at_least(role: Role, needed: Role) -> bool:
    """True when `role` includes everything `needed` may do."""
    return ROLES.index(role) >= ROLES.index(needed)


def _members(values: Iterable[str] | None) -> frozenset[str]:
    return frozenset(v.strip() for v in values or () if v and v.strip())


@dataclass(frozen=True)
class Scope:
    """The rows a principal may see: regions and/or states (empty = that dimension open)."""

    regions: frozenset[str] = frozenset()
    states: frozenset[str] = frozenset()

    @classmethod
    def of(cls, regions: Iterable[str] | None = None, states: Iterable[str] | None = None) -> Scope:
        """A scope from lists (blank entries dropped)."""
        return cls(_members(regions), _members(states))

    @property
    def unlimited(self) -> bool:
        """No row is hidden."""
        return not self.regions and not self.states

    @property
    def key(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Canonical, hashable form for cache keys."""
        return tuple(sorted(self.regions)), tuple(sorted(self.states))

    def allows(self, region: str | None, state: str | None) -> bool:
        """Whether a row of this region and state is visible."""
        return (not self.regions or region in self.regions) and (
            not self.states or state in self.states
        )

    def describe(self) -> str:
        """For lists and logs: `regions West; states Texas, Utah` or `everything`."""
        parts = [
            f"{name} {', '.join(sorted(values))}"
            for name, values in (("regions", self.regions), ("states", self.states))
            if values
        ]
        return "; ".join(parts) or "everything"


EVERYONE = Scope()


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a name for logs, a role, a scope, and how they came in."""

    name: str
    role: Role
    scope: Scope = field(default=EVERYONE)
    via: Literal["token", "session", "none"] = "none"
