"""The ring policy's IVR escalation steps against a real PBX: nobody answers, and at the
deadline the system answers with the callback offer (the world caller presses keys over
SIP), or takes a voicemail, or dials an external number and bridges the caller to it.
The prompts are the IVR's (playback events on the PBX); the tasks are the IVR's."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import aiohttp

from telephony.ari import Event, PlaybackFinished, PlaybackStarted
from telephony.auth import ensure_user
from telephony.ivr.escalation import step_prompts
from telephony.ivr.tts import cache_name
from telephony.sandbox.pair import Sandbox
from telephony.store.repo import CallRecord
from telephony.world.audio import duration_s, tones_heard
from telephony.world.controller import Leg, PhoneBehaviour, World

from .conftest import (
    AGENT_TONE,
    CALLER_TONE,
    RunningService,
    StartService,
    eventually,
    set_phones,
)

DID = "908502220077"
NUMBER = "+905551117788"
TONES = (CALLER_TONE, AGENT_TONE)
MAX_RINGS = 4  # of 1 s: the deadline 4 s after ringing starts
PROMPT_TIMEOUT = 15
OFFER = {"kind": "callback_offer"}
VOICEMAIL = {"kind": "voicemail"}


def rings(*steps: dict[str, Any], agent_rings: float = 2) -> dict[str, Any]:
    return {
        "default": {
            "cadence": "fast",
            "max_rings": MAX_RINGS,
            "agent_rings": agent_rings,
            "auto_pause_on_miss": False,
            "escalation": list(steps),
        },
        "custom_cadences": {"fast": {"segments_ms": [500, 500]}},
    }


class Prompts:
    """The IVR prompts the PBX played (started/finished), as the service saw them."""

    def __init__(self, service: RunningService) -> None:
        ivr = service.runtime.ivr.calls
        assert ivr is not None
        self.started: list[str] = []
        self.finished = 0
        take = ivr.on_event

        def watch(event: Event) -> bool:
            if isinstance(event, PlaybackStarted) and "-ivr-" in event.playback.id:
                self.started.append(event.playback.media_uri)
            if isinstance(event, PlaybackFinished) and "-ivr-" in event.playback.id:
                self.finished += 1
            return take(event)

        ivr.on_event = watch  # type: ignore[method-assign]

    async def count(self, n: int) -> None:
        async def enough() -> bool:
            return len(self.started) >= n

        await eventually(enough, PROMPT_TIMEOUT, f"{n} prompts to start")

    async def over(self, n: int) -> None:
        async def done() -> bool:
            return self.finished >= n

        await eventually(done, PROMPT_TIMEOUT, f"{n} prompts to finish")


async def steps_service(
    start_service: StartService, sandbox: Sandbox, *steps: dict[str, Any], agent_rings: float = 2
) -> tuple[RunningService, Prompts]:
    """The service with these escalation steps; its prompts where the PBX reads them,
    rendered before the first call."""
    home = f"{sandbox.pbx.home}/ivr-{secrets.token_hex(4)}"
    service = await start_service(
        rings=rings(*steps, agent_rings=agent_rings),
        ivr_sounds_dir=str(sandbox.pbx.install.host_path(home)),
        ivr_sounds_pbx_dir=home,
    )
    await service.runtime.ivr.rendered()
    return service, Prompts(service)


async def caller(world: World, number: str = NUMBER) -> Leg:
    # No tone, not listening: the caller's channel can press keys on the world side.
    return await world.call(DID, number, "Deniz", tone_hz=None, listen=False)


async def answered_at_the_deadline(leg: Leg) -> None:
    await asyncio.wait_for(leg.answered.wait(), MAX_RINGS + 6)
    assert leg.rang_at is not None and leg.answered_at is not None
    rang_for = (leg.answered_at - leg.rang_at).total_seconds()
    assert abs(rang_for - MAX_RINGS) < 0.5, rang_for  # the system answers at the deadline


async def no_phone_rings(world: World) -> None:
    async def quiet() -> bool:
        legs = [leg for legs in world.phone_legs.values() for leg in legs]
        return bool(legs) and all(leg.ended.is_set() for leg in legs)

    await eventually(quiet, 5, "the agents' phones to stop ringing")


async def callbacks_in_the_api(service: RunningService) -> list[dict[str, Any]]:
    await ensure_user(service.runtime.store, "boss", "a long admin password", "admin")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        login = {"username": "boss", "password": "a long admin password"}
        async with http.post(f"{service.url}/login", json=login) as response:
            assert response.status == 200
        async with http.get(f"{service.url}/api/callbacks") as response:
            assert response.status == 200
            body: dict[str, Any] = await response.json()
    callbacks: list[dict[str, Any]] = body["callbacks"]
    return callbacks


async def ended(service: RunningService, number: str = NUMBER) -> CallRecord:
    return await service.ended_call(timeout=15, number=number)


async def test_at_the_deadline_the_caller_takes_the_callback_offer(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    service, prompts = await steps_service(start_service, sandbox, OFFER, VOICEMAIL)
    set_phones(world, PhoneBehaviour(answer_after=None, listen=False))
    leg = await caller(world)
    await answered_at_the_deadline(leg)
    await prompts.count(1)  # "nobody is free; press 1 to be called back"
    await no_phone_rings(world)  # agents still offered stopped ringing at the offer
    await world.press(leg, "1")
    await prompts.count(2)  # "press 1 for this number, or key another and #"
    await world.press(leg, "1")
    await prompts.over(3)  # "thank you, we will call you back": played to its end
    await asyncio.wait_for(leg.ended.wait(), 15)  # then hung up
    record = await ended(service)
    assert (record.outcome, record.end_reason) == ("no_agent", "callback")
    assert record.system_answered_at is not None and record.answered_ring is None
    (step,) = record.escalations or []
    assert step["step"] == "callback_offer" and step["result"] == "callback"
    assert abs(step["ring"] - (MAX_RINGS + 1)) < 0.3  # at the start of ring 5
    assert step["number"] == NUMBER and step["confirmed"] == "caller_id"
    assert step["keys"] == "11" and step["path"] == ["offer", "callback"]
    attempts = await service.runtime.store.attempts(record.id)
    assert attempts and {a.agent_id for a in attempts} == {"ayse", "mehmet"}
    assert all(a.outcome in ("no_answer", "cancelled") for a in attempts)
    # The task is an IVR callback like any other, linked to this call.
    tasks = await callbacks_in_the_api(service)
    assert [(t["number"], t["did"], t["created_by"], t["call_id"]) for t in tasks] == [
        (NUMBER, DID, "ivr", record.id)
    ]
    assert tasks[0]["id"] == step["callback_id"] and tasks[0]["status"] == "pending"
    # Not an IVR part of the call: the IVR's own runs and figures are untouched.
    assert await service.runtime.ivr.store.recent_runs() == []
    # The prompts spoke the default region's language (Turkish).
    assert all("/tts/tr-" in uri for uri in prompts.started)


async def test_no_key_at_the_offer_runs_the_next_step_a_voicemail(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    service, prompts = await steps_service(start_service, sandbox, OFFER, VOICEMAIL)
    set_phones(world, PhoneBehaviour(answer_after=None, listen=False))
    leg = await caller(world)
    await answered_at_the_deadline(leg)
    await prompts.count(2)  # the offer, no key for 5 s, then "leave a message"
    await prompts.over(2)  # the beep follows the voicemail prompt
    await world.rest.play(leg.channel_id, f"tone:{CALLER_TONE}")  # the message
    await asyncio.sleep(2.0)
    await world.hangup(leg)
    record = await ended(service)
    assert (record.outcome, record.end_reason) == ("no_agent", "voicemail")
    offer, voicemail = record.escalations or []
    assert (offer["step"], offer["result"], offer["keys"]) == ("callback_offer", "declined", "")
    assert (voicemail["step"], voicemail["result"]) == ("voicemail", "voicemail")
    assert voicemail["ring"] > offer["ring"] + 5  # the offer's prompt and its 5 s
    recording = sandbox.pbx.recordings_dir / f"{voicemail['recording']}.wav"

    async def kept() -> bool:
        return recording.exists() and duration_s(recording) > 1.0

    await eventually(kept, 5, "the voicemail file")
    assert CALLER_TONE in tones_heard(recording, TONES)
    tasks = await service.runtime.callbacks.list_tasks()
    assert [(t.number, t.created_by, t.call_id, t.id) for t in tasks] == [
        (NUMBER, "voicemail", record.id, voicemail["callback_id"])
    ]


async def test_the_external_step_dials_out_and_bridges_caller_and_far_end(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    service, _ = await steps_service(
        start_service, sandbox, {"kind": "external", "dial": "+905321110000"}
    )
    set_phones(world, PhoneBehaviour(answer_after=None, listen=False))
    world.set_customer("+905321110000", PhoneBehaviour(answer_after=0.5, tone_hz=AGENT_TONE))
    leg = await world.call(DID, NUMBER, "Deniz", tone_hz=CALLER_TONE)

    async def far_end() -> Leg | None:
        legs = world.customer_legs.get("905321110000", [])
        return legs[0] if legs and legs[0].answered.is_set() else None

    far = await eventually(far_end, MAX_RINGS + 10, "the external number to answer")
    assert far.rang_at is not None and leg.rang_at is not None
    assert (far.rang_at - leg.rang_at).total_seconds() >= MAX_RINGS - 0.1  # at the deadline
    await asyncio.sleep(2.5)  # they talk
    await world.hangup(leg)
    await asyncio.wait_for(far.ended.wait(), 5)  # the far end is hung up with the caller
    record = await ended(service)
    assert (record.outcome, record.end_reason) == ("no_agent", "external")
    assert record.answered_at is None  # none of our agents answered
    (step,) = record.escalations or []
    assert (step["step"], step["result"]) == ("external", "external")
    assert (step["number"], step["status"]) == ("+905321110000", "answered")
    # Bridged both ways: each side heard the other's tone.
    for side in (leg, far):

        async def settled(side: Leg = side) -> bool:
            path = world.heard(side)
            if not path.exists():
                return False
            size = path.stat().st_size
            await asyncio.sleep(0.2)
            return path.stat().st_size == size

        await eventually(settled, 10, "the world's recording")
    assert AGENT_TONE in tones_heard(world.heard(leg), TONES)
    assert CALLER_TONE in tones_heard(world.heard(far), TONES)


async def test_another_key_at_the_offer_declines_it_and_a_hangup_in_voicemail_is_an_abandon(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    service, prompts = await steps_service(start_service, sandbox, OFFER, VOICEMAIL)
    set_phones(world, PhoneBehaviour(answer_after=None, listen=False))
    leg = await caller(world)
    await answered_at_the_deadline(leg)
    await prompts.count(1)
    await world.press(leg, "2")  # not 1: "no, thanks" (without waiting out the 5 s)
    await prompts.count(2)  # the voicemail prompt at once
    await world.hangup(leg)  # during the voicemail prompt
    record = await ended(service)
    assert record.outcome == "abandoned" and record.end_reason is None
    offer, voicemail = record.escalations or []
    assert (offer["result"], offer["keys"]) == ("declined", "2")
    assert voicemail["ring"] - offer["ring"] < 5  # sooner than the offer's timeout
    assert voicemail["result"] == "abandoned"
    assert await service.runtime.callbacks.list_tasks() == []


async def test_a_caller_hanging_up_during_the_offer_leaves_nothing_behind(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    service, prompts = await steps_service(start_service, sandbox, OFFER, VOICEMAIL)
    set_phones(world, PhoneBehaviour(answer_after=None, listen=False))
    leg = await caller(world)
    await answered_at_the_deadline(leg)
    await prompts.count(1)
    await world.hangup(leg)  # mid-offer
    record = await ended(service)
    assert (record.outcome, record.hangup_by) == ("abandoned", "caller")
    (step,) = record.escalations or []  # voicemail never started
    assert (step["step"], step["result"]) == ("callback_offer", "abandoned")
    assert await service.runtime.callbacks.list_tasks() == []
    ivr = service.runtime.ivr.calls
    assert ivr is not None and ivr.live() == [] and not ivr._runs
    assert service.runtime.live_calls() == []
    # (The fixture then checks that the PBX has no channel or bridge left.)


async def test_a_typed_number_that_is_no_phone_number_is_asked_again(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    service, prompts = await steps_service(start_service, sandbox, OFFER, VOICEMAIL)
    set_phones(world, PhoneBehaviour(answer_after=None, listen=False))
    leg = await caller(world, "")  # anonymous: the number must be keyed
    await answered_at_the_deadline(leg)
    await prompts.count(1)
    await world.press(leg, "1")
    await prompts.count(2)  # "key your number and #": no Caller ID to confirm
    await world.press(leg, "112#")  # an emergency number, not one to call back
    await prompts.count(3)  # "not understood", and the question again
    await world.press(leg, "05321234567#")
    await asyncio.wait_for(leg.ended.wait(), 15)
    tasks = await eventually(service.runtime.callbacks.list_tasks, 5, "the callback task")
    assert [(t.number, t.created_by) for t in tasks] == [("+905321234567", "ivr")]
    record = await service.ended_call(timeout=15)
    (step,) = record.escalations or []
    assert (step["result"], step["confirmed"]) == ("callback", "keyed")
    assert step["keys"] == "1112#05321234567#"


async def test_a_caller_from_an_ivr_flow_hears_the_offer_in_the_flows_language(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    # The DID's flow greets in English and hands the caller to the agents, who hear
    # ringback (in-band: the IVR answered); at the deadline the offer, in English, with
    # the ringback stopped; a key other than 1 and no step left: the apology.
    service, prompts = await steps_service(start_service, sandbox, OFFER)
    flow = {
        "start": "greeting",
        "language": "en",
        "languages": ["en"],
        "nodes": {
            "greeting": {"kind": "play", "prompt": {"text": {"en": "Hello."}}, "next": "agents"},
            "agents": {"kind": "agents"},
        },
    }
    _, checked = await service.runtime.ivr.save(DID, flow, "test")
    assert checked is not None
    await service.runtime.ivr.rendered()  # the steps' English words too, ahead
    sounds = service.runtime.ivr.sounds.host_dir
    for prompt, language in step_prompts({"callback_offer"}, {"en"}):
        assert (sounds / f"{cache_name(prompt.text[language], language)}.wav").is_file()
    set_phones(world, PhoneBehaviour(answer_after=None, listen=False))
    leg = await caller(world)
    await prompts.count(2)  # the greeting, then (4 rings later) the offer
    assert all("/tts/en-" in uri for uri in prompts.started)
    await prompts.over(2)  # played to its end: not drowned, not cut
    await world.press(leg, "3")
    await asyncio.wait_for(leg.ended.wait(), 15)  # the apology, then the hang-up
    record = await ended(service)
    assert record.outcome == "no_agent" and record.end_reason is None
    (step,) = record.escalations or []
    assert (step["step"], step["result"], step["keys"]) == ("callback_offer", "declined", "3")
    ivr = service.runtime.ivr.calls
    assert ivr is not None and not ivr._handed  # the hand-over's bookkeeping is gone
    runs = await service.runtime.ivr.store.recent_runs()
    assert [(r.call_id, r.result) for r in runs] == [(record.id, "agents")]  # the flow's part


async def test_an_agent_ringing_in_the_queue_stops_when_the_offer_begins(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    # Rings of 1 s, agents ring 3: the queue at 4 s (Mehmet rings from 3 s to 6 s, then
    # Ayşe), the offer 3 rings later, at 7 s: Ayşe's phone stops then.
    service, prompts = await steps_service(
        start_service, sandbox, {"kind": "queue"}, OFFER, agent_rings=3
    )
    set_phones(world, PhoneBehaviour(answer_after=None, listen=False))
    leg = await caller(world)
    await answered_at_the_deadline(leg)  # the queue answers
    await prompts.count(1)  # the offer
    await no_phone_rings(world)
    await world.hangup(leg)
    record = await ended(service)
    queue, offer = record.escalations or []
    assert queue["step"] == "queue" and offer["step"] == "callback_offer"
    assert abs(offer["ring"] - queue["ring"] - 3) < 0.3
    attempts = await service.runtime.store.attempts(record.id)
    last = max(attempts, key=lambda a: a.started_at)
    assert last.outcome == "cancelled" and last.ringing_at is not None
    assert record.ringing_at is not None
    stopped_at_ring = 1 + (last.ended_at - record.ringing_at).total_seconds()
    assert abs(stopped_at_ring - offer["ring"]) < 0.1  # stopped as the offer began
    assert (await service.runtime.callbacks.list_tasks()) == []


async def test_a_busy_external_number_ends_the_call_and_says_so(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    service, _ = await steps_service(
        start_service, sandbox, {"kind": "external", "dial": "+905321110001"}
    )
    set_phones(world, PhoneBehaviour(answer_after=None, listen=False))
    world.set_customer("+905321110001", PhoneBehaviour(reject=True))
    leg = await caller(world)
    await asyncio.wait_for(leg.ended.wait(), MAX_RINGS + 10)  # hung up: nowhere to go
    record = await ended(service)
    assert (record.outcome, record.end_reason) == ("no_agent", "external")
    (step,) = record.escalations or []
    assert (step["result"], step["number"]) == ("external", "+905321110001")
    assert step["status"] == "busy"
    assert len(world.customer_legs["905321110001"]) == 1


async def test_three_callers_in_the_offer_at_once_each_get_their_own_end(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    # Two agents, three callers, nobody answers: all three reach the offer; their keys
    # and ends never mix.
    service, prompts = await steps_service(start_service, sandbox, OFFER, VOICEMAIL)
    set_phones(world, PhoneBehaviour(answer_after=None, listen=False))
    numbers = ["+905551110001", "+905551110002", "+905551110003"]
    takes, declines, leaves = [await caller(world, n) for n in numbers]
    for leg in (takes, declines, leaves):
        await answered_at_the_deadline(leg)
    await prompts.count(3)  # three offers
    await world.press(takes, "1")
    await world.press(declines, "2")
    await world.hangup(leaves)
    await prompts.count(5)  # the confirmation question, the voicemail prompt
    await world.press(takes, "1")
    await asyncio.wait_for(takes.ended.wait(), 15)
    await world.hangup(declines)
    took, declined, left = [await ended(service, n) for n in numbers]
    assert (took.end_reason, took.escalations[-1]["result"]) == ("callback", "callback")  # type: ignore[index]
    assert [s["step"] for s in declined.escalations or []] == ["callback_offer", "voicemail"]
    assert declined.escalations[0]["keys"] == "2"  # type: ignore[index]
    assert (left.outcome, (left.escalations or [])[0]["result"]) == ("abandoned", "abandoned")
    tasks = await service.runtime.callbacks.list_tasks()
    assert [(t.number, t.call_id) for t in tasks] == [(numbers[0], took.id)]


async def test_the_external_step_may_dial_a_dial_string(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    # A desk phone outside the agent pool (PJSIP/agent2003): dialled as it is.
    service, _ = await steps_service(
        start_service, sandbox, {"kind": "external", "dial": "PJSIP/agent2003"}
    )
    set_phones(world, PhoneBehaviour(answer_after=None, listen=False))
    world.set_phone("2003", PhoneBehaviour(answer_after=0.3, listen=False))
    leg = await caller(world)

    async def answered() -> Leg | None:
        legs = world.phone_legs.get("2003", [])
        return legs[0] if legs and legs[0].answered.is_set() else None

    phone = await eventually(answered, MAX_RINGS + 10, "the desk phone to answer")
    await asyncio.sleep(0.5)
    await world.hangup(leg)
    await asyncio.wait_for(phone.ended.wait(), 5)
    record = await ended(service)
    (step,) = record.escalations or []
    assert (step["number"], step["status"]) == ("PJSIP/agent2003", "answered")
    assert (record.end_reason, record.answered_at) == ("external", None)  # no agent of ours
