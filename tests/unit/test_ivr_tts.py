"""TTS prompts: espeak-ng to 8 kHz mono WAV, cached by text; the resampler is band-limited."""

from __future__ import annotations

import math
import wave
from array import array
from pathlib import Path

import pytest

from telephony.ivr.flow import Prompt
from telephony.ivr.sounds import Sounds
from telephony.ivr.tts import RATE, Tts, TtsError, cache_name, resample


def sine(hz: float, rate: int, seconds: float = 0.5, amplitude: int = 10000) -> array[int]:
    n = int(rate * seconds)
    return array("h", (round(amplitude * math.sin(2 * math.pi * hz * i / rate)) for i in range(n)))


def rms(samples: array[int]) -> float:
    middle = samples[len(samples) // 4 : -len(samples) // 4]
    return math.sqrt(sum(s * s for s in middle) / len(middle))


def test_resampling_keeps_the_voice_band_and_removes_what_would_fold_back() -> None:
    kept = resample(sine(1000, 22050), 22050)
    assert abs(len(kept) - RATE // 2) <= 1
    assert 0.9 < rms(kept) / (10000 / math.sqrt(2)) < 1.1
    # 6 kHz cannot exist at 8 kHz: without a low-pass it would alias to 2 kHz.
    assert rms(resample(sine(6000, 22050), 22050)) < 0.05 * 10000


async def test_text_is_rendered_once_to_telephone_wav(tmp_path: Path) -> None:
    tts = Tts(tmp_path)
    name = await tts.render("İyi günler", "tr")
    assert name == cache_name("İyi günler", "tr") and name.startswith("tts/tr-")
    path = tmp_path / f"{name}.wav"
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() > 4000  # more than half a second of speech
    made = path.stat().st_mtime_ns
    assert await tts.render("İyi günler", "tr") == name
    assert path.stat().st_mtime_ns == made  # from the cache
    assert await tts.render("Good day", "en") != name
    assert sorted(p.name for p in (tmp_path / "tts").iterdir()) == sorted(
        [f"{name.split('/')[1]}.wav", f"{cache_name('Good day', 'en').split('/')[1]}.wav"]
    )


async def test_a_missing_engine_is_an_error_that_says_so(tmp_path: Path) -> None:
    with pytest.raises(TtsError, match="not installed"):
        await Tts(tmp_path, binary="no-such-espeak").render("x", "tr")


async def test_a_recorded_file_replaces_the_text_and_a_missing_one_is_reported(
    tmp_path: Path,
) -> None:
    (tmp_path / "greeting-tr.wav").write_bytes(b"RIFF")
    sounds = Sounds(tmp_path, "/pbx/sounds")
    both = Prompt(files={"tr": "greeting-tr"}, text={"tr": "Merhaba", "en": "Hello"})
    resolved = await sounds.resolve((both,), "tr", "tr")
    assert resolved.media == ["sound:/pbx/sounds/greeting-tr"] and resolved.missing == []
    english = await sounds.resolve((both,), "en", "tr")
    assert english.media == [f"sound:/pbx/sounds/{cache_name('Hello', 'en')}"]
    gone = Prompt(files={"tr": "gone"})
    resolved = await sounds.resolve((gone, both), "tr", "tr")
    assert resolved.missing == ["gone"] and resolved.media == ["sound:/pbx/sounds/greeting-tr"]
    # A file missing with a text beside it: the text is spoken instead.
    fallback = Prompt(files={"tr": "gone"}, text={"tr": "Merhaba"})
    resolved = await sounds.resolve((fallback,), "tr", "tr")
    assert resolved.missing == ["gone"]
    assert resolved.media == [f"sound:/pbx/sounds/{cache_name('Merhaba', 'tr')}"]
    assert sounds.file_exists("greeting-tr") and not sounds.file_exists("../greeting-tr")


def test_a_sound_uri_of_ours_maps_back_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "tts").mkdir()
    (tmp_path / "tts" / "tr-abc.wav").write_bytes(b"RIFF")
    sounds = Sounds(tmp_path, "/pbx/sounds")
    assert sounds.uri_exists("sound:/pbx/sounds/tts/tr-abc")
    assert not sounds.uri_exists("sound:/pbx/sounds/tts/tr-gone")
    assert not sounds.uri_exists("sound:/elsewhere/tts/tr-abc")
