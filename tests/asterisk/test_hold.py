"""Hold on a real PBX, with audio checked from the world side: during a hold the caller
hears music and nothing of the agent's side; after retrieve both hear each other; the
recording is one file through it all; the desk phone's hold is the same hold; the
watchdog warns and acts (back to the agent, or a callback offer the caller answers with
keys over SIP); an agent hanging up never drops a held caller; a restart while on hold
keeps the music and the watchdog's real start."""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from telephony.ivr.escalation import OFFER_TIMEOUT_S
from telephony.sandbox.pair import Sandbox
from telephony.world.audio import read_samples, tone_share
from telephony.world.controller import Leg, PhoneBehaviour, World

from .conftest import AGENT_TONE, CALLER_TONE, RunningService, StartService, eventually, set_phones
from .test_escalation_steps import Prompts, callbacks_in_the_api
from .test_recordings import logged_in

DID = "908501234567"
FAST = {"fast": {"segments_ms": [500, 500]}}


def rings(**hold: Any) -> dict[str, Any]:
    policy = {"cadence": "fast", "max_rings": 6, "agent_rings": 3, "auto_pause_on_miss": False}
    return {"default": {**policy, "hold": hold}, "custom_cadences": FAST}


async def call_answered(world: World, number: str) -> tuple[Leg, float]:
    set_phones(world, PhoneBehaviour(answer_after=0.3, tone_hz=AGENT_TONE))
    caller = await world.call(DID, number, "Bekleyen", tone_hz=CALLER_TONE)
    await asyncio.wait_for(caller.answered.wait(), 10)
    return caller, time.monotonic()


async def talking(service: RunningService) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        calls = [c for c in service.runtime.live_calls() if c["phase"] == "talking"]
        return calls[0] if calls else None

    call: dict[str, Any] = await eventually(found, what="a talking call")
    return call


async def snapshot(service: RunningService, call_id: str) -> dict[str, Any]:
    calls = [c for c in service.runtime.live_calls() if c["id"] == call_id]
    assert calls, f"call {call_id} is not live"
    return calls[0]


async def hold_state(
    service: RunningService, call_id: str, on: bool, timeout: float = 10.0
) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        call = await snapshot(service, call_id)
        return call if (call["hold"] is not None) == on else None

    what = f"hold {'on' if on else 'off'}"
    result: dict[str, Any] = await eventually(reached, timeout, what)
    return result


def window(path: Path, start_s: float, end_s: float) -> tuple[list[int], int]:
    samples, rate = read_samples(path)
    return samples[int(start_s * rate) : int(end_s * rate)], rate


def rms(samples: list[int]) -> float:
    return math.sqrt(sum(x * x for x in samples) / len(samples)) if samples else 0.0


