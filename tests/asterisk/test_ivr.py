"""The IVR against a real PBX: the world caller hears the prompts (playback events on the
PBX), presses keys over SIP (RFC 4733), and lands on the right agent group with the
choice on the call; timeouts, wrong keys, after hours with a callback request, and a
prompt file missing at run time."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from telephony.ari import Event, PlaybackFinished, PlaybackStarted
from telephony.auth import ensure_user
from telephony.sandbox.pair import Sandbox
from telephony.world.audio import duration_s, tones_heard
from telephony.world.controller import Leg, PhoneBehaviour, World

from .conftest import (
    AGENT_TONE,
    AGENTS,
    CALLER_TONE,
    RunningService,
    StartService,
    eventually,
    set_phones,
)

DID = "908502220001"
TONES = (CALLER_TONE, AGENT_TONE)
PROMPT_TIMEOUT = 15


def say(text: str) -> dict[str, Any]:
    return {"text": {"tr": text}}


def menu_flow(**menu: Any) -> dict[str, Any]:
    return {
        "start": "greeting",
        "nodes": {
            "greeting": {"kind": "play", "prompt": say("İyi günler."), "next": "menu"},
            "menu": {
                "kind": "menu",
                "prompt": say("Satış için bir, destek için iki."),
                "choices": {
                    "1": {"next": "sales", "tag": "sales"},
                    "2": {"next": "support", "tag": "support"},
                },
                "invalid_prompt": say("Geçersiz tuş."),
                "timeout_prompt": say("Tuşlama yapılmadı."),
                "default": "sales",
                **menu,
            },
            "sales": {"kind": "agents", "group": "sales"},
            "support": {"kind": "agents", "group": "support"},
        },
    }


class Heard:
    """The PBX's playback events for IVR prompts, as the service received them."""

    def __init__(self, service: RunningService) -> None:
        ivr = service.runtime.ivr.calls
        assert ivr is not None
        self.started: list[str] = []
        self.finished: list[PlaybackFinished] = []
        route = ivr.on_event

        def spy(event: Event) -> bool:
            if isinstance(event, PlaybackStarted) and "-ivr-" in event.playback.id:
                self.started.append(event.playback.media_uri)
            if isinstance(event, PlaybackFinished) and "-ivr-" in event.playback.id:
                self.finished.append(event)
            return route(event)

        ivr.on_event = spy  # type: ignore[method-assign]

    async def prompts(self, count: int) -> None:
        async def enough() -> bool:
            return len(self.started) >= count

        await eventually(enough, PROMPT_TIMEOUT, f"{count} IVR prompts to start")


async def ivr_service(
    start_service: StartService, sandbox: Sandbox, flow: dict[str, Any], **overrides: Any
) -> tuple[RunningService, Path]:
    """The service with its IVR prompts in a folder the PBX (in its root) can read."""
    home = f"{sandbox.pbx.home}/ivr-{secrets.token_hex(4)}"
    host_dir = sandbox.pbx.install.host_path(home)
    service = await start_service(
        ivr_sounds_dir=str(host_dir), ivr_sounds_pbx_dir=home, **overrides
    )
    _, checked = await service.runtime.ivr.save(DID, flow, "test")
    assert checked is not None and checked.warnings == []
    await service.runtime.ivr.rendered()  # the TTS prompts are ready before the call
    return service, host_dir


async def call(world: World, number: str = "+905551117788", name: str = "Deniz") -> Leg:
    # No tone and no listening: the caller's channel stays out of any bridge on the
    # world side, so it can press keys.
    return await world.call(DID, number, name, tone_hz=None, listen=False)


async def live_call(service: RunningService) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        calls = service.runtime.live_calls()
        return calls[0] if calls else None

    result: dict[str, Any] = await eventually(found, 15, "the call to reach the agents")
    return result


