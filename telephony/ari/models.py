"""Pydantic models of the ARI resources and events we use.

Field names follow Asterisk's REST data models (rest-api/api-docs/*.json,
Asterisk 22). Models are frozen and tolerant (`extra="allow"`): Asterisk adds
fields between versions (protocol_id, tenantid, ...) and we must not break on
them. Fields Asterisk documents as required but that we do not depend on get
defaults, so a partial snapshot still parses.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from telephony.ari.errors import EventParseError


class _AriModel(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class CallerId(_AriModel):
    name: str = ""
    number: str = ""


class DialplanCEP(_AriModel):
    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""
    app_data: str = ""


class Channel(_AriModel):
    id: str
    name: str = ""
    state: str = ""
    caller: CallerId = CallerId()
    connected: CallerId = CallerId()
    accountcode: str = ""
    dialplan: DialplanCEP | None = None
    # Kept as Asterisk's string: nothing here does arithmetic on it.
    creationtime: str = ""
    language: str = ""
    channelvars: dict[str, str] | None = None


class Bridge(_AriModel):
    id: str
    technology: str = ""
    bridge_type: str = ""
    bridge_class: str = ""
    creator: str = ""
    name: str = ""
    channels: list[str] = Field(default_factory=list)
    creationtime: str = ""


class LiveRecording(_AriModel):
    name: str
    format: str = ""
    state: str = ""
    target_uri: str = ""
    duration: int | None = None
    talking_duration: int | None = None
    silence_duration: int | None = None
    cause: str | None = None


class Playback(_AriModel):
    id: str
    media_uri: str = ""
    target_uri: str = ""
    language: str = ""
    state: str = ""


class Application(_AriModel):
    name: str
    channel_ids: list[str] = Field(default_factory=list)
    bridge_ids: list[str] = Field(default_factory=list)
    endpoint_ids: list[str] = Field(default_factory=list)
    device_names: list[str] = Field(default_factory=list)


# --- events -----------------------------------------------------------------


class Event(_AriModel):
    type: str
    application: str = ""
    timestamp: datetime | None = None
    asterisk_id: str | None = None


class UnknownEvent(Event):
    """Any event type we have no model for; all its fields are kept as extras."""


class StasisStart(Event):
    type: Literal["StasisStart"] = "StasisStart"
    args: list[str] = Field(default_factory=list)
    channel: Channel
    replace_channel: Channel | None = None


class StasisEnd(Event):
    type: Literal["StasisEnd"] = "StasisEnd"
    channel: Channel


class ChannelStateChange(Event):
    type: Literal["ChannelStateChange"] = "ChannelStateChange"
    channel: Channel


class ChannelDestroyed(Event):
    type: Literal["ChannelDestroyed"] = "ChannelDestroyed"
    channel: Channel
    cause: int = 0
    cause_txt: str = ""


class ChannelHangupRequest(Event):
    type: Literal["ChannelHangupRequest"] = "ChannelHangupRequest"
    channel: Channel
    cause: int | None = None
    soft: bool | None = None


class ChannelDtmfReceived(Event):
    type: Literal["ChannelDtmfReceived"] = "ChannelDtmfReceived"
    channel: Channel
    digit: str
    duration_ms: int = 0


class ChannelHold(Event):
    type: Literal["ChannelHold"] = "ChannelHold"
    channel: Channel
    musicclass: str | None = None


class ChannelUnhold(Event):
    type: Literal["ChannelUnhold"] = "ChannelUnhold"
    channel: Channel


class ChannelEnteredBridge(Event):
    type: Literal["ChannelEnteredBridge"] = "ChannelEnteredBridge"
    bridge: Bridge
    channel: Channel | None = None


class ChannelLeftBridge(Event):
    type: Literal["ChannelLeftBridge"] = "ChannelLeftBridge"
    bridge: Bridge
    channel: Channel


class ChannelVarset(Event):
    type: Literal["ChannelVarset"] = "ChannelVarset"
    variable: str
    value: str
    # Absent for a global variable.
    channel: Channel | None = None


class Dial(Event):
    type: Literal["Dial"] = "Dial"
    peer: Channel
    caller: Channel | None = None
    dialstatus: str = ""
    dialstring: str | None = None
    forward: str | None = None


class PlaybackStarted(Event):
    type: Literal["PlaybackStarted"] = "PlaybackStarted"
    playback: Playback


class PlaybackFinished(Event):
    type: Literal["PlaybackFinished"] = "PlaybackFinished"
    playback: Playback


class RecordingStarted(Event):
    type: Literal["RecordingStarted"] = "RecordingStarted"
    recording: LiveRecording


class RecordingFinished(Event):
    type: Literal["RecordingFinished"] = "RecordingFinished"
    recording: LiveRecording


class RecordingFailed(Event):
    type: Literal["RecordingFailed"] = "RecordingFailed"
    recording: LiveRecording


class BridgeDestroyed(Event):
    type: Literal["BridgeDestroyed"] = "BridgeDestroyed"
    bridge: Bridge


class ApplicationReplaced(Event):
    type: Literal["ApplicationReplaced"] = "ApplicationReplaced"


_KNOWN: tuple[type[Event], ...] = (
    StasisStart,
    StasisEnd,
    ChannelStateChange,
    ChannelDestroyed,
    ChannelHangupRequest,
    ChannelDtmfReceived,
    ChannelHold,
    ChannelUnhold,
    ChannelEnteredBridge,
    ChannelLeftBridge,
    ChannelVarset,
    Dial,
    PlaybackStarted,
    PlaybackFinished,
    RecordingStarted,
    RecordingFinished,
    RecordingFailed,
    BridgeDestroyed,
    ApplicationReplaced,
)

# type -> class; the name of each class is its Asterisk event type.
EVENT_TYPES: dict[str, type[Event]] = {cls.__name__: cls for cls in _KNOWN}


def parse_event(raw: str | bytes) -> Event:
    """Parse one websocket message into its event model.

    Unknown event types give `UnknownEvent`. Raises `EventParseError` for bad
    JSON, a non-object, a missing/non-string `type`, or a known type whose
    fields are invalid.
    """
    try:
        data: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise EventParseError(f"not JSON: {exc}", raw) from exc
    if not isinstance(data, dict):
        raise EventParseError(f"expected a JSON object, got {type(data).__name__}", raw)
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise EventParseError("missing or non-string 'type'", raw)
    cls = EVENT_TYPES.get(kind, UnknownEvent)
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise EventParseError(f"invalid {kind} event: {fields}", raw) from exc