async def test_browser_hold_music_for_the_caller_silence_from_the_room_one_recording(
    world: World, start_service: StartService
) -> None:
    service = await start_service(rings=rings(warn_after_s=60, max_s=120))
    caller, t0 = await call_answered(world, "+905551240001")
    call = await talking(service)
    await asyncio.sleep(2.0)
    async with logged_in(service, "supervisor") as (http, csrf):
        headers = {"X-CSRF-Token": csrf}
        async with http.post(f"{service.url}/api/calls/{call['id']}/hold", headers=headers) as r:
            assert r.status == 202, await r.text()
        held_at = time.monotonic() - t0
        held = await hold_state(service, call["id"], True)
        assert held["hold"]["source"] == "browser"
        await asyncio.sleep(4.0)
        async with http.post(
            f"{service.url}/api/calls/{call['id']}/retrieve", headers=headers
        ) as r:
            assert r.status == 202
        back_at = time.monotonic() - t0
        back = await hold_state(service, call["id"], False)
        assert back["last_hold_end"] is not None  # the screen says "thank the caller"
    await asyncio.sleep(2.5)
    await world.hangup(caller)
    record = await service.ended_call(number="+905551240001")

    heard = world.heard(caller)
    await eventually(lambda: _exists(heard), what="the caller's side recorded")
    before, rate = window(heard, 0.5, held_at - 0.2)
    during, _ = window(heard, held_at + 0.6, back_at - 0.2)
    after, _ = window(heard, back_at + 0.6, back_at + 2.0)
    assert tone_share(before, rate, AGENT_TONE) > 0.3
    assert tone_share(during, rate, AGENT_TONE) < 0.01  # not a word from the agent's side
    assert rms(during) > 100  # music, not dead air
    assert tone_share(after, rate, AGENT_TONE) > 0.3

    holds = await service.runtime.holds.of_call(record.id)
    assert [(h["source"], h["outcome"]) for h in holds] == [("browser", "retrieved")]
    kept = await service.checked_recording(record.id)
    assert kept.status == "complete", kept.detail
    path = service.recording_file(kept)
    # The caller's voice all through; the agent's before and after, not during the hold
    # (the hold's music is in the file too, louder than the tone: it is what the caller
    # heard, so the caller's tone carries a smaller share of the energy there).
    for start, end, floor, expected in (
        (0.5, held_at - 0.2, 0.05, {CALLER_TONE, AGENT_TONE}),
        (held_at + 0.6, back_at - 0.2, 0.01, {CALLER_TONE}),
        (back_at + 0.6, back_at + 2.0, 0.05, {CALLER_TONE, AGENT_TONE}),
    ):
        part, rate = window(path, start, end)
        shares = {hz: round(tone_share(part, rate, hz), 3) for hz in (CALLER_TONE, AGENT_TONE)}
        assert {hz for hz, share in shares.items() if share > floor} == expected, (start, shares)
    assert record.answered_at is not None and record.ended_at is not None
    talk = (record.ended_at - record.answered_at).total_seconds()
    assert kept.duration_s is not None and abs(kept.duration_s - talk) < 1.0
    async with (
        logged_in(service, "admin") as (http, _),
        http.get(f"{service.url}/api/calls/{record.id}/recording") as response,
    ):
        spans = (await response.json())["hold_spans"]
    assert len(spans) == 1 and spans[0]["source"] == "browser"
    assert abs(spans[0]["from_s"] - held_at) < 0.5 and abs(spans[0]["to_s"] - back_at) < 0.5


async def test_hold_on_the_desk_phone_is_the_same_hold(
    world: World, start_service: StartService
) -> None:
    service = await start_service(rings=rings(warn_after_s=60, max_s=120))
    caller, _ = await call_answered(world, "+905551240002")
    call = await talking(service)
    phone = next(legs[-1] for legs in world.phone_legs.values() if legs[-1].answered.is_set())
    # Talk first: a hold pressed in the answer's first instant races the call's own
    # SIP set-up (a re-INVITE glare), which no person does.
    await asyncio.sleep(1.0)
    await world.hold(phone)
    held = await hold_state(service, call["id"], True)
    assert held["hold"]["source"] == "phone"
    await asyncio.sleep(1.0)
    await world.unhold(phone)
    await hold_state(service, call["id"], False)
    await world.hangup(caller)
    record = await service.ended_call(number="+905551240002")
    holds = await service.runtime.holds.of_call(record.id)
    assert [(h["source"], h["outcome"]) for h in holds] == [("phone", "retrieved")]


async def test_the_watchdog_warns_then_returns_the_caller_with_a_beep(
    world: World, start_service: StartService
) -> None:
    service = await start_service(rings=rings(warn_after_s=1.0, max_s=2.5))
    caller, _ = await call_answered(world, "+905551240003")
    call = await talking(service)
    assert service.runtime.calls is not None
    assert service.runtime.calls.request_hold(call["id"], True, "test")
    started = time.monotonic()

    async def warned() -> bool:
        hold = (await snapshot(service, call["id"]))["hold"]
        return bool(hold and hold["warned"])

    await eventually(warned, what="the hold warning")
    assert 0.8 < time.monotonic() - started < 2.0
    await hold_state(service, call["id"], False)  # hold_max: back to the agent
    assert 2.2 < time.monotonic() - started < 4.0
    await world.hangup(caller)
    record = await service.ended_call(number="+905551240003")
    holds = await service.runtime.holds.of_call(record.id)
    assert [(h["outcome"], h["warned"]) for h in holds] == [("returned", True)]


