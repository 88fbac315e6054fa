"""Where a recording lives under the root, and what a finished file holds.

Pure functions over bytes and paths (no ARI, no database): the layout, the analysis the
completeness check needs (duration, size, SHA-256, loudness), and the one guard every
file access goes through so no name from outside can reach beyond the root.
"""

from __future__ import annotations

import hashlib
import io
import math
import wave
from array import array
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# Below this RMS (of 16-bit samples) a one-second window counts as silence; line noise
# and comfort noise sit far under it, speech and tones far over it.
SILENCE_RMS = 40.0
WINDOW_S = 1.0


@dataclass(frozen=True)
class Analysis:
    duration_s: float
    size_bytes: int
    sha256: str
    channels: int
    loudest_rms: float  # the loudest one-second window

    @property
    def silent(self) -> bool:
        return self.loudest_rms < SILENCE_RMS


def relative_path(call_id: str, started_at: datetime, fmt: str) -> str:
    """`2026/11/27/<call id>.wav`: a day's calls in one folder, found by date."""
    return f"{started_at:%Y/%m/%d}/{call_id}.{fmt}"


def inside(root: Path, relative: str) -> Path | None:
    """The file under `root`, or None if `relative` would leave it (`..`, absolute)."""
    base = root.resolve()
    target = (base / relative).resolve()
    return target if target.is_relative_to(base) and target != base else None


def analyse_wav(data: bytes) -> Analysis:
    """Duration, checksum and loudness of a 16-bit PCM wav; ValueError if it is not one."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as error:
        raise ValueError(f"not a readable wav file: {error}") from error
    if width != 2 or rate <= 0:
        raise ValueError(f"expected 16-bit PCM, got {width * 8}-bit at {rate} Hz")
    samples = array("h")
    samples.frombytes(frames[: len(frames) - len(frames) % 2])
    return Analysis(
        duration_s=len(samples) / channels / rate,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        channels=channels,
        loudest_rms=_loudest_window(samples, int(rate * channels * WINDOW_S)),
    )


def _loudest_window(samples: array[int], window: int) -> float:
    loudest = 0.0
    for start in range(0, len(samples), window):
        chunk = samples[start : start + window]
        if chunk:
            loudest = max(loudest, math.sqrt(sum(x * x for x in chunk) / len(chunk)))
    return loudest


def verdict(analysis: Analysis | None, expected_s: float | None) -> tuple[str, str]:
    """The completeness check: (status, why) — complete, missing, short or silent."""
    if analysis is None:
        return "missing", "no file"
    if analysis.duration_s <= 0:
        return "missing", "empty file"
    if expected_s is not None and analysis.duration_s < expected_s - 1.0:
        return "short", f"{analysis.duration_s:.1f} s of {expected_s:.1f} s talk time"
    if analysis.silent:
        return "silent", f"loudest second RMS {analysis.loudest_rms:.0f}"
    return "complete", f"{analysis.duration_s:.1f} s"


def stereo_wav(left: bytes, right: bytes) -> bytes:
    """Two mono 16-bit wavs as one stereo wav (the shorter padded with silence)."""
    sides = []
    for data in (left, right):
        try:
            with wave.open(io.BytesIO(data), "rb") as wav:
                if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                    raise ValueError(f"expected 16-bit mono, got {wav.getparams()}")
                rate = wav.getframerate()
                samples = array("h")
                samples.frombytes(wav.readframes(wav.getnframes()))
        except (wave.Error, EOFError) as error:
            raise ValueError(f"not a readable wav file: {error}") from error
        sides.append((rate, samples))
    (rate, first), (other_rate, second) = sides
    if rate != other_rate:
        raise ValueError(f"the two sides differ in rate: {rate} and {other_rate} Hz")
    length = max(len(first), len(second))
    both = array("h", bytes(4 * length))
    both[0 : 2 * len(first) : 2] = first
    both[1 : 2 * len(second) : 2] = second
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(both.tobytes())
    return out.getvalue()
