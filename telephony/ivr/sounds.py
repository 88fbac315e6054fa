"""Where IVR prompts live, and how a prompt becomes something Asterisk plays.

One folder holds the prompts: recorded files (uploaded by admins, any format Asterisk
plays: wav, gsm, ulaw, alaw, sln) and the TTS cache (`tts/`). The service sees it at
`host_dir`; the PBX may see it elsewhere (`pbx_dir`: a PBX in a chroot or container).
Asterisk gets absolute `sound:` URIs, so the PBX's own sounds folder is not touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog

from telephony.ivr.flow import SOUND_PATTERN, Prompt
from telephony.ivr.tts import Tts, TtsError

log = structlog.get_logger("telephony.ivr.sounds")

EXTENSIONS = ("wav", "gsm", "ulaw", "alaw", "sln", "wav16", "sln16")


@dataclass(frozen=True)
class Resolved:
    media: list[str]  # sound: URIs to play, in order
    missing: list[str]  # files (or TTS texts) that could not be played


class Sounds:
    def __init__(self, host_dir: Path, pbx_dir: str | None = None, tts: Tts | None = None) -> None:
        self.host_dir = host_dir
        self.pbx_dir = (pbx_dir or str(host_dir)).rstrip("/")
        self.tts = tts if tts is not None else Tts(host_dir)

    def file_exists(self, name: str) -> bool:
        if not SOUND_PATTERN.match(name):
            return False
        return any((self.host_dir / f"{name}.{ext}").is_file() for ext in EXTENSIONS)

    def uri(self, name: str) -> str:
        return f"sound:{self.pbx_dir}/{name}"

    def uri_exists(self, uri: str) -> bool:
        """Whether a `sound:` URI of ours names a file that is there (on the host side)."""
        prefix = f"sound:{self.pbx_dir}/"
        return uri.startswith(prefix) and self.file_exists(uri[len(prefix) :])

    async def resolve(self, prompts: tuple[Prompt, ...], language: str, fallback: str) -> Resolved:
        """Each prompt in `language` (else `fallback`): its recorded file if there, else
        its text through TTS. What cannot be played is listed, never silently dropped."""
        media: list[str] = []
        missing: list[str] = []
        for prompt in prompts:
            lang = language if language in prompt.languages() else fallback
            name = prompt.files.get(lang)
            if name is not None:
                if self.file_exists(name):
                    media.append(self.uri(name))
                    continue
                missing.append(name)
            text = prompt.text.get(lang)
            if text is None:
                continue
            try:
                media.append(self.uri(await self.tts.render(text, lang)))
            except TtsError as error:
                log.error("tts.failed", error=str(error))
                missing.append(f"tts:{lang}:{text[:40]}")
        return Resolved(media, missing)

    async def warm(self, prompts: list[tuple[Prompt, str]]) -> None:
        """Render a flow's TTS prompts ahead of its first call."""
        for prompt, language in prompts:
            text = prompt.text.get(language)
            if text is not None and language not in prompt.files:
                try:
                    await self.tts.render(text, language)
                except TtsError as error:
                    log.error("tts.failed", error=str(error))