async def test_an_agent_hanging_up_never_drops_the_held_caller(
    world: World, start_service: StartService
) -> None:
    service = await start_service(rings=rings(warn_after_s=60, max_s=120))
    caller, _ = await call_answered(world, "+905551240004")
    call = await talking(service)
    first_agent = call["agent_id"]
    assert service.runtime.calls is not None
    service.runtime.calls.request_hold(call["id"], True, "test")
    await hold_state(service, call["id"], True)
    phone = next(legs[-1] for legs in world.phone_legs.values() if legs[-1].answered.is_set())
    await world.hangup(phone)  # the agent puts the receiver down on a held caller

    async def talking_again() -> dict[str, Any] | None:
        now = await snapshot(service, call["id"])
        return now if now["phase"] == "talking" and now["hold"] is None else None

    again = await eventually(talking_again, timeout=15, what="the caller with an agent again")
    assert not caller.ended.is_set()
    assert again["agent_id"] in {"ayse", "mehmet"} and first_agent is not None
    await asyncio.sleep(1.0)
    await world.hangup(caller)
    record = await service.ended_call(number="+905551240004")
    assert record.outcome == "answered"
    holds = await service.runtime.holds.of_call(record.id)
    assert [h["outcome"] for h in holds] == ["agent_hung_up"]
    kept = await service.checked_recording(record.id)
    assert kept.status == "complete", kept.detail


async def test_a_caller_hanging_up_on_hold_is_a_hold_abandon(
    world: World, start_service: StartService
) -> None:
    service = await start_service(rings=rings(warn_after_s=60, max_s=120))
    caller, _ = await call_answered(world, "+905551240005")
    call = await talking(service)
    assert service.runtime.calls is not None
    service.runtime.calls.request_hold(call["id"], True, "test")
    await hold_state(service, call["id"], True)
    await world.hangup(caller)
    record = await service.ended_call(number="+905551240005")
    assert record.hangup_by == "caller"
    holds = await service.runtime.holds.of_call(record.id)
    assert [h["outcome"] for h in holds] == ["caller_hung_up"]


async def test_a_restart_while_on_hold_keeps_the_music_and_the_watchdog_start(
    world: World, start_service: StartService
) -> None:
    policy = rings(warn_after_s=4.0, max_s=60)
    first = await start_service(rings=policy)
    caller, _ = await call_answered(world, "+905551240006")
    call = await talking(first)
    assert first.runtime.calls is not None
    first.runtime.calls.request_hold(call["id"], True, "test")
    held = await hold_state(first, call["id"], True)
    since = held["hold"]["since"]
    await eventually(lambda: _open_hold_stored(first, call["id"]), what="the hold stored")
    started = time.monotonic()
    await first.stop()
    await asyncio.sleep(1.0)
    second = await start_service(rings=policy, database_url=first.settings.database_url)
    adopted = await hold_state(second, call["id"], True)
    assert adopted["hold"]["since"] == since  # the watchdog counts from the real start
    assert not caller.ended.is_set()

    async def warned() -> bool:
        hold = (await snapshot(second, call["id"]))["hold"]
        return bool(hold and hold["warned"])

    await eventually(warned, what="the warning after the restart")
    warned_after = time.monotonic() - started
    assert warned_after < 4.0 + 0.5  # 4 s from the hold's start, not from the restart
    assert datetime.fromisoformat(since) is not None
    assert second.runtime.calls is not None
    second.runtime.calls.request_hold(call["id"], False, "test")
    await hold_state(second, call["id"], False)
    await world.hangup(caller)
    record = await second.ended_call(number="+905551240006")
    assert record.outcome == "answered"


