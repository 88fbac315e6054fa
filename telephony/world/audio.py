"""Which tones a recording holds: the Goertzel filter over a 16-bit mono wav."""

from __future__ import annotations

import math
import struct
import wave
from collections.abc import Sequence
from pathlib import Path


def read_samples(path: Path) -> tuple[list[int], int]:
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono, got {wav.getparams()}")
        frames = wav.readframes(wav.getnframes())
        rate = wav.getframerate()
    return list(struct.unpack(f"<{len(frames) // 2}h", frames)), rate


def tone_share(samples: list[int], rate: int, hz: float) -> float:
    """The share (0..1) of the signal's energy at `hz`."""
    if not samples:
        return 0.0
    coeff = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    total = sum(x * x for x in samples)
    # A pure sine of N samples gives power N * total / 2 at its own frequency.
    return 0.0 if total == 0 else power / (len(samples) * total / 2)


def tones_heard(path: Path, candidates: Sequence[float], threshold: float = 0.05) -> set[float]:
    """The candidate frequencies carrying at least `threshold` of the energy."""
    samples, rate = read_samples(path)
    return {hz for hz in candidates if tone_share(samples, rate, hz) >= threshold}


def duration_s(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()
