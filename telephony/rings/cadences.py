"""Ringback cadences: the on/off rhythm of the ring the caller hears.

A ring is one cycle of the cadence. The table below holds every country of
Asterisk's `indications.conf`; `CUSTOM_DEFAULTS` adds what Asterisk lacks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

MIN_SEGMENT_MS: Final = 1
MAX_SEGMENT_MS: Final = 10_000
MAX_SEGMENTS: Final = 16
NAME_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")

_SEGMENTS_ACCEPTED = (
    f"must be an even number (2..{MAX_SEGMENTS}) of durations in ms, alternating on/off "
    f"starting with on, each {MIN_SEGMENT_MS}..{MAX_SEGMENT_MS}, e.g. [1000, 4000]"
)


class UnknownCadence(ValueError):
    """A cadence name that is neither Asterisk's, a custom default nor a custom one."""

    def __init__(self, name: str, accepted: list[str]) -> None:
        self.name = name
        self.accepted = accepted
        super().__init__(f"unknown cadence {name!r}; accepted: {', '.join(accepted)}")


class Cadence(BaseModel):
    """One ringback rhythm: `segments_ms` alternates on, off, on, off... (ms)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN.pattern)
    segments_ms: tuple[StrictInt, ...]
    description: str = Field(default="", max_length=80)

    @field_validator("segments_ms")
    @classmethod
    def _check_segments(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if (
            len(value) < 2
            or len(value) % 2
            or len(value) > MAX_SEGMENTS
            or any(not MIN_SEGMENT_MS <= ms <= MAX_SEGMENT_MS for ms in value)
        ):
            raise ValueError(_SEGMENTS_ACCEPTED)
        return value

    @classmethod
    def uniform(cls, name: str, on_ms: int, off_ms: int, description: str = "") -> Cadence:
        """One tone then one pause, e.g. `Cadence.uniform("short", 100, 200)` for tests."""
        return cls(name=name, segments_ms=(on_ms, off_ms), description=description)

    @property
    def cycle(self) -> timedelta:
        """One ring: the sum of all segments."""
        return timedelta(milliseconds=sum(self.segments_ms))

    @property
    def first_on_ms(self) -> int:
        return self.segments_ms[0]


# Asterisk 22.10 (Debian 1:22.10.1), /etc/asterisk/indications.conf: every section
# with a `ringcadence =` line (41 sections: 40 countries and `us-old`; the file's
# 42 sections include [general]).
#
# The file has two rhythms per country. `ringcadence` is, in its own words, the
# "durations the physical bell rings" (an analogue phone's ringer); `ring` is the
# ringback tone played to the caller. A ring here is what the caller hears, so the
# cadence is taken from `ring` (the "/ms" durations of its elements). They agree
# everywhere except four sections, marked "differs" with the `ringcadence` value.
#
# code, description, `ring` durations (ms), `ring` tone as written in the file
_ASTERISK_22_10: Final[tuple[tuple[str, str, tuple[int, ...], str], ...]] = (
    ("at", "Austria", (1000, 5000), "420/1000,0/5000"),
    ("au", "Australia", (400, 200, 400, 2000), "413+438/400,0/200,413+438/400,0/2000"),
    ("be", "Belgium", (1000, 3000), "425/1000,0/3000"),
    ("bg", "Bulgaria", (1000, 4000), "425/1000,0/4000"),
    ("br", "Brazil", (1000, 4000), "425/1000,0/4000"),
    ("ch", "Switzerland", (1000, 4000), "425/1000,0/4000"),
    ("cl", "Chile", (1000, 3000), "400/1000,0/3000"),
    ("cn", "China", (1000, 4000), "450/1000,0/4000"),
    ("cz", "Czech Republic", (1000, 4000), "425/1000,0/4000"),
    ("de", "Germany", (1000, 4000), "425/1000,0/4000"),
    ("dk", "Denmark", (1000, 4000), "425/1000,0/4000"),
    ("ee", "Estonia", (1000, 4000), "425/1000,0/4000"),
    ("es", "Spain", (1500, 3000), "425/1500,0/3000"),
    ("fi", "Finland", (1000, 4000), "425/1000,0/4000"),
    ("fr", "France", (1500, 3500), "440/1500,0/3500"),
    ("gr", "Greece", (1000, 4000), "425/1000,0/4000"),
    ("hu", "Hungary", (1250, 3750), "425/1250,0/3750"),
    ("id", "Indonesia", (1000, 4000), "425/1000,0/4000"),
    ("il", "Israel", (1000, 3000), "414/1000,0/3000"),
    ("in", "India", (400, 200, 400, 2000), "400*25/400,0/200,400*25/400,0/2000"),
    ("it", "Italy", (1000, 4000), "425/1000,0/4000"),
    ("jp", "Japan", (1000, 2000), "400+15/1000,0/2000"),
    ("lt", "Lithuania", (1000, 4000), "425/1000,0/4000"),
    # differs: ringcadence = 2000,4000
    ("mx", "Mexico", (1000, 4000), "425/1000,0/4000"),
    # differs: ringcadence = 2000,4000
    ("my", "Malaysia", (400, 200, 400, 2000), "425/400,0/200,425/400,0/2000"),
    ("nl", "Netherlands", (1000, 4000), "425/1000,0/4000"),
    ("no", "Norway", (1000, 4000), "425/1000,0/4000"),
    ("nz", "New Zealand", (400, 200, 400, 2000), "400+450/400,0/200,400+450/400,0/2000"),
    ("ph", "Philippines", (1000, 4000), "425+480/1000,0/4000"),
    ("pl", "Poland", (1000, 4000), "425/1000,0/4000"),
    ("pt", "Portugal", (1000, 5000), "425/1000,0/5000"),
    ("ru", "Russian Federation / ex Soviet Union", (1000, 4000), "425/1000,0/4000"),
    ("se", "Sweden", (1000, 5000), "425/1000,0/5000"),
    ("sg", "Singapore", (400, 200, 400, 2000), "425*24/400,0/200,425*24/400,0/2000"),
    # differs: ringcadence = 1000,4000
    ("th", "Thailand", (1000, 5000), "420/1000,0/5000"),
    # differs: ringcadence = 1000,4000 (the file's own comment: ringing 1 s on, 2 s off)
    ("tw", "Taiwan", (1000, 2000), "440+480/1000,0/2000"),
    ("uk", "United Kingdom", (400, 200, 400, 2000), "400+450/400,0/200,400+450/400,0/2000"),
    ("us", "United States / North America", (2000, 4000), "440+480/2000,0/4000"),
    ("us-old", "United States Circa 1950/ North America", (2000, 4000), "420*40/2000,0/4000"),
    ("ve", "Venezuela / South America", (1000, 4000), "425/1000,0/4000"),
    ("za", "South Africa", (400, 200, 400, 2000), "400*33/400,0/200,400*33/400,0/2000"),
)

# The physical-bell `ringcadence` of the four sections where it is not the ringback.
ASTERISK_BELL_CADENCE_DIFFERS: Final[Mapping[str, tuple[int, ...]]] = MappingProxyType(
    {"mx": (2000, 4000), "my": (2000, 4000), "th": (1000, 4000), "tw": (1000, 4000)}
)

ASTERISK_CADENCES: Final[dict[str, Cadence]] = {
    code: Cadence(name=code, segments_ms=segments, description=description)
    for code, description, segments, _tone in _ASTERISK_22_10
}

# Asterisk's `ring =` tone per section, e.g. "440+480/2000,0/4000" for us.
ASTERISK_RING_TONES: Final[Mapping[str, str]] = MappingProxyType(
    {code: tone for code, _description, _segments, tone in _ASTERISK_22_10}
)

# Countries Asterisk lacks. Turkey (tr): Türk Telekom ringback taken as 425 Hz,
# 1 s on / 4 s off (the CEPT/ETSI-harmonised tone most of Europe uses). An
# assumption from the product's brief, not checked against a Türk Telekom or ITU-T
# document; an admin can override it with a custom cadence named "tr".
CUSTOM_DEFAULTS: Final[dict[str, Cadence]] = {
    "tr": Cadence.uniform("tr", 1000, 4000, description="Turkey"),
}

_NO_CUSTOM: Final[Mapping[str, Cadence]] = MappingProxyType({})


def known_cadence_names(custom: Mapping[str, Cadence] = _NO_CUSTOM) -> list[str]:
    """Every name `cadence_named` accepts, sorted."""
    return sorted({*ASTERISK_CADENCES, *CUSTOM_DEFAULTS, *custom})


def find_cadence(name: str, custom: Mapping[str, Cadence] = _NO_CUSTOM) -> Cadence | None:
    """The cadence called `name` (case-insensitive), or None.

    Looked up in `custom` first, then `CUSTOM_DEFAULTS`, then Asterisk's: a custom
    cadence may reuse a built-in name to override it (e.g. a corrected "tr").
    """
    key = name.strip().lower()
    for table in (custom, CUSTOM_DEFAULTS, ASTERISK_CADENCES):
        found = table.get(key)
        if found is not None:
            return found
    return None


def cadence_named(name: str, custom: Mapping[str, Cadence] = _NO_CUSTOM) -> Cadence:
    """Like `find_cadence`, but an unknown name raises `UnknownCadence` listing what is accepted."""
    found = find_cadence(name, custom)
    if found is None:
        raise UnknownCadence(name, known_cadence_names(custom))
    return found