async def _exists(path: Path) -> bool:
    return path.exists() and path.stat().st_size > 44


async def _open_hold_stored(service: RunningService, call_id: str) -> bool:
    return await service.runtime.holds.open_hold(call_id) is not None


async def offer_service(
    start_service: StartService, sandbox: Sandbox
) -> tuple[RunningService, Prompts]:
    """Hold's limit 2 s, then the callback offer (its prompts rendered before the call)."""
    home = f"{sandbox.pbx.home}/ivr-{secrets.token_hex(4)}"
    service = await start_service(
        rings=rings(warn_after_s=1.0, max_s=2.0, on_max="callback_offer", reassure=False),
        ivr_sounds_dir=str(sandbox.pbx.install.host_path(home)),
        ivr_sounds_pbx_dir=home,
    )
    await service.runtime.ivr.rendered()
    return service, Prompts(service)


async def held_call(service: RunningService, world: World, number: str) -> tuple[Leg, str]:
    caller, _ = await call_answered(world, number)
    call = await talking(service)
    assert service.runtime.calls is not None
    assert service.runtime.calls.request_hold(call["id"], True, "test")
    return caller, call["id"]


async def test_at_the_hold_limit_the_caller_takes_a_callback_promised_in_the_agents_name(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    service, prompts = await offer_service(start_service, sandbox)
    number = "+905551240007"
    caller, call_id = await held_call(service, world, number)
    started = time.monotonic()
    await prompts.count(1)  # "your consultant needs a little longer; press 1 ..."
    assert 1.8 < time.monotonic() - started < 4.0
    live = await snapshot(service, call_id)
    assert live["hold"] is not None and live["hold"]["offering"]
    agent = live["agent_id"]
    await world.press(caller, "1")  # over SIP, from a caller still in the talk bridge
    await prompts.count(2)  # "press 1 for this number, or key another and #"
    await world.press(caller, "1")
    await asyncio.wait_for(caller.ended.wait(), 20)  # thanked, then hung up
    record = await service.ended_call(number=number)
    assert (record.outcome, record.end_reason, record.hangup_by) == (
        "answered",
        "hold_callback",
        "system",
    )
    (step,) = record.escalations or []
    assert step["step"] == "hold_callback_offer" and step["result"] == "callback"
    assert step["keys"] == "11" and step["confirmed"] == "caller_id"
    holds = await service.runtime.holds.of_call(record.id)
    assert [(h["outcome"], h["over_limit"]) for h in holds] == [("callback", True)]
    (task,) = await callbacks_in_the_api(service)
    assert (task["number"], task["agent_id"], task["promise"], task["created_by"]) == (
        number,
        agent,
        True,
        "hold_offer",
    )
    assert task["call_id"] == record.id and task["id"] == step["callback_id"]
    due_in = datetime.fromisoformat(task["due_at"]) - datetime.fromisoformat(step["due_at"])
    assert due_in.total_seconds() == 0
    assert await service.runtime.ivr.store.recent_runs() == []
    kept = await service.checked_recording(record.id)  # one file, the offer in it
    assert kept.status == "complete", kept.detail


async def test_a_caller_who_lets_the_offer_pass_is_back_with_the_agent(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    service, prompts = await offer_service(start_service, sandbox)
    number = "+905551240008"
    caller, call_id = await held_call(service, world, number)
    await prompts.count(1)
    await prompts.over(1)
    await hold_state(service, call_id, False, OFFER_TIMEOUT_S + 3)  # no key meanwhile
    live = await snapshot(service, call_id)
    assert live["phase"] == "talking" and not caller.ended.is_set()
    await world.hangup(caller)
    record = await service.ended_call(number=number)
    assert record.outcome == "answered"
    holds = await service.runtime.holds.of_call(record.id)
    assert [h["outcome"] for h in holds] == ["returned"]
    assert [s["result"] for s in record.escalations or []] == ["declined"]
    assert await callbacks_in_the_api(service) == []
