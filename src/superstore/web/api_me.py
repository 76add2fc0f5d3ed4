"""`/api/me`: who the signed-in principal is and what the access rules let them do.

The pages ask once and hide the links that would answer 403 (CSV files, the
zip export, the API docs), so a viewer is not offered downloads she may not
take. The answer is derived from the very rules the access middleware applies
(`needed_role` for a representative path of each capability, then the same
role-or-session test), so page and server cannot disagree: when the rules
change, this answer follows.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from superstore.web.access import needed_role, principal_of, role_allows
from superstore.web.principal import Principal, Role

__all__ = ["CAPABILITIES", "Me", "MeScope", "may", "router"]

router = APIRouter(prefix="/api", tags=["access"])

# A capability is the right to open a representative request of it.
CAPABILITIES: dict[str, tuple[str, str]] = {
    "csv": ("/api/analytics/kpis", "format=csv"),  # every CSV file
    "zip": ("/api/analytics/export", ""),  # the page's data as a zip
    "api": ("/openapi.json", ""),  # the API for scripts and its docs
    "ops": ("/metrics", ""),  # metrics, status and operations pages
}


def may(principal: Principal, path: str, query: str = "") -> bool:
    """Whether the access middleware lets `principal` open `path?query` (same test)."""
    return role_allows(principal, *needed_role(path, query))


class MeScope(BaseModel):
    """The rows the principal sees (empty list = that dimension is not limited)."""

    regions: list[str]
    states: list[str]
    unlimited: bool


class Me(BaseModel):
    """The principal, its data scope and what it may do."""

    name: str
    role: Role
    via: Literal["token", "session", "none"]
    scope: MeScope
    may: dict[str, bool]


@router.get("/me", summary="Who am I, which rows do I see, what may I download?")
async def me(request: Request) -> Me:
    """The caller as the access middleware identified it; `may` says, per capability
    (csv, zip, api, ops), whether such a request would be allowed (not 403)."""
    principal = principal_of(request)
    scope = principal.scope
    return Me(
        name=principal.name,
        role=principal.role,
        via=principal.via,
        scope=MeScope(
            regions=sorted(scope.regions), states=sorted(scope.states), unlimited=scope.unlimited
        ),
        may={name: may(principal, *target) for name, target in CAPABILITIES.items()},
    )
