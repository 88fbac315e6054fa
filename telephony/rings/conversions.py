"""Rings <-> time, exactly.

Definition (the one the README and the admin page state):

- Ringing starts at t = 0, the moment the caller is sent ringing. A ring is one
  cycle of the caller's cadence (`Cadence.cycle`, e.g. 6 s for us: 2 s on, 4 s off).
- Ring k (k = 1, 2, ...) starts at (k - 1) x cycle.
- "Answered by ring N" means answered before ring N + 1 starts. The deadline for
  `max_rings = N` is therefore N x cycle after ringing started (us, N = 3: 18 s).
  Fractional N works the same way: 2.5 rings = 2.5 x cycle.
- A moment t >= 0 is "at ring r" with r = 1 + t / cycle, a float: ring 2.4 is 40 %
  into the second ring's cycle. Answering exactly at the start of ring 3 is ring
  3.0, which is past a 2-ring deadline (the deadline itself is ring N + 1.0).
- The number of rings the caller has heard (started) at t is floor(1 + t / cycle),
  at least 1 for any t >= 0.

Whole-ring deadlines are exact (timedelta arithmetic in microseconds), so
`ring_at(deadline(n, c), c) == n + 1` for every whole n.
"""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

from telephony.rings.cadences import Cadence

_MICROSECOND = timedelta(microseconds=1)


def deadline(rings: int | float, cadence: Cadence) -> timedelta:
    """Time after ringing started by which a call must be answered to be "answered by ring N"."""
    if isinstance(rings, bool) or not isinstance(rings, int | float):
        raise TypeError(f"rings must be a number, not {type(rings).__name__}")
    if not math.isfinite(rings) or rings < 0:
        raise ValueError(f"rings must be a finite number >= 0, not {rings!r}")
    # int: exact; float: rounded half-even to the microsecond by timedelta itself.
    return cadence.cycle * rings


def ring_start(k: int, cadence: Cadence) -> timedelta:
    """When ring k (1, 2, ...) starts: (k - 1) x cycle."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"ring numbers start at 1, not {k!r}")
    return cadence.cycle * (k - 1)


def ring_at(elapsed: timedelta, cadence: Cadence) -> float:
    """The ring (1.0, 2.4, ...) the caller is at, `elapsed` after ringing started."""
    _check_elapsed(elapsed)
    # timedelta / timedelta divides whole microseconds: correctly rounded.
    return 1 + elapsed / cadence.cycle


def rings_heard(elapsed: timedelta, cadence: Cadence) -> int:
    """How many rings had started `elapsed` after ringing started (1 at t = 0)."""
    _check_elapsed(elapsed)
    return 1 + (elapsed // _MICROSECOND) // (cadence.cycle // _MICROSECOND)


def ring_label(ring: float) -> str:
    """ "ring 2.4": one decimal, rounded down so a label never shows a later ring than heard.

    2.96 is "ring 2.9", not "ring 3.0": it is still inside a 2-ring deadline.
    """
    if isinstance(ring, bool) or not isinstance(ring, int | float):
        raise TypeError(f"ring must be a number, not {type(ring).__name__}")
    if not math.isfinite(ring) or ring < 1:
        raise ValueError(f"a ring is a finite number >= 1, not {ring!r}")
    # str() is the shortest decimal that round-trips: 2.3 floors to 2.3, not 2.2.
    tenths = math.floor(Decimal(str(ring)) * 10)
    return f"ring {tenths // 10}.{tenths % 10}"


def _check_elapsed(elapsed: timedelta) -> None:
    if not isinstance(elapsed, timedelta):
        raise TypeError(f"elapsed must be a timedelta, not {type(elapsed).__name__}")
    if elapsed < timedelta(0):
        raise ValueError(f"elapsed must be >= 0 (time since ringing started), not {elapsed}")
