"""A stored row's figures as JSON (stats_daily, stats_weekly): the additive counters,
and adding one row into merged figures as cheaply as Python allows (a request for a
quarter by agent adds about a thousand rows; see the README's dashboard_queries).

Zeros are left out; talk is each talked call's whole seconds, sorted, as 32-bit
little-endian integers in base64 (a quarter is ~240 000 calls: decoded in C in about
a millisecond, where a JSON list takes ten), so merging is `list.extend` and the median
and effective calls stay exact; scripts are `{"key|version|variant": [calls per
measure]}`. `effective` is not stored: it depends on the minimum the request asks for.
"""

from __future__ import annotations

import sys
from array import array
from base64 import b64decode, b64encode
from dataclasses import fields
from typing import Any

from telephony.stats.figures import Figures

_HISTOGRAMS = ("abandoned_at_ring", "escalations_by_step")
_INT_KEYS = frozenset({"abandoned_at_ring"})
_LISTS = ("talk_s", "scripts")
NUMBERS = tuple(
    f.name for f in fields(Figures) if f.name not in ("key", "effective", *_HISTOGRAMS, *_LISTS)
)
_NUMBERS = frozenset(NUMBERS)
_SECONDS = next(code for code in "IL" if array(code).itemsize == 4)


def encode_talk(seconds: list[int]) -> str:
    packed = array(_SECONDS, seconds)
    if sys.byteorder == "big":
        packed.byteswap()
    return b64encode(packed.tobytes()).decode("ascii")


def decode_talk(text: str) -> array[int]:
    packed = array(_SECONDS, b64decode(text))
    if sys.byteorder == "big":
        packed.byteswap()
    return packed


def to_json(figures: Figures) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in NUMBERS:
        value = getattr(figures, name)
        if value:
            out[name] = value
    for name in _HISTOGRAMS:
        histogram: dict[Any, int] = getattr(figures, name)
        if histogram:
            out[name] = {str(k): v for k, v in histogram.items()}
    if figures.talk_s:
        out["talk_s"] = encode_talk(figures.sorted_talk())
    if figures.scripts:
        out["scripts"] = figures.scripts
    return out


def add_json(figures: Figures, data: dict[str, Any]) -> None:
    """Add a stored row into `figures` (names not known here are ignored)."""
    for name, value in data.items():
        if name in _NUMBERS:
            setattr(figures, name, getattr(figures, name) + value)
        elif name == "talk_s":
            figures.talk_s.extend(decode_talk(value))
        elif name == "scripts":
            figures.add_scripts(value)
        elif name in _HISTOGRAMS:
            into: dict[Any, int] = getattr(figures, name)
            for k, v in value.items():
                key = int(k) if name in _INT_KEYS else k
                into[key] = into.get(key, 0) + v


def add(figures: Figures, other: Figures) -> None:
    """Add `other`'s counters (and its effective calls) into `figures`."""
    add_json(figures, to_json(other))
    figures.effective += other.effective
