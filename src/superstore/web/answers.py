"""How an analytics answer is looked up, cached, wrapped and sent.

Answers are cached per (warehouse version, endpoint, filters, options) as
the bytes sent, JSON already serialised: a repeated view costs a dictionary
lookup and a socket write, not a model validation and a JSON dump (that is
what lets one process on 2 cores serve 50 busy analysts). Every answer
carries the warehouse version, the filters applied and the days they
resolve to, so a page (or a script) can say exactly what it shows.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from superstore.errors import TransientError
from superstore.warehouse import WarehouseReader
from superstore.web.access import principal_of
from superstore.web.csvfiles import disposition
from superstore.web.cubes import Cubes, CubeStore
from superstore.web.filters import Filters
from superstore.web.measures import MEASURES, Measure
from superstore.web.periods import GRAINS, Grain
from superstore.web.rowscope import ScopedCubes

__all__ = [
    "DaySpan",
    "Envelope",
    "FormatParam",
    "GrainParam",
    "MeasureParam",
    "ResultCache",
    "choice",
    "csv_response",
    "cubes_for",
    "envelope",
    "grain_of",
    "json_response",
    "measure_of",
    "reader_for",
    "scoped",
]

_Choice = TypeVar("_Choice", bound=str)

MeasureParam = Annotated[
    str,
    Query(
        description="What every number shows: " + ", ".join(f"`{m}`" for m in MEASURES) + ".",
        json_schema_extra={"enum": list(MEASURES)},
        max_length=30,
    ),
]
GrainParam = Annotated[
    str,
    Query(
        description="Period of each point: `year`, `quarter`, `month` or `day`.",
        json_schema_extra={"enum": list(GRAINS)},
        max_length=10,
    ),
]
FormatParam = Annotated[
    str,
    Query(
        description="`csv` downloads the data (every filter applied, even the visual's own).",
        json_schema_extra={"enum": ["json", "csv"]},
        max_length=10,
    ),
]


class DaySpan(BaseModel):
    """The days the time filters resolve to (first and last held day selected)."""

    first: dt.date
    last: dt.date
    label: str | None = None


class Envelope(BaseModel):
    """What every answer carries: the warehouse version, the filters applied, their days."""

    version: str
    filters: dict[str, Any]
    measure: str = "sales"
    days: DaySpan | None = None


def choice(value: str, allowed: Sequence[_Choice], name: str) -> _Choice:
    """The allowed value equal to `value`, else a 422 that lists the allowed values."""
    for option in allowed:
        if option == value:
            return option
    raise HTTPException(422, f"invalid {name} {value[:40]!r}: one of {', '.join(allowed)}")


def measure_of(name: str) -> Measure:
    """The registered measure, or a 422 naming the choices."""
    return MEASURES[choice(name, list(MEASURES), "measure")]


def grain_of(name: str) -> Grain:
    """A time grain, or a 422 naming the choices."""
    return choice(name, GRAINS, "grain")


class ResultCache:
    """LRU of answers keyed on (warehouse version, visual, filters, options); size 0 = off."""

    def __init__(self, size: int = 2048) -> None:
        self._items: OrderedDict[tuple[object, ...], Any] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def peek(self, key: tuple[object, ...]) -> Any | None:
        """The cached answer or None, without computing (safe on the event loop)."""
        if not self._size:
            return None
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def get(self, key: tuple[object, ...], compute: Callable[[], Any]) -> Any:
        """The cached answer, or compute and remember it."""
        found = self.peek(key)
        if found is not None:
            return found
        value = compute()
        if self._size:
            with self._lock:
                self._items[key] = value
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
        return value


def cubes_for(request: Request, filters: Filters | None = None) -> Cubes:
    """The current pre-aggregates of the caller's row scope (503 while there are none).

    Every analytics answer gets its cubes here, so the scope cannot be skipped;
    the filters are checked against the values the scope holds.
    """
    store: CubeStore | None = request.app.state.cubes
    if store is None:
        raise HTTPException(503, "no warehouse the dashboards can read is configured")
    try:
        cubes = store.current()
    except TransientError as exc:
        raise HTTPException(503, f"{exc}; run `superstore etl --all` to build it") from exc
    cubes = scoped(request).get(cubes, principal_of(request).scope)
    if filters is not None:
        filters.check(cubes.known)
    return cubes


def scoped(request: Request) -> ScopedCubes:
    """The app's row-scoped copies of the pre-aggregates (`superstore.web.rowscope`)."""
    found: ScopedCubes = request.app.state.scoped
    return found


def reader_for(request: Request) -> WarehouseReader:
    """Reads order lines from the warehouse the pre-aggregates come from."""
    store: CubeStore | None = request.app.state.cubes
    if store is None:
        raise HTTPException(503, "no warehouse the dashboards can read is configured")
    return store.source


def envelope(cubes: Cubes, filters: Filters, m: Measure) -> dict[str, Any]:
    """The fields every answer starts with."""
    dates = filters.dates(cubes.last_day)
    days = None
    if not dates.empty(cubes.first_day, cubes.last_day):
        first, last = dates.hull(cubes.first_day, cubes.last_day)
        days = DaySpan(first=first, last=last, label=dates.label)
    return {"version": cubes.version, "filters": filters.active(), "measure": m.name, "days": days}


def json_response(body: bytes) -> Response:
    """Serialised JSON as is (no second validation or dump)."""
    return Response(body, media_type="application/json")


def csv_response(text: str, name: str) -> Response:
    """A CSV download named after what made it."""
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": disposition(name)},
    )
