"""An inbound call through a real PBX: offered, answered, bridged, heard, recorded, stored."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

import telephony.ari.events as ari_events
from telephony.ari import Event
from telephony.ari.models import parse_event
from telephony.calls.service import UNREAD_EVENTS
from telephony.sandbox.pair import Sandbox
from telephony.world.audio import duration_s, tones_heard
from telephony.world.controller import Leg, PhoneBehaviour, World

from .conftest import AGENT_TONE, AGENTS, CALLER_TONE, StartService, eventually, set_phones

TONES = [CALLER_TONE, AGENT_TONE]


async def test_call_is_answered_bridged_heard_recorded_and_stored(
    sandbox: Sandbox, world: World, start_service: StartService
) -> None:
    service = await start_service()
    set_phones(world, PhoneBehaviour(answer_after=0.4, tone_hz=AGENT_TONE))
    caller = await world.call("908501234567", "+905551112233", "Ayşe", tone_hz=CALLER_TONE)
    await asyncio.wait_for(caller.answered.wait(), 10)

    live = await eventually(lambda: _live(service), what="a live call")
    assert live[0]["phase"] == "talking"
    assert live[0]["caller_number"] == "+905551112233"

    await asyncio.sleep(2.5)  # talk
    await world.hangup(caller)
    record = await service.ended_call()

    assert record.did == "908501234567"
    assert record.caller_number == "+905551112233"
    assert record.caller_name == "Ayşe"
    assert record.agent_id in {"ayse", "mehmet"}
    assert record.outcome == "answered" and record.hangup_by == "caller"
    assert record.ringing_at and record.answered_at and record.ended_at
    assert record.arrived_at <= record.ringing_at <= record.answered_at <= record.ended_at

    phone = next(iter(world.phone_legs.values()))[0]
    await asyncio.wait_for(phone.ended.wait(), 5)  # the agent's leg was torn down too
    # Each side heard the other's tone (and only that).
    await eventually(lambda: _settled(world.heard(caller)), what="caller's recording")
    assert tones_heard(world.heard(caller), TONES) == {AGENT_TONE}
    assert tones_heard(world.heard(phone), TONES) == {CALLER_TONE}
    # One recording of the caller's channel: both voices, for the length of the talk,
    # checked, kept under the service's root and removed from Asterisk's spool.
    kept = await service.checked_recording(record.id)
    assert kept.status == "complete", kept.detail
    recording = service.recording_file(kept)
    assert recording.parts[-4:-1] == tuple(f"{record.answered_at:%Y/%m/%d}".split("/"))
    assert tones_heard(recording, TONES) == {CALLER_TONE, AGENT_TONE}
    talk = (record.ended_at - record.answered_at).total_seconds()
    assert abs(duration_s(recording) - talk) < 1.0
    assert kept.sha256 is not None and len(kept.sha256) == 64 and kept.size_bytes
    assert not (sandbox.pbx.recordings_dir / f"{record.id}.wav").exists()

    assert service.runtime.live_calls() == []
    assert dict(service.runtime.alarms.counts) == {}  # a normal call alarms nobody
    health = await service.health()
    assert health["ari"] == "connected"


async def test_rejecting_agent_is_skipped_for_the_next(
    world: World, start_service: StartService
) -> None:
    service = await start_service()
    set_phones(world, PhoneBehaviour(reject=True))
    caller = await world.call("908501234567", "+905551110000", "Can")
    # Both reject once; the call keeps looking, then the first to answer wins.
    await eventually(lambda: _both_tried(world), what="both phones tried")
    world.set_phone("2001", PhoneBehaviour(answer_after=0.2))
    await asyncio.wait_for(caller.answered.wait(), 10)
    await world.hangup(caller)
    record = await service.ended_call()
    assert record.outcome == "answered"
    assert record.agent_id == "ayse"


async def test_unanswered_agent_times_out_and_next_answers(
    world: World, start_service: StartService
) -> None:
    service = await start_service(
        rings={
            "default": {
                "cadence": "fast",
                "max_rings": 6,
                "agent_rings": 1,
                "auto_pause_on_miss": False,
            },
            "custom_cadences": {"fast": {"segments_ms": [500, 500]}},
        }
    )
    # Both agents idle equally long: ties go by id, so Ayşe (2001) is offered first.
    world.set_phone("2001", PhoneBehaviour(answer_after=None))
    world.set_phone("2002", PhoneBehaviour(answer_after=0.3))
    caller = await world.call("908501234567", "+905551110001", "Deniz")
    first = await eventually(lambda: _first_phone(world), what="a phone ringing")
    assert first.number == "2001"
    await asyncio.wait_for(first.ended.wait(), 5)  # hung up after 1 s of ringing
    await asyncio.wait_for(caller.answered.wait(), 10)
    await world.hangup(caller)
    record = await service.ended_call()
    assert record.agent_id == "mehmet"
    pool = {a["id"]: a for a in service.runtime.calls.pool_snapshot()}  # type: ignore[union-attr]
    assert pool["ayse"]["missed"] == 1 and pool["mehmet"]["missed"] == 0


async def test_caller_abandoning_while_ringing_frees_the_agent(
    world: World, start_service: StartService
) -> None:
    service = await start_service()
    set_phones(world, PhoneBehaviour(answer_after=None))
    caller = await world.call("908501234567", "+905551110002", "Ece")
    phone = await eventually(lambda: _first_phone(world), what="a phone ringing")
    await world.hangup(caller)
    await asyncio.wait_for(phone.ended.wait(), 5)
    record = await service.ended_call()
    assert record.outcome == "abandoned" and record.hangup_by == "caller"
    assert record.answered_at is None
    snapshot = service.runtime.calls.pool_snapshot()  # type: ignore[union-attr]
    assert all(a["status"] == "available" for a in snapshot)


async def test_agent_hanging_up_ends_the_call(world: World, start_service: StartService) -> None:
    service = await start_service()
    set_phones(world, PhoneBehaviour(answer_after=0.2))
    caller = await world.call("908501234567", "+905551110003", "Filiz")
    await asyncio.wait_for(caller.answered.wait(), 10)
    phone = await eventually(lambda: _first_phone(world), what="the agent's phone")
    await asyncio.sleep(0.5)
    await world.hangup(phone)
    await asyncio.wait_for(caller.ended.wait(), 5)
    record = await service.ended_call()
    assert record.outcome == "answered" and record.hangup_by == "agent"


async def test_nobody_free_caller_gets_the_message_not_silence(
    world: World, start_service: StartService
) -> None:
    service = await start_service(agents=[], max_wait_s=1.5)
    caller = await world.call("908501234567", "+905551110004", "Gül", listen=True)
    # The dialplan answers and plays the apology, then hangs up.
    await asyncio.wait_for(caller.answered.wait(), 10)
    await asyncio.wait_for(caller.ended.wait(), 15)
    record = await service.ended_call()
    assert record.outcome == "no_agent" and record.hangup_by == "system"


async def _live(service: object) -> list[dict[str, object]]:
    calls: list[dict[str, object]] = service.runtime.live_calls()  # type: ignore[attr-defined]
    return calls


async def _both_tried(world: World) -> bool:
    return len(world.phone_legs.get("2001", [])) >= 1 and len(world.phone_legs.get("2002", [])) >= 1


async def _first_phone(world: World) -> Leg | None:
    legs = [leg for legs in world.phone_legs.values() for leg in legs]
    return legs[0] if legs else None


async def _settled(path: object) -> bool:
    """A wav Asterisk has finished: present and its size stable for a moment."""
    p = Path(str(path))
    if not p.exists():
        return False
    size = p.stat().st_size
    await asyncio.sleep(0.2)
    return p.stat().st_size == size and size > 44


async def test_asterisk_sends_the_service_only_the_events_it_reads(
    world: World, start_service: StartService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app's event filter, set at connect: a whole answered and recorded call brings
    none of the event types the service never reads (ChannelVarset alone was half)."""
    seen: Counter[str] = Counter()
    parse = parse_event

    def counting(raw: str | bytes) -> Event:
        event = parse(raw)
        if event.application == "thirdring":
            seen[event.type] += 1
        return event

    monkeypatch.setattr(ari_events, "parse_event", counting)
    service = await start_service()
    set_phones(world, PhoneBehaviour(answer_after=0.5, tone_hz=AGENT_TONE))
    caller = await world.call("908501234567", "+905551249901", "Filtre", tone_hz=CALLER_TONE)
    await asyncio.wait_for(caller.answered.wait(), 10)
    await asyncio.sleep(1.0)
    await world.hangup(caller)
    record = await service.ended_call(number="+905551249901")
    kept = await service.checked_recording(record.id)
    assert kept.status == "complete", kept.detail
    assert seen["StasisStart"] and seen["Dial"] and seen["StasisEnd"]
    assert not set(seen) & set(UNREAD_EVENTS), seen


async def test_an_agent_whose_phone_cannot_be_dialled_is_unreachable_and_the_next_answers(
    world: World, start_service: StartService
) -> None:
    """A dial Asterisk refuses comes back as the leg's end: unreachable, no miss, and the
    next agent is offered."""
    nowhere = {"id": "aaron", "name": "Aaron Nowhere", "endpoint": "PJSIP/no-such-phone"}
    service = await start_service(agents=[nowhere, *AGENTS])  # idle ties go by id: Aaron first
    set_phones(world, PhoneBehaviour(answer_after=0.3, tone_hz=AGENT_TONE))
    caller = await world.call("908501234567", "+905551249902", "Ulasilamaz")
    await asyncio.wait_for(caller.answered.wait(), 10)
    await world.hangup(caller)
    record = await service.ended_call(number="+905551249902")
    assert record.outcome == "answered" and record.agent_id in {"ayse", "mehmet"}
    attempts = await service.runtime.store.attempts(record.id)
    assert (attempts[0].agent_id, attempts[0].outcome) == ("aaron", "unreachable")
    assert attempts[-1].outcome == "answered"
