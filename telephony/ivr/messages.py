"""What flows into and out of the IVR walker (frozen, unknown fields refused)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from telephony.ivr.flow import Prompt


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- events -------------------------------------------------------------------


class Keyed(Message):
    """The caller pressed a key (ARI ChannelDtmfReceived)."""

    digit: str


class PromptDone(Message):
    playback_id: str


class PromptMissing(Message):
    """Some of a prompt's files were not there at run time. `played_rest`: the other
    parts are playing and a `PromptDone` follows; else nothing plays at all."""

    playback_id: str
    missing: tuple[str, ...]
    played_rest: bool = False


class TimerFired(Message):
    key: str


class CallerHungUp(Message):
    pass


IvrEvent = Keyed | PromptDone | PromptMissing | TimerFired | CallerHungUp


# --- commands -----------------------------------------------------------------


class AnswerCaller(Message):
    channel_id: str


class PlayPrompts(Message):
    """Play these prompts one after the other as one playback, in `language` (a prompt
    without it falls back to the flow's default language)."""

    channel_id: str
    playback_id: str
    prompts: tuple[Prompt, ...]
    language: str
    fallback_language: str


class StopPrompt(Message):
    """The caller pressed a key during a prompt that takes keys: stop it (barge-in)."""

    playback_id: str


class StartTimer(Message):
    key: str
    at: datetime


class CancelTimer(Message):
    key: str


class Alarm(Message):
    """A fault someone must see (a prompt file missing, the hop limit hit)."""

    kind: Literal["ivr_prompt_missing", "ivr_hop_limit"]
    detail: str


class ToAgents(Message):
    kind: Literal["agents"] = "agents"
    group: str


class ToCallback(Message):
    kind: Literal["callback"] = "callback"
    number: str  # as keyed or the Caller ID, not yet normalised
    confirmed: Literal["caller_id", "keyed"]
    due_at: datetime


class ToVoicemail(Message):
    kind: Literal["voicemail"] = "voicemail"
    max_s: int


class ToExternal(Message):
    kind: Literal["external"] = "external"
    number: str


class HangUp(Message):
    kind: Literal["hangup"] = "hangup"


class Abandoned(Message):
    """The caller hung up in the IVR."""

    kind: Literal["abandoned"] = "abandoned"


Route = ToAgents | ToCallback | ToVoicemail | ToExternal | HangUp | Abandoned


class Finish(Message):
    """The IVR part is over: hand the call on (`route`) and store `record`."""

    route: Route
    record: dict[str, Any]


IvrCommand = AnswerCaller | PlayPrompts | StopPrompt | StartTimer | CancelTimer | Alarm | Finish
