"""Variants: a stable draw per call, weights respected, Wilson intervals."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from telephony.scripts.model import Release, VariantShare
from telephony.scripts.variants import (
    NoVariant,
    VariantFigures,
    assign,
    draw,
    release_problems,
    share_percent,
    wilson,
)


def release(*weights: int, key: str = "inbound_sale_tr") -> Release:
    return Release(
        key=key,
        variants=[
            VariantShare(label="ABCDEFGH"[i], version=i + 1, weight=w)
            for i, w in enumerate(weights)
        ],
    )


def test_a_call_keeps_its_variant() -> None:
    split = release(50, 50)
    first = [assign(f"call-{i}", split).label for i in range(200)]
    again = [assign(f"call-{i}", release(50, 50)).label for i in range(200)]
    assert first == again
    assert set(first) == {"A", "B"}


def test_the_draw_is_a_known_hash_not_pythons_salted_hash() -> None:
    # SHA-256 of "inbound_sale_tr\x00call-1", first 8 bytes, as a fraction of 2**64.
    # Pinned: a change of scheme would reshuffle the calls of a running experiment.
    assert draw("call-1", "inbound_sale_tr") == pytest.approx(0.231486, abs=1e-6)
    assert 0 <= draw("", "") < 1


def _counts(split: Release, n: int) -> Counter[str]:
    return Counter(assign(f"call-{i}", split).label for i in range(n))


def _within(count: int, n: int, p: float) -> bool:
    """Within 5 standard deviations of the binomial mean (chance to fail < 1e-6)."""
    return abs(count - n * p) <= 5 * math.sqrt(n * p * (1 - p))


def test_weights_are_respected_statistically() -> None:
    n = 20_000
    counts = _counts(release(70, 30), n)
    assert _within(counts["A"], n, 0.7), counts
    assert counts["A"] + counts["B"] == n


def test_three_way_split_and_a_zero_weight_never_chosen() -> None:
    n = 20_000
    counts = _counts(release(1, 0, 2, 1), n)
    assert counts["B"] == 0
    assert _within(counts["A"], n, 0.25) and _within(counts["C"], n, 0.5), counts


def test_scripts_split_independently() -> None:
    # The same call ids on two scripts do not land on the same side together.
    one = [assign(f"call-{i}", release(50, 50, key="one")).label for i in range(2000)]
    two = [assign(f"call-{i}", release(50, 50, key="two")).label for i in range(2000)]
    same = sum(a == b for a, b in zip(one, two, strict=True))
    assert _within(same, 2000, 0.5)


def test_all_zero_weights_is_an_error() -> None:
    with pytest.raises(NoVariant, match="every variant has weight 0"):
        assign("call-1", release(0, 0))


def test_share_percent() -> None:
    assert share_percent(release(70, 30), release(70, 30).variants[0]) == 70
    assert share_percent(release(1, 2), release(1, 2).variants[1]) == 67
    assert share_percent(release(0), release(0).variants[0]) == 0


def test_release_problems() -> None:
    bad = Release(
        key="k",
        variants=[
            VariantShare(label="A", version=1, weight=0),
            VariantShare(label="A", version=3, weight=0),
        ],
    )
    assert release_problems(bad, {1, 2}) == [
        "release 'k': every variant has weight 0; give one a weight",
        "release 'k': variant labels repeated: ['A']",
        "release 'k'.variants[1] A: version 3 is not published; published: [1, 2]",
    ]
    assert release_problems(release(1, 1), [1, 2]) == []


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        (1, 100, 0.0018, 0.0545),
        (50, 100, 0.4038, 0.5962),
        (0, 0, 0.0, 1.0),
    ],
)
def test_wilson_known_values(successes: int, n: int, low: float, high: float) -> None:
    got = wilson(successes, n)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_wilson_other_z_and_bad_input() -> None:
    narrow = wilson(50, 100, z=1.0)
    assert narrow[0] > 0.4038 and narrow[1] < 0.5962
    for bad in [(-1, 10), (11, 10), (0, -1)]:
        with pytest.raises(ValueError, match="need 0 <= successes <= n"):
            wilson(*bad)


def test_variant_figures_from_counts() -> None:
    figures = VariantFigures.from_counts(
        "inbound_sale_tr", 3, "B", calls=10, offers=7, pending=2, sales=5, next_steps=6, lost=3
    )
    assert figures.conversion == 0.5
    assert figures.ci == pytest.approx((0.2366, 0.7634), abs=1e-4)
    empty = VariantFigures.from_counts("inbound_sale_tr", 3, "A", calls=0)
    assert (empty.conversion, empty.ci) == (0.0, (0.0, 1.0))