async def test_a_key_in_the_menu_lands_on_that_group_with_the_choice_on_the_call(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    # Ayşe sells, Mehmet supports: the caller who presses 2 (support) gets Mehmet, even
    # though Ayşe has been idle the longest.
    agents = [
        {**AGENTS[0], "groups": ["sales"]},
        {**AGENTS[1], "groups": ["support"]},
    ]
    service, _ = await ivr_service(start_service, sandbox, menu_flow(), agents=agents)
    heard = Heard(service)
    set_phones(world, PhoneBehaviour(answer_after=0.5, listen=False))
    caller = await call(world)
    await asyncio.wait_for(caller.answered.wait(), 10)  # the IVR answers
    await heard.prompts(2)  # the greeting, then the menu
    await world.press(caller, "2")
    live = await live_call(service)
    assert live["tag"] == "support"
    assert live["ivr"]["group"] == "support" and live["ivr"]["keys"] == "2"
    assert live["ivr"]["path"] == ["greeting", "menu", "support"]

    async def talking() -> bool:
        calls = service.runtime.live_calls()
        return bool(calls) and calls[0]["phase"] == "talking"

    await eventually(talking, 15, "an agent to answer")
    assert service.runtime.live_calls()[0]["agent_id"] == "mehmet"
    assert "2001" not in world.phone_legs  # the sales agent's phone never rang
    await world.hangup(caller)
    record = await service.ended_call()
    assert record.outcome == "answered"
    run = await service.runtime.ivr.store.run(record.id)
    assert run is not None and run.result == "agents" and run.detail == {"group": "support"}
    assert run.keys == "2" and run.tags == ["support"] and run.seconds is not None
    # The prompts played were the TTS renderings of the flow's texts, in order.
    assert len(heard.started) == 2 and all("/tts/tr-" in uri for uri in heard.started)
    assert record.arrived_at <= run.started_at


async def test_a_wrong_key_then_no_key_ends_at_the_default_group(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    flow = menu_flow(timeout_s=1.0, retries=1)
    service, _ = await ivr_service(start_service, sandbox, flow)
    heard = Heard(service)
    set_phones(world, PhoneBehaviour(answer_after=None, listen=False))
    caller = await call(world)
    await heard.prompts(2)
    await world.press(caller, "7")  # not in the menu: "wrong key", the menu again
    await heard.prompts(3)
    live = await live_call(service)  # then nothing: after the retry, the default
    assert live["tag"] == "sales" or live["ivr"]["group"] == "sales"
    assert live["ivr"]["keys"] == "7"
    assert live["ivr"]["path"] == ["greeting", "menu", "sales"]
    await world.hangup(caller)
    record = await service.ended_call()
    run = await service.runtime.ivr.store.run(record.id)
    assert run is not None and run.result == "agents" and run.keys == "7"
    # The retry was one playback of two prompts: the notice, then the menu again.
    assert heard.started[2].count("sound:") >= 1


async def test_after_hours_the_caller_confirms_their_number_for_a_callback(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    today = datetime.now(UTC).astimezone(ZoneInfo("Europe/Istanbul")).date()
    flow = {
        "start": "hours",
        "nodes": {
            "hours": {
                "kind": "hours",
                "open_spans": [
                    {
                        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                        "start": "00:00",
                        "end": "24:00",
                    }
                ],
                "holidays": [today.isoformat()],  # closed today, whatever the hour
                "open": "agents",
                "closed": "closed",
            },
            "agents": {"kind": "agents"},
            "closed": {"kind": "play", "prompt": say("Şu an kapalıyız."), "next": "offer"},
            "offer": {
                "kind": "callback",
                "prompt": say("Bu numaradan aranmak için bir."),
                "keyin_prompt": say("Numaranızı tuşlayıp kare basın."),
                "done_prompt": say("Teşekkürler, sizi arayacağız."),
                "due_in_minutes": 15,
            },
        },
    }
    service, _ = await ivr_service(start_service, sandbox, flow)
    heard = Heard(service)
    caller = await call(world, "+905551119900", "Ece")
    await heard.prompts(2)  # closed, then the offer
    await world.press(caller, "1")
    await asyncio.wait_for(caller.ended.wait(), 15)  # thanked, then hung up
    tasks = await service.runtime.callbacks.list_tasks()
    assert [(t.number, t.did, t.created_by, t.status) for t in tasks] == [
        ("+905551119900", DID, "ivr", "pending")
    ]
    assert 14 * 60 < (tasks[0].due_at - tasks[0].created_at).total_seconds() <= 15 * 60
    runs = await eventually(service.runtime.ivr.store.recent_runs, 5, "the IVR part stored")
    assert runs[0].result == "callback" and runs[0].path == ["hours", "closed", "offer"]
    assert runs[0].detail["number"] == "+905551119900"
    assert runs[0].detail["confirmed"] == "caller_id"
    assert await service.runtime.store.recent_calls(5) == []  # no agent call was made


async def test_a_prompt_file_missing_at_run_time_is_skipped_with_an_alarm(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    flow = {
        "start": "hello",
        "nodes": {
            "hello": {"kind": "play", "prompt": {"files": {"tr": "hello"}}, "next": "agents"},
            "agents": {"kind": "agents", "group": "sales"},
        },
    }
    home = f"{sandbox.pbx.home}/ivr-{secrets.token_hex(4)}"
    host_dir = sandbox.pbx.install.host_path(home)
    host_dir.mkdir(parents=True)
    (host_dir / "hello.wav").write_bytes(b"")  # there when the flow is saved
    service = await start_service(ivr_sounds_dir=str(host_dir), ivr_sounds_pbx_dir=home)
    await service.runtime.ivr.save(DID, flow, "test")
    (host_dir / "hello.wav").unlink()  # gone before the call
    set_phones(world, PhoneBehaviour(answer_after=0.3, listen=False))
    caller = await call(world)
    live = await live_call(service)  # not a dead end: on to the agents
    assert live["ivr"]["group"] == "sales"
    await world.hangup(caller)
    record = await service.ended_call()
    run = await service.runtime.ivr.store.run(record.id)
    assert run is not None and run.alarms == ["ivr_prompt_missing"]
    # In front of people too, naming the DID and the file.
    (alarm,) = [a for a in service.runtime.alarms.latest() if a.kind == "ivr_prompt_missing"]
    assert alarm.call_id == record.id and DID in alarm.detail and "hello" in alarm.detail


async def test_a_caller_hanging_up_mid_prompt_is_an_ivr_abandon_without_alarm(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    service, _ = await ivr_service(start_service, sandbox, menu_flow())
    heard = Heard(service)
    caller = await call(world)
    await heard.prompts(1)  # the greeting is playing
    await world.hangup(caller)

    async def stored() -> Any:
        runs = await service.runtime.ivr.store.recent_runs()
        return runs[0] if runs else None

    run = await eventually(stored, 10, "the IVR part to be stored")
    # The greeting's playback ends with the hangup, just before the hangup event: the
    # walker may have stepped into the menu (never played) by then.
    assert run.result == "abandoned" and run.path[0] == "greeting" and run.alarms == []
    assert service.runtime.alarms.latest() == []
    assert await service.runtime.store.recent_calls(5) == []
    figures = await service.runtime.ivr.store.figures(run.started_at, datetime.now(UTC))
    assert figures["dids"][0]["abandoned"] == 1


async def test_after_the_ivr_caller_and_agent_hear_each_other_and_the_call_is_recorded(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    flow = {
        "start": "greeting",
        "nodes": {
            "greeting": {"kind": "play", "prompt": say("İyi günler."), "next": "agents"},
            "agents": {"kind": "agents"},
        },
    }
    service, _ = await ivr_service(start_service, sandbox, flow)
    set_phones(world, PhoneBehaviour(answer_after=0.4, tone_hz=AGENT_TONE))
    caller = await world.call(DID, "+905551112244", "Can", tone_hz=CALLER_TONE)

    async def talking() -> bool:
        calls = service.runtime.live_calls()
        return bool(calls) and calls[0]["phase"] == "talking"

    await eventually(talking, 20, "an agent to answer after the greeting")
    await asyncio.sleep(2.5)  # talk
    await world.hangup(caller)
    record = await service.ended_call()
    assert record.outcome == "answered"
    phone = next(iter(world.phone_legs.values()))[0]
    await asyncio.wait_for(phone.ended.wait(), 5)
    await eventually(lambda: settled(world.heard(caller)), what="the caller's recording")
    await eventually(lambda: settled(world.heard(phone)), what="the phone's recording")
    # The caller heard the greeting, ringback, then the agent; the agent heard the caller
    # (it did not when the in-band ringback went on, nor, 1 run in 4, when the bridge
    # started as a native RTP bridge); the call's recording holds both voices.
    assert AGENT_TONE in tones_heard(world.heard(caller), TONES)
    assert tones_heard(world.heard(phone), TONES) == {CALLER_TONE}
    kept = await service.checked_recording(record.id)
    assert kept.status == "complete", kept.detail
    assert tones_heard(service.recording_file(kept), TONES) == {CALLER_TONE, AGENT_TONE}


async def settled(path: Path) -> bool:
    """A wav Asterisk has finished: present and its size stable for a moment."""
    if not path.exists():
        return False
    size = path.stat().st_size
    await asyncio.sleep(0.2)
    return path.stat().st_size == size


def ends_flow(**end: Any) -> dict[str, Any]:
    return {
        "start": "menu",
        "nodes": {
            "menu": {
                "kind": "menu",
                "prompt": say("Geri arama için bir, mesaj için iki, merkez için üç."),
                "choices": {"1": {"next": "callback"}, "2": {"next": "vm"}, "3": {"next": "ext"}},
                "default": "callback",
            },
            "callback": {
                "kind": "callback",
                "prompt": say("Bu numara için bir."),
                "keyin_prompt": say("Numaranızı tuşlayıp kare basın."),
                "due_in_minutes": 5,
            },
            "vm": {"kind": "voicemail", "prompt": say("Sinyal sesinden sonra."), "max_s": 10},
            "ext": {"kind": "external", "number": "+905321110000"},
        },
    }


async def test_an_anonymous_caller_keys_a_number_for_the_callback(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    service, _ = await ivr_service(start_service, sandbox, ends_flow())
    heard = Heard(service)
    caller = await world.call(DID, "", "", tone_hz=None, listen=False)  # no Caller ID
    await heard.prompts(1)
    await world.press(caller, "1")
    await heard.prompts(2)  # "key your number": there is no Caller ID to confirm
    await world.press(caller, "05321234567#")
    await asyncio.wait_for(caller.ended.wait(), 15)
    tasks = await eventually(service.runtime.callbacks.list_tasks, 5, "the callback task")
    assert [(t.number, t.created_by) for t in tasks] == [("+905321234567", "ivr")]
    runs = await eventually(service.runtime.ivr.store.recent_runs, 5, "the IVR part stored")
    assert runs[0].keys == "105321234567#" and runs[0].detail["confirmed"] == "keyed"


async def test_voicemail_is_recorded_and_becomes_a_task(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    service, _ = await ivr_service(start_service, sandbox, ends_flow())
    heard = Heard(service)
    caller = await world.call(DID, "+905551113300", "Oya", tone_hz=None, listen=False)
    await heard.prompts(1)
    await world.press(caller, "2")
    await heard.prompts(2)  # "after the tone"

    async def prompt_over() -> bool:
        return len(heard.finished) >= 2

    await eventually(prompt_over, 10, "the voicemail prompt to end")
    await world.rest.play(caller.channel_id, f"tone:{CALLER_TONE}")  # the message
    await asyncio.sleep(2.0)
    await world.hangup(caller)
    runs = await eventually(service.runtime.ivr.store.recent_runs, 15, "the IVR part stored")
    assert runs[0].result == "voicemail"
    name = runs[0].detail["recording"]
    recording = sandbox.pbx.recordings_dir / f"{name}.wav"
    await eventually(lambda: settled(recording), 5, "the voicemail file")
    assert CALLER_TONE in tones_heard(recording, TONES)
    assert duration_s(recording) > 1.0
    tasks = await service.runtime.callbacks.list_tasks()
    assert [(t.number, t.created_by, t.id) for t in tasks] == [
        ("+905551113300", "voicemail", runs[0].detail["callback_id"])
    ]


async def test_an_external_number_is_dialled_and_bridged(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    service, _ = await ivr_service(start_service, sandbox, ends_flow())
    heard = Heard(service)
    world.set_customer("+905321110000", PhoneBehaviour(answer_after=0.5, tone_hz=AGENT_TONE))
    caller = await call(world)
    await heard.prompts(1)
    await world.press(caller, "3")

    async def answered() -> bool:
        legs = world.customer_legs.get("905321110000", [])
        return bool(legs) and legs[0].answered.is_set()

    await eventually(answered, 10, "the external number to answer")
    await asyncio.sleep(1.0)
    await world.hangup(caller)
    runs = await eventually(service.runtime.ivr.store.recent_runs, 15, "the IVR part stored")
    assert runs[0].result == "external"
    assert runs[0].detail == {"number": "+905321110000", "status": "answered"}
    await asyncio.wait_for(world.customer_legs["905321110000"][0].ended.wait(), 5)


async def test_a_menu_an_admin_adds_in_the_api_is_heard_on_the_next_call(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    home = f"{sandbox.pbx.home}/ivr-{secrets.token_hex(4)}"
    service = await start_service(
        ivr_sounds_dir=str(sandbox.pbx.install.host_path(home)), ivr_sounds_pbx_dir=home
    )
    heard = Heard(service)
    await ensure_user(service.runtime.store, "boss", "a long admin password", "admin")
    set_phones(world, PhoneBehaviour(answer_after=None, listen=False))
    # No flow yet: the DID rings the agents at once, as before the IVR existed.
    first = await call(world, "+905551114400", "Sevgi")
    await asyncio.wait_for(first.rang.wait(), 5)
    assert not first.answered.is_set() and heard.started == []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        login = {"username": "boss", "password": "a long admin password"}
        async with http.post(f"{service.url}/login", json=login) as response:
            csrf = (await response.json())["csrf_token"]
        async with http.put(
            f"{service.url}/api/admin/ivr/flows/{DID}",
            json=menu_flow(),
            headers={"X-CSRF-Token": csrf},
        ) as response:
            assert response.status == 200, await response.text()
    await service.runtime.ivr.rendered()
    # The next call hears the greeting and the menu; the call in progress is left alone.
    second = await call(world, "+905551114411", "Tarık")
    await heard.prompts(2)
    await world.press(second, "1")
    calls = await eventually(lambda: _two_calls(service), 15, "both calls with the agents")
    by_number = {c["caller_number"]: c for c in calls}
    assert by_number["+905551114400"]["ivr"] is None
    assert by_number["+905551114411"]["tag"] == "sales"
    assert not first.answered.is_set()


async def _two_calls(service: RunningService) -> list[dict[str, Any]] | None:
    calls = service.runtime.live_calls()
    return calls if len(calls) == 2 else None
