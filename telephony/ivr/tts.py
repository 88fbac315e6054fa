"""Text prompts spoken by espeak-ng (Debian's `espeak-ng`: Turkish and English), as
8 kHz mono 16-bit WAV that Asterisk plays without transcoding, cached by text hash.

espeak-ng writes 22.05 kHz; the file is resampled here with a windowed-sinc low-pass
(cut-off below 4 kHz) so nothing folds back into the telephone band. A rendered prompt
is written to a temporary name and renamed, so Asterisk never sees half a file.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import shutil
import wave
from array import array
from pathlib import Path

import structlog

log = structlog.get_logger("telephony.ivr.tts")

RATE = 8000
VOICES = {"tr": "tr", "en": "en-gb"}
_TAPS = 10  # zero crossings each side of the sinc


class TtsError(RuntimeError):
    """The TTS engine is missing or failed; the message says which."""


def cache_name(text: str, language: str) -> str:
    digest = hashlib.sha256(f"{language}\0{text}".encode()).hexdigest()[:20]
    return f"tts/{language}-{digest}"


def resample(samples: array[int], rate_in: int, rate_out: int = RATE) -> array[int]:
    """Band-limited resampling (Hann-windowed sinc, cut-off 0.45 of the lower rate)."""
    if rate_in == rate_out:
        return array("h", samples)
    ratio = rate_in / rate_out
    cutoff = 0.45 * min(rate_in, rate_out) / rate_in * 2  # in units of the input Nyquist
    half = _TAPS * max(1.0, ratio)
    count = int(len(samples) / ratio)
    out = array("h", bytes(2 * count))
    n_in = len(samples)
    for i in range(count):
        centre = i * ratio
        first = max(0, math.ceil(centre - half))
        last = min(n_in - 1, math.floor(centre + half))
        acc = 0.0
        for j in range(first, last + 1):
            x = j - centre
            window = 0.5 + 0.5 * math.cos(math.pi * x / half)
            arg = math.pi * x * cutoff
            sinc = cutoff if x == 0 else math.sin(arg) / (math.pi * x)
            acc += samples[j] * sinc * window
        out[i] = max(-32768, min(32767, round(acc)))
    return out


class Tts:
    """Renders prompts into `sounds_dir/tts/` (a folder the PBX can read)."""

    def __init__(self, sounds_dir: Path, binary: str = "espeak-ng") -> None:
        self._dir = sounds_dir
        self._binary = binary
        self._pending: dict[str, asyncio.Task[str]] = {}

    @property
    def available(self) -> bool:
        return shutil.which(self._binary) is not None

    async def render(self, text: str, language: str) -> str:
        """The sound name (relative to the sounds folder, no extension) of `text`."""
        name = cache_name(text, language)
        if (self._dir / f"{name}.wav").is_file():
            return name
        task = self._pending.get(name)
        if task is None:  # one rendering per text, however many calls ask at once
            task = asyncio.get_running_loop().create_task(self._render(text, language, name))
            self._pending[name] = task
            task.add_done_callback(lambda _: self._pending.pop(name, None))
        return await asyncio.shield(task)

    async def _render(self, text: str, language: str, name: str) -> str:
        voice = VOICES.get(language)
        if voice is None:
            raise TtsError(f"no TTS voice for {language!r}: {sorted(VOICES)}")
        target = self._dir / f"{name}.wav"
        target.parent.mkdir(parents=True, exist_ok=True)
        raw = target.with_suffix(f".{os.getpid()}.raw.wav")
        try:
            proc = await asyncio.create_subprocess_exec(
                self._binary,
                "-v",
                voice,
                "-s",
                "150",
                "-w",
                str(raw),
                "--",
                text,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            raise TtsError(f"{self._binary} is not installed (apt-get install espeak-ng)") from None
        try:
            _, err = await proc.communicate()
        except asyncio.CancelledError:
            proc.kill()
            await proc.wait()
            raise
        if proc.returncode != 0:
            raise TtsError(f"{self._binary} failed ({proc.returncode}): {err.decode()[-300:]}")
        await asyncio.to_thread(_to_telephone_wav, raw, target)
        log.info("tts.rendered", name=name, language=language, chars=len(text))
        return name


def _to_telephone_wav(source: Path, target: Path) -> None:
    try:
        with wave.open(str(source), "rb") as w:
            rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
            frames = w.readframes(w.getnframes())
        if width != 2:
            raise TtsError(f"unexpected TTS output: {width * 8}-bit")
        samples = array("h", frames)
        if channels > 1:
            samples = samples[::channels]
        converted = resample(samples, rate)
        partial = target.with_suffix(".part")
        with wave.open(str(partial), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(converted.tobytes())
        partial.chmod(0o644)
        partial.rename(target)
    finally:
        source.unlink(missing_ok=True)
