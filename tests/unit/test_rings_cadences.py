"""Ringback cadences: Asterisk 22.10's table, the custom defaults, the model's validation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from telephony.rings.cadences import (
    ASTERISK_BELL_CADENCE_DIFFERS,
    ASTERISK_CADENCES,
    ASTERISK_RING_TONES,
    CUSTOM_DEFAULTS,
    Cadence,
    UnknownCadence,
    cadence_named,
    find_cadence,
    known_cadence_names,
)

# Every section of Asterisk 22.10's indications.conf with a `ringcadence =` line.
ASTERISK_SECTIONS = (
    "at au be bg br ch cl cn cz de dk ee es fi fr gr hu id il in it jp lt mx my nl no nz "
    "ph pl pt ru se sg th tw uk us us-old ve za"
).split()


def test_the_table_holds_every_section_of_indications_conf() -> None:
    assert sorted(ASTERISK_CADENCES) == sorted(ASTERISK_SECTIONS)
    assert len(ASTERISK_CADENCES) == 41
    assert all(cadence.name == code for code, cadence in ASTERISK_CADENCES.items())
    assert all(cadence.description for cadence in ASTERISK_CADENCES.values())


@pytest.mark.parametrize(
    ("code", "segments", "cycle_s"),
    [
        ("us", (2000, 4000), 6),
        ("de", (1000, 4000), 5),
        ("ru", (1000, 4000), 5),
        ("uk", (400, 200, 400, 2000), 3),
        ("au", (400, 200, 400, 2000), 3),
        ("fr", (1500, 3500), 5),
        ("hu", (1250, 3750), 5),
        ("jp", (1000, 2000), 3),
        ("at", (1000, 5000), 6),
        ("be", (1000, 3000), 4),
    ],
)
def test_known_cadences(code: str, segments: tuple[int, ...], cycle_s: int) -> None:
    cadence = ASTERISK_CADENCES[code]
    assert cadence.segments_ms == segments
    assert cadence.cycle == timedelta(seconds=cycle_s)
    assert cadence.first_on_ms == segments[0]


@pytest.mark.parametrize(
    ("code", "ringback", "bell"),
    [
        ("mx", (1000, 4000), (2000, 4000)),
        ("my", (400, 200, 400, 2000), (2000, 4000)),
        ("th", (1000, 5000), (1000, 4000)),
        ("tw", (1000, 2000), (1000, 4000)),
    ],
)
def test_where_the_bell_differs_the_ringback_the_caller_hears_counts(
    code: str, ringback: tuple[int, ...], bell: tuple[int, ...]
) -> None:
    assert ASTERISK_CADENCES[code].segments_ms == ringback
    assert ASTERISK_BELL_CADENCE_DIFFERS[code] == bell


def test_segments_are_the_durations_of_asterisks_ring_tone() -> None:
    assert set(ASTERISK_RING_TONES) == set(ASTERISK_CADENCES)
    for code, tone in ASTERISK_RING_TONES.items():
        durations = tuple(int(element.split("/")[1]) for element in tone.split(","))
        assert durations == ASTERISK_CADENCES[code].segments_ms, code
        # on, off, on, off...: every second element is silence ("0/...").
        assert all(element.startswith("0/") for element in tone.split(",")[1::2]), code


def test_turkey_is_a_custom_default_not_asterisks() -> None:
    assert "tr" not in ASTERISK_CADENCES
    tr = CUSTOM_DEFAULTS["tr"]
    assert tr.segments_ms == (1000, 4000)
    assert tr.cycle == timedelta(seconds=5)
    assert cadence_named("tr") is tr


def test_uniform_makes_one_tone_and_one_pause() -> None:
    short = Cadence.uniform("short", 100, 200)
    assert short == Cadence(name="short", segments_ms=(100, 200))
    assert short.cycle == timedelta(milliseconds=300)
    assert short.first_on_ms == 100


def test_a_cadence_is_frozen() -> None:
    with pytest.raises(ValidationError):
        ASTERISK_CADENCES["us"].segments_ms = (1, 1)  # type: ignore[misc]


@pytest.mark.parametrize(
    "segments",
    [
        [],
        [1000],
        [1000, 4000, 1000],
        [0, 4000],
        [1000, 0],
        [-1000, 4000],
        [10_001, 4000],
        [1000.5, 4000],
        [True, 4000],
        ["1000", "4000"],
        [100, 100] * 9,
    ],
)
def test_bad_segments_are_refused_naming_the_field(segments: list[Any]) -> None:
    with pytest.raises(ValidationError) as info:
        Cadence(name="x", segments_ms=segments)
    assert all(err["loc"][0] == "segments_ms" for err in info.value.errors())


def test_extreme_but_valid_segments() -> None:
    assert Cadence(name="x", segments_ms=[1, 10_000]).cycle == timedelta(milliseconds=10_001)
    assert len(Cadence(name="x", segments_ms=[100, 100] * 8).segments_ms) == 16


@pytest.mark.parametrize("name", ["", "US", "with space", "-lead", "x" * 33, "tr/1"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError) as info:
        Cadence(name=name, segments_ms=(1000, 4000))
    assert info.value.errors()[0]["loc"] == ("name",)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        Cadence.model_validate({"name": "x", "segments_ms": [1, 1], "hz": 425})
    assert info.value.errors()[0]["loc"] == ("hz",)


def test_cadence_named_ignores_case_and_spaces() -> None:
    assert cadence_named(" US ") is ASTERISK_CADENCES["us"]
    assert find_cadence("Uk") is ASTERISK_CADENCES["uk"]


def test_custom_cadences_come_first_and_may_override() -> None:
    mine = {"tr": Cadence.uniform("tr", 2000, 4000), "office": Cadence.uniform("office", 1, 2)}
    assert cadence_named("tr", mine) is mine["tr"]
    assert cadence_named("office", mine) is mine["office"]
    assert cadence_named("de", mine) is ASTERISK_CADENCES["de"]
    assert "office" in known_cadence_names(mine)
    assert "office" not in known_cadence_names()


def test_an_unknown_name_says_what_is_accepted() -> None:
    with pytest.raises(UnknownCadence) as info:
        cadence_named("xx", {"office": Cadence.uniform("office", 1, 2)})
    message = str(info.value)
    assert message.startswith("unknown cadence 'xx'; accepted: ")
    for name in ("at", "us", "us-old", "za", "tr", "office"):
        assert name in message
    assert info.value.accepted == known_cadence_names({"office": Cadence.uniform("office", 1, 2)})
    assert isinstance(info.value, ValueError)
    assert find_cadence("xx") is None
