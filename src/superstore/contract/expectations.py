"""Data expectations: the values a business allows for a few fields, beyond their shape.

A producer must not invent regions, segments, ship modes or US states (a
``-2+3`` region once appeared in the dashboards' slicers). The reference sets
default to what the data set holds (and every US state with the District of
Columbia) and are configurable (``SUPERSTORE_EXPECT_*``). A line outside them
is dead-lettered with a reason naming the field and the value. Categories and
sub-categories are NOT checked here: a business adds them, so they are
accepted and alerted on instead (superstore.ops).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from superstore.settings import Settings

__all__ = ["DEFAULT_EXPECTATIONS", "SHAPE_ONLY", "US_STATES", "Expectations"]

US_STATES = frozenset(
    {
        "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut",
        "Delaware", "District of Columbia", "Florida", "Georgia", "Hawaii", "Idaho", "Illinois",
        "Indiana", "Iowa", "Kansas", "Kentucky", "Louisiana", "Maine", "Maryland",
        "Massachusetts", "Michigan", "Minnesota", "Mississippi", "Missouri", "Montana",
        "Nebraska", "Nevada", "New Hampshire", "New Jersey", "New Mexico", "New York",
        "North Carolina", "North Dakota", "Ohio", "Oklahoma", "Oregon", "Pennsylvania",
        "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah",
        "Vermont", "Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Expectations:
    """The allowed values of region, segment, ship mode and state."""

    regions: frozenset[str] = frozenset({"Central", "East", "South", "West"})
    segments: frozenset[str] = frozenset({"Consumer", "Corporate", "Home Office"})
    ship_modes: frozenset[str] = frozenset(
        {"First Class", "Same Day", "Second Class", "Standard Class"}
    )
    states: frozenset[str] = US_STATES
    #: False only to judge a message's shape alone (tests of the validators).
    enforced: bool = True

    @classmethod
    def of(
        cls,
        regions: Iterable[str] | None = None,
        segments: Iterable[str] | None = None,
        ship_modes: Iterable[str] | None = None,
        states: Iterable[str] | None = None,
    ) -> Expectations:
        """Reference sets from configuration; an empty or missing one keeps the default."""
        default = cls()
        return cls(
            regions=frozenset(regions) if regions else default.regions,
            segments=frozenset(segments) if segments else default.segments,
            ship_modes=frozenset(ship_modes) if ship_modes else default.ship_modes,
            states=frozenset(states) if states else default.states,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Expectations:
        """The configured reference sets (``SUPERSTORE_EXPECT_*``), defaults where empty."""
        return cls.of(
            settings.expect_regions,
            settings.expect_segments,
            settings.expect_ship_modes,
            settings.expect_states,
        )

    def accepts(self, region: str, segment: str, ship_mode: str, state: str) -> bool:
        """True when every field holds an expected value (four set lookups)."""
        return not self.enforced or (
            region in self.regions
            and segment in self.segments
            and ship_mode in self.ship_modes
            and state in self.states
        )

    def check(self, region: str, segment: str, ship_mode: str, state: str) -> None:
        """ValueError naming the first field whose value is not expected."""
        if not self.enforced:
            return
        for field, value, allowed, setting in (
            ("region", region, self.regions, "REGIONS"),
            ("segment", segment, self.segments, "SEGMENTS"),
            ("ship_mode", ship_mode, self.ship_modes, "SHIP_MODES"),
            ("state", state, self.states, "STATES"),
        ):
            if value not in allowed:
                shown = (
                    ", ".join(sorted(allowed)) if len(allowed) <= 8 else f"{len(allowed)} values"
                )
                raise ValueError(
                    f"invalid: {field}: {value[:60]!r} is not an expected {field} ({shown}); "
                    f"SUPERSTORE_EXPECT_{setting} lists the allowed values"
                )


DEFAULT_EXPECTATIONS = Expectations()
#: Shape only: every value of the four fields is accepted.
SHAPE_ONLY = Expectations(enforced=False)
