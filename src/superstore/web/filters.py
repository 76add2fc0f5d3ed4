"""The analytics filters: parsed, validated against the warehouse's own values, bound.

Slicers (years, states, a date range or relative preset), cross-filters
(segment, region, category; a map click sets the state) and the drilled
period arrive as query parameters. Shape is checked here (types, lengths,
counts, date formats); values are checked against the values the warehouse
actually holds, so an unknown or hostile value is a 422 naming the parameter,
never a piece of SQL. Queries bind them as parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Query

from superstore.contract import MAX_TEXT, check_text
from superstore.web.periods import PRESETS, DateSet, Period, resolve_preset

__all__ = ["DIMENSIONS", "Filters", "FiltersDep", "filter_text", "filters_param"]

Dimension = Literal["year", "state", "segment", "region", "category"]
DIMENSIONS: tuple[Dimension, ...] = ("year", "state", "segment", "region", "category")

_MAX_LABEL = MAX_TEXT  # the contract's limit: any value ingested can be filtered on
_MAX_VALUES = 60
_TO_DATE: dict[str, Literal["month", "quarter", "year"]] = {
    "month-to-date": "month",
    "quarter-to-date": "quarter",
    "year-to-date": "year",
}


@dataclass(frozen=True)
class Filters:
    """Validated filters; empty tuple / None means "all"."""

    years: tuple[int, ...] = ()
    states: tuple[str, ...] = ()
    segment: str | None = None
    region: str | None = None
    category: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    range: str | None = None  # a relative preset (PRESETS), instead of date_from/date_to
    period: str | None = None  # the drilled period: 2016, 2016-Q3, 2016-08 or 2016-08-05

    def without(self, dimension: Dimension) -> Filters:
        """The same filters minus one dimension: a visual is not filtered by its own clicks."""
        if dimension == "year":
            return replace(self, years=())
        if dimension == "state":
            return replace(self, states=())
        if dimension == "segment":
            return replace(self, segment=None)
        if dimension == "region":
            return replace(self, region=None)
        return replace(self, category=None)

    @property
    def key(self) -> tuple[object, ...]:
        """Canonical, hashable form for caches (order of slicer values does not matter)."""
        return tuple(getattr(self, f.name) for f in fields(self))

    def active(self) -> dict[str, object]:
        """Only the filters that are set, for display, file names and CSV headers."""
        names = {"date_from": "from", "date_to": "to"}
        return {names.get(k, k): v for k, v in asdict(self).items() if v not in ((), None)}

    def dates(self, last: dt.date) -> DateSet:
        """The selected days; relative presets end at `last`, the latest day held."""
        lo, hi, unit, label = self.date_from, self.date_to, None, None
        if self.range is not None:
            lo, hi = resolve_preset(self.range, last)
            unit, label = _TO_DATE.get(self.range), PRESETS[self.range]
        if self.period is not None:
            period = Period.parse(self.period)
            if lo is None and hi is None:
                label = period.label
            else:  # a drilled period inside a range: just the days both select
                unit = label = None
            lo = period.start if lo is None else max(lo, period.start)
            hi = period.end if hi is None else min(hi, period.end)
        return DateSet(years=self.years, lo=lo, hi=hi, unit=unit, label=label)

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


def filter_text(value: str, name: str) -> str:
    """A filter value under the contract's own text rule, so whatever was ingested passes.

    1..MAX_TEXT characters without control characters, exactly what a message's
    text field may hold (a stricter rule, such as str.isprintable, would refuse
    a product name with a non-breaking space that the pipeline accepted).
    """
    try:
        if not value or len(value) > _MAX_LABEL:
            raise ValueError(f"1-{_MAX_LABEL} characters")
        return check_text(value)
    except ValueError as exc:
        raise HTTPException(422, f"invalid {name}: {exc}") from None


def _labels(values: list[str] | None, name: str) -> tuple[str, ...]:
    return tuple(sorted({filter_text(value, name) for value in values or []}))


def _label(value: str | None, name: str) -> str | None:
    return _labels([value], name)[0] if value else None


def _day(value: str | None, name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        day = dt.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        day = None
    if day is None or not 1900 <= day.year <= 2200:
        raise HTTPException(422, f"invalid {name}: a date YYYY-MM-DD between 1900 and 2200")
    return day


async def filters_param(
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
    date_from: Annotated[
        str | None,
        Query(alias="from", description="First day of a date range (YYYY-MM-DD).", max_length=10),
    ] = None,
    date_to: Annotated[
        str | None,
        Query(alias="to", description="Last day of a date range, inclusive.", max_length=10),
    ] = None,
    range_: Annotated[
        str | None,
        Query(
            alias="range",
            description="A relative range ending on the latest day held: "
            + ", ".join(f"`{k}`" for k in PRESETS)
            + ". Not with from/to.",
            max_length=20,
        ),
    ] = None,
    period: Annotated[
        str | None,
        Query(
            description="Drilled period: `2016`, `2016-Q3`, `2016-08` or `2016-08-05`.",
            max_length=10,
        ),
    ] = None,
) -> Filters:
    """FastAPI dependency: the query parameters every analytics endpoint accepts.

    `async` though it awaits nothing: FastAPI runs a plain function in a thread,
    and that hop cost more than the checks themselves (they never block).
    """
    if any(not 1900 <= y <= 2200 for y in year or []):
        raise HTTPException(422, "invalid year: 1900-2200")
    lo, hi = _day(date_from, "from"), _day(date_to, "to")
    if lo and hi and lo > hi:
        raise HTTPException(422, f"invalid date range: from {lo} is after to {hi}")
    if range_ is not None and range_ not in PRESETS:
        raise HTTPException(422, f"invalid range {range_!r}: one of {', '.join(PRESETS)}")
    if range_ is not None and (lo or hi):
        raise HTTPException(422, "give either range or from/to, not both")
    if period:
        try:
            Period.parse(period)
        except ValueError as exc:
            raise HTTPException(422, f"invalid period: {exc}") from None
    return Filters(
        years=tuple(sorted(set(year or []))),
        states=_labels(state, "state"),
        segment=_label(segment, "segment"),
        region=_label(region, "region"),
        category=_label(category, "category"),
        date_from=lo,
        date_to=hi,
        range=range_,
        period=period or None,
    )


FiltersDep = Annotated[Filters, Depends(filters_param)]
