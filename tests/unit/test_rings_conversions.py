"""Rings <-> time: the stated definition, table tests and properties."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.rings.cadences import ASTERISK_CADENCES, Cadence
from telephony.rings.conversions import deadline, ring_at, ring_label, ring_start, rings_heard

US = ASTERISK_CADENCES["us"]  # 2 s on, 4 s off: 6 s a ring
UK = ASTERISK_CADENCES["uk"]  # 0.4/0.2/0.4/2.0: 3 s a ring
DE = ASTERISK_CADENCES["de"]  # 1 s on, 4 s off: 5 s a ring


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("rings", "cadence", "expected"),
    [
        (3, US, s(18)),
        (1, US, s(6)),
        (0, US, s(0)),
        (2.5, US, s(15)),
        (5, US, s(30)),
        (3, UK, s(9)),
        (3, DE, s(15)),
        (20, DE, s(100)),
        (0.1, UK, s(0.3)),
    ],
)
def test_deadline(rings: float, cadence: Cadence, expected: timedelta) -> None:
    assert deadline(rings, cadence) == expected


def test_uk_cycle_is_three_seconds() -> None:
    assert UK.cycle == s(3)


@pytest.mark.parametrize(
    ("elapsed", "cadence", "ring"),
    [
        (s(0), US, 1.0),
        (s(3), US, 1.5),
        (s(6), US, 2.0),
        (s(12), US, 3.0),
        (s(18), US, 4.0),
        (s(4.2), UK, 2.4),
        (s(6), UK, 3.0),
        (s(7.5), DE, 2.5),
    ],
)
def test_ring_at(elapsed: timedelta, cadence: Cadence, ring: float) -> None:
    assert ring_at(elapsed, cadence) == pytest.approx(ring, abs=1e-12)


def test_ring_2_4_is_40_percent_into_the_second_cycle() -> None:
    elapsed = US.cycle * 1.4  # 8.4 s
    assert elapsed == s(8.4)
    assert ring_at(elapsed, US) == pytest.approx(2.4)
    assert ring_label(ring_at(elapsed, US)) == "ring 2.4"
    assert rings_heard(elapsed, US) == 2


def test_answering_at_the_start_of_ring_3_is_past_a_2_ring_deadline() -> None:
    assert ring_start(3, US) == deadline(2, US) == s(12)
    assert ring_at(deadline(2, US), US) == 3.0
    assert rings_heard(deadline(2, US), US) == 3
    # One microsecond earlier the caller is still in ring 2: answered by ring 2.
    assert rings_heard(deadline(2, US) - timedelta(microseconds=1), US) == 2
    assert ring_at(deadline(2, US) - timedelta(microseconds=1), US) < 3.0


@pytest.mark.parametrize(
    ("elapsed", "heard"),
    [(s(0), 1), (s(5.999999), 1), (s(6), 2), (s(11.9), 2), (s(12), 3), (s(18), 4), (s(600), 101)],
)
def test_rings_heard_us(elapsed: timedelta, heard: int) -> None:
    assert rings_heard(elapsed, US) == heard


@pytest.mark.parametrize(("k", "start"), [(1, s(0)), (2, s(6)), (3, s(12)), (4, s(18))])
def test_ring_start(k: int, start: timedelta) -> None:
    assert ring_start(k, US) == start


@pytest.mark.parametrize(
    ("ring", "label"),
    [
        (1, "ring 1.0"),
        (1.0, "ring 1.0"),
        (2.4, "ring 2.4"),
        (2.3, "ring 2.3"),  # 2.3 * 10 is 22.999... in binary: must not become 2.2
        (2.96, "ring 2.9"),  # rounded down: still inside a 2-ring deadline
        (2.99999, "ring 2.9"),
        (3, "ring 3.0"),
        (4.05, "ring 4.0"),
        (12.75, "ring 12.7"),
    ],
)
def test_ring_label(ring: float, label: str) -> None:
    assert ring_label(ring) == label


@pytest.mark.parametrize("ring", [0.99, 0, -1, math.nan, math.inf])
def test_ring_label_refuses_what_is_not_a_ring(ring: float) -> None:
    with pytest.raises(ValueError):
        ring_label(ring)


@pytest.mark.parametrize("rings", [-1, -0.5, math.nan, math.inf, -math.inf])
def test_deadline_refuses_negative_and_non_finite_rings(rings: float) -> None:
    with pytest.raises(ValueError, match="rings must be a finite number >= 0"):
        deadline(rings, US)


@pytest.mark.parametrize("rings", [True, "3", None])
def test_deadline_refuses_what_is_not_a_number(rings: Any) -> None:
    with pytest.raises(TypeError):
        deadline(rings, US)


def test_negative_elapsed_is_refused() -> None:
    before = -timedelta(microseconds=1)
    with pytest.raises(ValueError, match="elapsed must be >= 0"):
        ring_at(before, US)
    with pytest.raises(ValueError, match="elapsed must be >= 0"):
        rings_heard(before, US)


def test_elapsed_must_be_a_timedelta() -> None:
    with pytest.raises(TypeError):
        ring_at(6.0, US)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [0, -1])
def test_rings_start_at_one(k: int) -> None:
    with pytest.raises(ValueError):
        ring_start(k, US)


# --- properties ---------------------------------------------------------------------

segment = st.integers(min_value=1, max_value=10_000)
cadences = st.one_of(
    st.sampled_from(sorted(ASTERISK_CADENCES.values(), key=lambda c: c.name)),
    st.integers(min_value=1, max_value=8).flatmap(
        lambda pairs: st.lists(segment, min_size=2 * pairs, max_size=2 * pairs).map(
            lambda segments: Cadence(name="gen", segments_ms=tuple(segments))
        )
    ),
)
# Up to a day after ringing started, to the microsecond.
elapsed = st.integers(min_value=0, max_value=86_400_000_000).map(
    lambda us: timedelta(microseconds=us)
)
whole_rings = st.integers(min_value=0, max_value=10_000)
any_rings = st.floats(min_value=0, max_value=1_000, allow_nan=False, allow_infinity=False)


@settings(deadline=None)  # load on the test machine must not fail a property
@given(n=whole_rings, cadence=cadences)
def test_the_deadline_of_n_rings_is_exactly_the_start_of_ring_n_plus_1(
    n: int, cadence: Cadence
) -> None:
    assert ring_at(deadline(n, cadence), cadence) == n + 1
    assert rings_heard(deadline(n, cadence), cadence) == n + 1
    assert deadline(n, cadence) == ring_start(n + 1, cadence)


@settings(deadline=None)
@given(n=st.integers(min_value=1, max_value=10_000), cadence=cadences)
def test_just_before_the_deadline_the_caller_is_still_within_n_rings(
    n: int, cadence: Cadence
) -> None:
    just_before = deadline(n, cadence) - timedelta(microseconds=1)
    assert rings_heard(just_before, cadence) == n
    assert ring_at(just_before, cadence) < n + 1


@settings(deadline=None)
@given(a=elapsed, b=elapsed, cadence=cadences)
def test_rings_heard_and_ring_at_are_monotone(a: timedelta, b: timedelta, cadence: Cadence) -> None:
    early, late = min(a, b), max(a, b)
    assert 1 <= rings_heard(early, cadence) <= rings_heard(late, cadence)
    assert 1.0 <= ring_at(early, cadence) <= ring_at(late, cadence)


@settings(deadline=None)
@given(t=elapsed, cadence=cadences)
def test_rings_heard_is_the_whole_part_of_ring_at(t: timedelta, cadence: Cadence) -> None:
    assert rings_heard(t, cadence) == math.floor(ring_at(t, cadence))


@settings(deadline=None)
@given(a=any_rings, b=any_rings, cadence=cadences)
def test_deadline_is_monotone_in_rings(a: float, b: float, cadence: Cadence) -> None:
    assert deadline(min(a, b), cadence) <= deadline(max(a, b), cadence)


@settings(deadline=None)
@given(rings=any_rings, cadence=cadences)
def test_fractional_rings_round_trip_to_the_microsecond(rings: float, cadence: Cadence) -> None:
    microsecond_in_rings = timedelta(microseconds=1) / cadence.cycle
    assert abs(ring_at(deadline(rings, cadence), cadence) - (rings + 1)) <= microsecond_in_rings


@settings(deadline=None)
@given(ring=st.floats(min_value=1, max_value=1e6, allow_nan=False))
def test_a_label_never_shows_a_later_ring_than_heard(ring: float) -> None:
    shown = float(ring_label(ring).removeprefix("ring "))
    assert shown <= ring
    assert ring - shown < 0.1 + 1e-9
