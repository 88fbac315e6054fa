"""ARI event and resource models against payloads shaped like Asterisk 22's."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from telephony.ari import (
    ApplicationReplaced,
    Bridge,
    BridgeDestroyed,
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelEnteredBridge,
    ChannelHangupRequest,
    ChannelHold,
    ChannelLeftBridge,
    ChannelStateChange,
    ChannelUnhold,
    ChannelVarset,
    Dial,
    Event,
    EventParseError,
    PlaybackFinished,
    PlaybackStarted,
    RecordingFailed,
    RecordingFinished,
    RecordingStarted,
    StasisEnd,
    StasisStart,
    UnknownEvent,
    parse_event,
)
from telephony.ari.models import EVENT_TYPES

TS = "2024-05-01T10:11:12.345+0000"

CHANNEL: dict[str, Any] = {
    "id": "1714558272.42",
    "name": "PJSIP/world-00000007",
    "state": "Ring",
    "protocol_id": "a84d2c1e-5b1f-4c1e-9f0a-3d2b1c0e9f8a",
    "caller": {"name": "Ayşe", "number": "+905551112233"},
    "connected": {"name": "", "number": ""},
    "accountcode": "",
    "dialplan": {
        "context": "from-world",
        "exten": "5551234",
        "priority": 2,
        "app_name": "Stasis",
        "app_data": "thirdring,inbound,5551234",
    },
    "creationtime": "2024-05-01T10:11:12.301+0000",
    "language": "en",
    "tenantid": "",
}

BRIDGE: dict[str, Any] = {
    "id": "b-7f3a",
    "technology": "simple_bridge",
    "bridge_type": "mixing",
    "bridge_class": "stasis",
    "creator": "Stasis",
    "name": "call-1714558272.42",
    "channels": ["1714558272.42", "1714558280.51"],
    "video_mode": "none",
    "creationtime": "2024-05-01T10:11:20.000+0000",
}

PLAYBACK: dict[str, Any] = {
    "id": "pb-1",
    "media_uri": "sound:hello-world",
    "target_uri": "channel:1714558272.42",
    "language": "en",
    "state": "playing",
}

RECORDING: dict[str, Any] = {
    "name": "call-1714558272.42",
    "format": "wav",
    "state": "done",
    "target_uri": "bridge:b-7f3a",
    "duration": 95,
}


def ev(kind: str, **fields: Any) -> str:
    base = {
        "type": kind,
        "timestamp": TS,
        "asterisk_id": "02:42:ac:11:00:02",
        "application": "thirdring",
    }
    return json.dumps({**base, **fields})


# (payload, expected class) for every event type we model.
KNOWN_CASES: list[tuple[str, type[Event]]] = [
    (ev("StasisStart", args=["inbound", "5551234"], channel=CHANNEL), StasisStart),
    (ev("StasisEnd", channel=CHANNEL), StasisEnd),
    (ev("ChannelStateChange", channel={**CHANNEL, "state": "Up"}), ChannelStateChange),
    (
        ev("ChannelDestroyed", cause=16, cause_txt="Normal Clearing", channel=CHANNEL),
        ChannelDestroyed,
    ),
    (ev("ChannelHangupRequest", cause=16, soft=True, channel=CHANNEL), ChannelHangupRequest),
    (ev("ChannelDtmfReceived", digit="5", duration_ms=120, channel=CHANNEL), ChannelDtmfReceived),
    (ev("ChannelHold", musicclass="default", channel=CHANNEL), ChannelHold),
    (ev("ChannelUnhold", channel=CHANNEL), ChannelUnhold),
    (ev("ChannelEnteredBridge", bridge=BRIDGE, channel=CHANNEL), ChannelEnteredBridge),
    (ev("ChannelLeftBridge", bridge=BRIDGE, channel=CHANNEL), ChannelLeftBridge),
    (ev("ChannelVarset", variable="DIALSTATUS", value="ANSWER", channel=CHANNEL), ChannelVarset),
    (
        ev("Dial", peer=CHANNEL, dialstatus="RINGING", dialstring="2001@world"),
        Dial,
    ),
    (ev("PlaybackStarted", playback=PLAYBACK), PlaybackStarted),
    (ev("PlaybackFinished", playback={**PLAYBACK, "state": "done"}), PlaybackFinished),
    (ev("RecordingStarted", recording={**RECORDING, "state": "recording"}), RecordingStarted),
    (ev("RecordingFinished", recording=RECORDING), RecordingFinished),
    (
        ev("RecordingFailed", recording={**RECORDING, "state": "failed", "cause": "disk"}),
        RecordingFailed,
    ),
    (ev("BridgeDestroyed", bridge=BRIDGE), BridgeDestroyed),
    (ev("ApplicationReplaced"), ApplicationReplaced),
]


def test_every_modelled_type_is_registered() -> None:
    assert set(EVENT_TYPES) == {cls.__name__ for _, cls in KNOWN_CASES}


@pytest.mark.parametrize(
    ("payload", "cls"), KNOWN_CASES, ids=[cls.__name__ for _, cls in KNOWN_CASES]
)
def test_known_event_parses_to_its_class(payload: str, cls: type[Event]) -> None:
    event = parse_event(payload)
    assert type(event) is cls
    assert event.type == cls.__name__
    assert event.application == "thirdring"
    assert event.asterisk_id == "02:42:ac:11:00:02"
    assert event.timestamp == datetime(2024, 5, 1, 10, 11, 12, 345000, tzinfo=UTC)


def test_stasis_start_fields() -> None:
    event = parse_event(ev("StasisStart", args=["inbound", "5551234"], channel=CHANNEL))
    assert isinstance(event, StasisStart)
    assert event.args == ["inbound", "5551234"]
    ch = event.channel
    assert ch.id == "1714558272.42"
    assert ch.caller.name == "Ayşe"
    assert ch.caller.number == "+905551112233"
    assert ch.dialplan is not None
    assert ch.dialplan.app_data == "thirdring,inbound,5551234"
    assert ch.dialplan.priority == 2
    assert event.replace_channel is None
    # Fields we do not model survive as extras (Asterisk adds them over versions).
    assert ch.model_extra == {
        "protocol_id": "a84d2c1e-5b1f-4c1e-9f0a-3d2b1c0e9f8a",
        "tenantid": "",
    }


def test_detail_fields_of_a_few_events() -> None:
    destroyed = parse_event(KNOWN_CASES[3][0])
    assert isinstance(destroyed, ChannelDestroyed)
    assert (destroyed.cause, destroyed.cause_txt) == (16, "Normal Clearing")

    dial = parse_event(KNOWN_CASES[11][0])
    assert isinstance(dial, Dial)
    assert dial.dialstatus == "RINGING"
    assert dial.caller is None
    assert dial.peer.id == "1714558272.42"

    entered = parse_event(KNOWN_CASES[8][0])
    assert isinstance(entered, ChannelEnteredBridge)
    assert entered.bridge.channels == ["1714558272.42", "1714558280.51"]
    assert entered.bridge.model_extra == {"video_mode": "none"}

    failed = parse_event(KNOWN_CASES[16][0])
    assert isinstance(failed, RecordingFailed)
    assert failed.recording.cause == "disk"
    assert failed.recording.duration == 95


def test_global_varset_has_no_channel() -> None:
    event = parse_event(ev("ChannelVarset", variable="GLOBAL_X", value="1"))
    assert isinstance(event, ChannelVarset)
    assert event.channel is None


def test_optional_fields_default_when_omitted() -> None:
    event = parse_event(json.dumps({"type": "ChannelHangupRequest", "channel": {"id": "c1"}}))
    assert isinstance(event, ChannelHangupRequest)
    assert event.cause is None and event.soft is None
    assert event.application == ""
    assert event.timestamp is None
    assert event.channel.caller.number == ""
    assert event.channel.dialplan is None


def test_unknown_type_keeps_all_fields() -> None:
    raw = ev("ChannelTalkingFinished", channel=CHANNEL, duration=1500)
    event = parse_event(raw)
    assert type(event) is UnknownEvent
    assert event.type == "ChannelTalkingFinished"
    assert event.model_extra is not None
    assert event.model_extra["duration"] == 1500
    assert event.model_extra["channel"]["id"] == "1714558272.42"


def test_extra_fields_on_a_known_event_are_kept() -> None:
    event = parse_event(ev("StasisEnd", channel=CHANNEL, brand_new_field={"x": 1}))
    assert isinstance(event, StasisEnd)
    assert event.model_extra == {"brand_new_field": {"x": 1}}


def test_bytes_are_accepted() -> None:
    event = parse_event(ev("StasisEnd", channel=CHANNEL).encode())
    assert isinstance(event, StasisEnd)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("{not json", "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('"StasisStart"', "expected a JSON object, got str"),
        ('{"application": "thirdring"}', "missing or non-string 'type'"),
        ('{"type": 7}', "missing or non-string 'type'"),
        ('{"type": ""}', "missing or non-string 'type'"),
    ],
)
def test_unparsable_input_raises(raw: str | bytes, fragment: str) -> None:
    with pytest.raises(EventParseError) as info:
        parse_event(raw)
    assert fragment in info.value.message
    assert info.value.raw == raw


def test_known_event_missing_channel_raises_naming_the_field() -> None:
    raw = ev("StasisStart", args=[])
    with pytest.raises(EventParseError) as info:
        parse_event(raw)
    assert "StasisStart" in info.value.message
    assert "channel" in info.value.message
    assert info.value.raw == raw


def test_known_event_with_wrong_nested_type_raises() -> None:
    with pytest.raises(EventParseError, match="duration_ms"):
        parse_event(ev("ChannelDtmfReceived", digit="1", duration_ms="long", channel=CHANNEL))


def test_models_are_frozen() -> None:
    ch = Channel.model_validate(CHANNEL)
    with pytest.raises(ValidationError):
        ch.state = "Up"  # type: ignore[misc]


def test_resources_parse_from_minimal_snapshots() -> None:
    assert Bridge.model_validate({"id": "b"}).channels == []
    assert Channel.model_validate({"id": "c"}).caller.name == ""
    with pytest.raises(ValidationError):
        Channel.model_validate({"name": "no id"})
