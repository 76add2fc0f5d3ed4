"""Calendar periods as an analyst thinks of them: drill levels, relative ranges, comparisons.

A time selection is the intersection of three things the page can set: the
year slicer, a date range (custom `from`/`to` or a relative preset such as
"last 30 days") and a drilled period (a year, quarter, month or day clicked
on a time visual). `DateSet` is that intersection; every visual filters by
it, and the KPI cards compare it with `DateSet.previous()`, the comparable
span just before. Presets are relative to the latest day the warehouse
holds, not to the wall clock: a warehouse loaded yesterday night answers
"last 7 days" with last week, and the replayed 2014-2017 history still
answers at all.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Literal

__all__ = [
    "GRAINS",
    "PRESETS",
    "DateSet",
    "Grain",
    "Period",
    "finer",
    "period_label",
    "periods_between",
    "resolve_preset",
    "shift_months",
]

Grain = Literal["year", "quarter", "month", "day"]
GRAINS: tuple[Grain, ...] = ("year", "quarter", "month", "day")

PRESETS: dict[str, str] = {
    "last-7-days": "Last 7 days",
    "last-30-days": "Last 30 days",
    "last-90-days": "Last 90 days",
    "month-to-date": "Month to date",
    "quarter-to-date": "Quarter to date",
    "year-to-date": "Year to date",
    "previous-year": "Previous year",
}

_DAY = dt.timedelta(days=1)
_PATTERNS: tuple[tuple[Grain, re.Pattern[str]], ...] = (
    ("year", re.compile(r"(\d{4})")),
    ("quarter", re.compile(r"(\d{4})-Q([1-4])")),
    ("month", re.compile(r"(\d{4})-(\d{2})")),
    ("day", re.compile(r"(\d{4})-(\d{2})-(\d{2})")),
)


def finer(grain: Grain) -> Grain | None:
    """The next level down (year -> quarter -> month -> day), None below day."""
    i = GRAINS.index(grain)
    return GRAINS[i + 1] if i + 1 < len(GRAINS) else None


def shift_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (or earlier), clamped to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def period_label(day: dt.date, grain: Grain) -> str:
    """The label of the period holding `day`: 2016, 2016-Q3, 2016-08, 2016-08-05."""
    if grain == "year":
        return f"{day.year:04d}"
    if grain == "quarter":
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    if grain == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return day.isoformat()


@dataclass(frozen=True)
class Period:
    """A calendar year, quarter, month or day: what a click on a time visual drills into."""

    grain: Grain
    start: dt.date
    end: dt.date  # inclusive

    @classmethod
    def parse(cls, text: str) -> Period:
        """`2016`, `2016-Q3`, `2016-08` or `2016-08-05`; ValueError otherwise."""
        for grain, pattern in _PATTERNS:
            match = pattern.fullmatch(text)
            if not match:
                continue
            parts = [int(g) for g in match.groups()]
            year = parts[0]
            if grain == "year":
                return cls(grain, dt.date(year, 1, 1), dt.date(year, 12, 31))
            if grain == "quarter":
                first = (parts[1] - 1) * 3 + 1
                return cls(grain, dt.date(year, first, 1), _month_end(year, first + 2))
            if grain == "month":
                return cls(grain, dt.date(year, parts[1], 1), _month_end(year, parts[1]))
            day = dt.date(year, parts[1], parts[2])  # ValueError for 2016-02-30
            return cls(grain, day, day)
        raise ValueError(f"not a period: {text!r} (expected 2016, 2016-Q3, 2016-08 or 2016-08-05)")

    @property
    def label(self) -> str:
        """The period as written in URLs and on axes."""
        return period_label(self.start, self.grain)

    def parent(self) -> Period | None:
        """The period one level up (the day's month, the month's quarter ...)."""
        i = GRAINS.index(self.grain)
        return None if i == 0 else Period.parse(period_label(self.start, GRAINS[i - 1]))

    def path(self) -> list[Period]:
        """From the year down to this period: the drill breadcrumb."""
        out: list[Period] = [self]
        while (up := out[0].parent()) is not None:
            out.insert(0, up)
        return out


def periods_between(
    lo: dt.date, hi: dt.date, grain: Grain, years: tuple[int, ...] = ()
) -> list[str]:
    """Every period label touching [lo, hi] (in the selected years), empty ones included.

    The axis of a time visual: a month without sales is a point at zero, not
    a gap that joins April to December.
    """
    labels: list[str] = []
    day = lo
    while day <= hi:
        if not years or day.year in years:
            label = period_label(day, grain)
            if not labels or labels[-1] != label:
                labels.append(label)
            day = Period.parse(label).end + _DAY
        else:
            day = dt.date(day.year + 1, 1, 1)
    return labels


def resolve_preset(name: str, anchor: dt.date) -> tuple[dt.date, dt.date]:
    """The days of a relative preset, ending at `anchor` (the latest day held)."""
    if name.startswith("last-") and name.endswith("-days"):
        days = int(name.split("-")[1])
        return anchor - dt.timedelta(days=days - 1), anchor
    if name == "month-to-date":
        return anchor.replace(day=1), anchor
    if name == "quarter-to-date":
        return dt.date(anchor.year, (anchor.month - 1) // 3 * 3 + 1, 1), anchor
    if name == "year-to-date":
        return dt.date(anchor.year, 1, 1), anchor
    if name == "previous-year":
        return dt.date(anchor.year - 1, 1, 1), dt.date(anchor.year - 1, 12, 31)
    raise ValueError(f"unknown range {name!r}")


def _whole_months(lo: dt.date, hi: dt.date) -> int | None:
    """How many calendar months [lo, hi] spans when it is whole months; None otherwise."""
    if lo.day != 1 or hi + _DAY != (hi + _DAY).replace(day=1):
        return None
    return (hi.year - lo.year) * 12 + hi.month - lo.month + 1


@dataclass(frozen=True)
class DateSet:
    """The days selected: `years` (empty = any) intersected with [lo, hi] (None = open).

    `unit` says how the span was chosen, which decides what the previous
    comparable span is: a preset "to date" compares with the same days of the
    previous month/quarter/year, whole calendar units with the units before,
    anything else with the same number of days just before.
    """

    years: tuple[int, ...] = ()
    lo: dt.date | None = None
    hi: dt.date | None = None
    unit: Literal["month", "quarter", "year"] | None = None
    label: str | None = None

    @property
    def everything(self) -> bool:
        """No time filter at all."""
        return not self.years and self.lo is None and self.hi is None

    def hull(self, first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
        """[lo, hi] clipped to the days held (and to the selected years' bounds)."""
        lo = max(self.lo or first, first)
        hi = min(self.hi or last, last)
        if self.years:
            lo = max(lo, dt.date(min(self.years), 1, 1))
            hi = min(hi, dt.date(max(self.years), 12, 31))
        return lo, hi

    def empty(self, first: dt.date, last: dt.date) -> bool:
        """True when no held day is selected."""
        lo, hi = self.hull(first, last)
        if lo > hi:
            return True
        return bool(self.years) and not any(lo.year <= y <= hi.year for y in self.years)

    def days(self, first: dt.date, last: dt.date) -> Iterator[dt.date]:
        """Every selected day between the first and last day held."""
        lo, hi = self.hull(first, last)
        day = lo
        while day <= hi:
            if not self.years or day.year in self.years:
                yield day
            day += _DAY

    def shifted_year(self) -> DateSet:
        """The same days a year before: what a growth point compares with."""
        return replace(
            self,
            years=tuple(y - 1 for y in self.years),
            lo=shift_months(self.lo, -12) if self.lo else None,
            hi=shift_months(self.hi, -12) if self.hi else None,
        )

    def previous(self, first: dt.date, last: dt.date) -> DateSet | None:
        """The comparable span just before (None when nothing is selected)."""
        if self.everything:
            return None
        if self.lo is None and self.hi is None:  # years only
            ys = sorted(self.years)
            step = len(ys) if ys == list(range(ys[0], ys[-1] + 1)) else 1
            before = tuple(y - step for y in ys)
            return DateSet(years=before, label=", ".join(map(str, before)))
        if self.lo is None or self.hi is None:
            lo, hi = self.hull(first, last)
        else:
            lo, hi = self.lo, self.hi
        if self.unit is not None:
            months = {"month": 1, "quarter": 3, "year": 12}[self.unit]
            plo, phi = shift_months(lo, -months), shift_months(hi, -months)
        elif (n := _whole_months(lo, hi)) is not None:
            plo, phi = shift_months(lo, -n), shift_months(hi + _DAY, -n) - _DAY
        else:
            span = hi - lo + _DAY
            plo, phi = lo - span, hi - span
        return DateSet(lo=plo, hi=phi, label=_span_label(plo, phi))


def _span_label(lo: dt.date, hi: dt.date) -> str:
    """2016, 2016-Q3, 2016-08, or `2016-10-02 to 2016-12-30`."""
    for grain in GRAINS:
        try:
            period = Period.parse(period_label(lo, grain))
        except ValueError:  # pragma: no cover - labels always parse
            continue
        if period.start == lo and period.end == hi:
            return period.label
    if _whole_months(lo, hi):
        return f"{period_label(lo, 'month')} to {period_label(hi, 'month')}"
    return f"{lo.isoformat()} to {hi.isoformat()}"
