"""A/B variants of a script: which variant a call gets, and how each variant converts.

A call's variant is drawn from a hash of the script key and the call id (SHA-256, not
Python's salted `hash()`), so the same call always gets the same variant, in any process
and after a restart, while calls as a whole split by the weights.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from telephony.scripts.model import Release, VariantShare


class NoVariant(ValueError):
    """A release no call can be given (every weight 0)."""


def draw(call_id: str, key: str) -> float:
    """A stable number in [0, 1) for this call and script."""
    digest = hashlib.sha256(f"{key}\x00{call_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(call_id: str, release: Release) -> VariantShare:
    """The variant this call gets; a weight of 0 is never chosen."""
    total = sum(share.weight for share in release.variants)
    if total <= 0:
        raise NoVariant(f"release {release.key!r}: every variant has weight 0")
    point = draw(call_id, release.key) * total
    upto = 0
    for share in release.variants:
        upto += share.weight
        if share.weight and point < upto:
            return share
    # Float rounding at the very top: the last variant with weight.
    return next(share for share in reversed(release.variants) if share.weight)


def share_percent(release: Release, share: VariantShare) -> int:
    """The share of calls a variant gets, in whole percent (for the pop's reason)."""
    total = sum(s.weight for s in release.variants)
    return round(100 * share.weight / total) if total else 0


def release_problems(release: Release, published: Collection[int]) -> list[str]:
    """What makes a release unusable: no weight, repeated labels, unpublished versions."""
    found: list[str] = []
    if sum(share.weight for share in release.variants) <= 0:
        found.append(f"release {release.key!r}: every variant has weight 0; give one a weight")
    repeated = sorted(
        label for label, n in Counter(s.label for s in release.variants).items() if n > 1
    )
    if repeated:
        found.append(f"release {release.key!r}: variant labels repeated: {repeated}")
    for i, share in enumerate(release.variants):
        if share.version not in published:
            found.append(
                f"release {release.key!r}.variants[{i}] {share.label}: version {share.version} "
                f"is not published; published: {sorted(published)}"
            )
    return found


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0, 1) when there is no observation."""
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"successes {successes} of n {n}: need 0 <= successes <= n")
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class VariantFigures:
    """One variant's calls and outcomes; conversion = sales / calls, with its 95% CI."""

    key: str
    version: int
    variant: str
    calls: int
    offers: int
    pending: int
    sales: int
    next_steps: int
    lost: int
    conversion: float
    ci: tuple[float, float]

    @classmethod
    def from_counts(
        cls,
        key: str,
        version: int,
        variant: str,
        *,
        calls: int,
        offers: int = 0,
        pending: int = 0,
        sales: int = 0,
        next_steps: int = 0,
        lost: int = 0,
    ) -> VariantFigures:
        return cls(
            key=key,
            version=version,
            variant=variant,
            calls=calls,
            offers=offers,
            pending=pending,
            sales=sales,
            next_steps=next_steps,
            lost=lost,
            conversion=sales / calls if calls else 0.0,
            ci=wilson(sales, calls),
        )
