"""The analytics filters: parsed, validated against the warehouse's own values, bound.

Slicers (years, states) and cross-filters (segment, region, category; a map
click sets the state) arrive as query parameters. Shape is checked by
pydantic (types, lengths, counts); values are checked against the values the
warehouse actually holds, so an unknown or hostile value is a 422 naming the
parameter, never a piece of SQL. Queries bind them as parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import HTTPException, Query

__all__ = ["DIMENSIONS", "Filters", "filters_param"]

Dimension = Literal["year", "state", "segment", "region", "category"]
DIMENSIONS: tuple[Dimension, ...] = ("year", "state", "segment", "region", "category")

_MAX_LABEL = 100
_MAX_VALUES = 60


@dataclass(frozen=True)
class Filters:
    """Validated filters; empty tuple / None means "all"."""

    years: tuple[int, ...] = ()
    states: tuple[str, ...] = ()
    segment: str | None = None
    region: str | None = None
    category: str | None = None

    def without(self, dimension: Dimension) -> Filters:
        """The same filters minus one dimension: a visual is not filtered by its own clicks."""
        field = {"year": "years", "state": "states"}.get(dimension, dimension)
        empty: tuple[()] | None = () if dimension in ("year", "state") else None
        return Filters(**{**self.__dict__, field: empty})

    @property
    def key(self) -> tuple[object, ...]:
        """Canonical, hashable form for caches (order of slicer values does not matter)."""
        return (self.years, self.states, self.segment, self.region, self.category)

    def active(self) -> dict[str, object]:
        """Only the filters that are set, for display and CSV headers."""
        return {k: v for k, v in self.__dict__.items() if v not in ((), None)}

    def check(self, known: Mapping[str, Iterable[object]]) -> None:
        """Reject values the warehouse does not hold (HTTP 422 naming the parameter)."""
        checks = {
            "year": self.years,
            "state": self.states,
            "segment": (self.segment,) if self.segment is not None else (),
            "region": (self.region,) if self.region is not None else (),
            "category": (self.category,) if self.category is not None else (),
        }
        for name, values in checks.items():
            allowed = set(known.get(name, ()))
            unknown = [v for v in values if v not in allowed]
            if unknown:
                raise HTTPException(
                    422, f"unknown {name} {unknown[0]!r}: not a value held by the warehouse"
                )


def _labels(values: list[str] | None, name: str) -> tuple[str, ...]:
    out: set[str] = set()
    for value in values or []:
        if not value or len(value) > _MAX_LABEL or not value.isprintable():
            raise HTTPException(422, f"invalid {name}: 1-{_MAX_LABEL} printable characters")
        out.add(value)
    return tuple(sorted(out))


def _label(value: str | None, name: str) -> str | None:
    return _labels([value], name)[0] if value else None


def filters_param(
    year: Annotated[
        list[int] | None,
        Query(
            description="Year slicer; repeat for several (`year=2016&year=2017`).",
            max_length=_MAX_VALUES,
        ),
    ] = None,
    state: Annotated[
        list[str] | None,
        Query(description="State slicer or map click; repeat for several.", max_length=_MAX_VALUES),
    ] = None,
    segment: Annotated[
        str | None, Query(description="Cross-filter: a customer segment.", max_length=_MAX_LABEL)
    ] = None,
    region: Annotated[
        str | None, Query(description="Cross-filter: a region.", max_length=_MAX_LABEL)
    ] = None,
    category: Annotated[
        str | None, Query(description="Cross-filter: a product category.", max_length=_MAX_LABEL)
    ] = None,
) -> Filters:
    """FastAPI dependency: the query parameters every analytics endpoint accepts."""
    if any(not 1900 <= y <= 2200 for y in year or []):
        raise HTTPException(422, "invalid year: 1900-2200")
    return Filters(
        years=tuple(sorted(set(year or []))),
        states=_labels(state, "state"),
        segment=_label(segment, "segment"),
        region=_label(region, "region"),
        category=_label(category, "category"),
    )
