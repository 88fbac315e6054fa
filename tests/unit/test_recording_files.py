"""The completeness check's arithmetic: duration, loudness, checksum, verdict, the root guard."""

from __future__ import annotations

import hashlib
import io
import math
import wave
from datetime import UTC, datetime
from pathlib import Path

import pytest

from telephony.recording.files import analyse_wav, inside, relative_path, stereo_wav, verdict


def wav(seconds: float, hz: float | None = 440.0, rate: int = 8000, channels: int = 1) -> bytes:
    frames = bytearray()
    for i in range(int(seconds * rate)):
        value = int(8000 * math.sin(2 * math.pi * hz * i / rate)) if hz else 0
        frames += value.to_bytes(2, "little", signed=True) * channels
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


def test_a_tone_file_is_measured_and_complete() -> None:
    data = wav(3.0)
    analysis = analyse_wav(data)
    assert analysis.duration_s == pytest.approx(3.0)
    assert analysis.sha256 == hashlib.sha256(data).hexdigest()
    assert analysis.size_bytes == len(data) and analysis.channels == 1
    assert verdict(analysis, expected_s=3.4) == ("complete", "3.0 s")


def test_two_channels_count_frames_not_samples() -> None:
    assert analyse_wav(wav(2.0, channels=2)).duration_s == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("data", "expected", "status"),
    [
        (None, 5.0, "missing"),
        (wav(0.0), 5.0, "missing"),
        (wav(3.0), 5.0, "short"),  # more than 1 s less than the talk time
        (wav(4.2), 5.0, "complete"),  # within 1 s
        (wav(3.0, hz=None), 3.0, "silent"),
        (wav(3.0), None, "complete"),  # talk time unknown (ended while we were down)
    ],
)
def test_verdicts(data: bytes | None, expected: float | None, status: str) -> None:
    analysis = analyse_wav(data) if data is not None else None
    assert verdict(analysis, expected)[0] == status


def test_one_loud_second_in_silence_is_not_silent() -> None:
    data = wav(5.0, hz=None)
    loud = analyse_wav(wav(1.0))
    assert analyse_wav(data).silent and not loud.silent


@pytest.mark.parametrize("junk", [b"", b"RIFF", b"not a wav at all" * 10])
def test_junk_is_a_clear_error(junk: bytes) -> None:
    with pytest.raises(ValueError, match="wav"):
        analyse_wav(junk)


def test_layout_is_date_partitioned() -> None:
    at = datetime(2026, 11, 27, 23, 59, tzinfo=UTC)
    assert relative_path("c1", at, "wav") == "2026/11/27/c1.wav"


@pytest.mark.parametrize(
    "name", ["../x.wav", "/etc/passwd", "2026/../../x", "a/../../b", "", ".", "%2e%2e/x/../.."]
)
def test_nothing_leaves_the_root(tmp_path: Path, name: str) -> None:
    found = inside(tmp_path / "root", name)
    assert found is None or found.is_relative_to((tmp_path / "root").resolve())


def test_a_name_under_the_root_is_found(tmp_path: Path) -> None:
    assert inside(tmp_path, "2026/11/27/c1.wav") == (tmp_path / "2026/11/27/c1.wav").resolve()


def test_two_mono_sides_make_one_stereo_file_padded_to_the_longer() -> None:
    data = stereo_wav(wav(2.0, hz=440), wav(1.5, hz=1000))
    with wave.open(io.BytesIO(data), "rb") as out:
        assert (out.getnchannels(), out.getframerate()) == (2, 8000)
        assert out.getnframes() == 16000
    assert analyse_wav(data).duration_s == pytest.approx(2.0)


def test_sides_that_do_not_match_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="rate"):
        stereo_wav(wav(1.0, rate=8000), wav(1.0, rate=16000))
    with pytest.raises(ValueError, match="mono"):
        stereo_wav(wav(1.0, channels=2), wav(1.0))
