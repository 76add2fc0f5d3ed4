"""Why a message breaks the contract, in one readable line (the reason a dead letter carries)."""

from __future__ import annotations

from pydantic import ValidationError

__all__ = ["describe_validation_error"]


def describe_validation_error(exc: ValidationError, limit: int = 3) -> str:
    """One readable line naming each bad field and why, e.g. `quantity: ... (got -2)`."""
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "message"
        got = err.get("input")
        plain = err["loc"] and not isinstance(got, dict | list | bytes) and got is not None
        shown = f" (got {str(got)[:40]!r})" if plain else ""
        parts.append(f"{where}: {err['msg']}{shown}")
    more = exc.error_count() - limit
    return "invalid: " + "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
