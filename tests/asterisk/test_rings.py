"""Rings against a real PBX, measured from the world side (what the caller experienced).

The service runs a fast test cadence (500 ms on / 500 ms off: one ring per second);
one test runs Turkey's real cadence (1 s on / 4 s off).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from telephony.auth import ensure_user
from telephony.world.controller import Leg, PhoneBehaviour, World

from .conftest import StartService, eventually, set_phones
from .proxy import CuttableProxy

FAST = {"fast": {"segments_ms": [500, 500]}}  # cycle 1 s


def rings(**policy: Any) -> dict[str, Any]:
    defaults = {"cadence": "fast", "auto_pause_on_miss": False}
    return {"default": {**defaults, **policy}, "custom_cadences": FAST}


async def test_agent_answering_at_ring_two_is_stored_as_ring_two(
    world: World, start_service: StartService
) -> None:
    service = await start_service(rings=rings(max_rings=3, agent_rings=3))
    set_phones(world, PhoneBehaviour(answer_after=1.3))
    caller = await world.call("908501234567", "+905551113344", "Lale")
    await asyncio.wait_for(caller.answered.wait(), 10)
    await asyncio.sleep(0.3)
    await world.hangup(caller)
    record = await service.ended_call()
    assert record.cadence == "fast" and record.max_rings == 3
    assert record.answered_ring is not None and 2.0 <= record.answered_ring < 3.0
    attempts = await service.runtime.store.attempts(record.id)
    assert [a.outcome for a in attempts] == ["answered"]


async def test_agent_never_answering_is_left_after_agent_rings(
    world: World, start_service: StartService
) -> None:
    service = await start_service(rings=rings(max_rings=6, agent_rings=2))
    world.set_phone("2001", PhoneBehaviour(answer_after=None))  # Ayşe is offered first
    world.set_phone("2002", PhoneBehaviour(answer_after=0.5))
    caller = await world.call("908501234567", "+905551113355", "Mert")
    await asyncio.wait_for(caller.answered.wait(), 10)
    await world.hangup(caller)
    record = await service.ended_call()
    attempts = await service.runtime.store.attempts(record.id)
    assert [(a.agent_id, a.outcome) for a in attempts] == [
        ("ayse", "no_answer"),
        ("mehmet", "answered"),
    ]
    rang = (attempts[0].ended_at - attempts[0].started_at).total_seconds()
    assert abs(rang - 2.0) < 0.25  # agent_rings = 2 rings of 1 s


async def test_nobody_answering_escalates_exactly_at_the_deadline(
    world: World, start_service: StartService
) -> None:
    # Nobody answers; at 3 rings the system answers the caller and holds them (queue).
    service = await start_service(rings=rings(max_rings=3, agent_rings=2))
    set_phones(world, PhoneBehaviour(answer_after=None))
    caller = await world.call("908501234567", "+905551113366", "Nur")
    await asyncio.wait_for(caller.answered.wait(), 10)
    heard_ringing_for = _seconds(caller, "rang_at", "answered_at")
    assert abs(heard_ringing_for - 3.0) < 0.25, heard_ringing_for  # 3 rings of 1 s
    live = await eventually(lambda: _live(service), what="the queued call")
    assert live["system_answered"] and live["escalations"][0]["step"] == "queue"
    # In the queue the agents keep being offered the call; one answers at last.
    world.set_phone("2002", PhoneBehaviour(answer_after=0.2))
    await eventually(lambda: _talking(service), timeout=15, what="an agent to take the call")
    await world.hangup(caller)
    record = await service.ended_call()
    assert record.outcome == "answered"
    assert record.system_answered_at is not None and record.answered_ring is None
    assert record.escalations and record.escalations[0]["step"] == "queue"


async def test_the_callers_rings_count_from_the_180_however_late_the_service_hears_of_it(
    world: World, start_service: StartService, proxy: CuttableProxy
) -> None:
    """Everything Asterisk sends reaches the service 0.4 s late (a loaded host, a slow
    link): the dialplan's 180 is stamped by Asterisk, so the caller still hears 3 rings,
    not 3.4. Counting from the service's own receipt (or its own ring request) would be
    0.4 s late here."""
    service = await start_service(
        ari_url=f"http://127.0.0.1:{proxy.port}", rings=rings(max_rings=3, agent_rings=3)
    )
    set_phones(world, PhoneBehaviour(answer_after=None))
    proxy.delay_s = 0.4
    caller = await world.call("908501234567", "+905551113377", "Sevgi")
    await asyncio.wait_for(caller.answered.wait(), 10)
    heard_ringing_for = _seconds(caller, "rang_at", "answered_at")
    assert abs(heard_ringing_for - 3.0) < 0.25, heard_ringing_for
    await world.hangup(caller)
    record = await service.ended_call()
    assert record.escalations and record.escalations[0]["step"] == "queue"
    assert record.ringing_at == record.arrived_at  # both StasisStart's stamp


async def test_an_agents_rings_count_from_their_phones_ringing_however_late_it_is_heard(
    world: World, start_service: StartService, proxy: CuttableProxy
) -> None:
    """The same 0.4 s lag: the agent's phone rings its 2 rings (the Dial event's own
    stamp), not 2.4, before the next agent is tried."""
    await start_service(
        ari_url=f"http://127.0.0.1:{proxy.port}", rings=rings(max_rings=6, agent_rings=2)
    )
    world.set_phone("2001", PhoneBehaviour(answer_after=None))  # Ayşe is offered first
    world.set_phone("2002", PhoneBehaviour(answer_after=0.5))
    proxy.delay_s = 0.4
    caller = await world.call("908501234567", "+905551113388", "Tuna")
    await asyncio.wait_for(caller.answered.wait(), 15)
    phone = world.phone_legs["2001"][0]
    await asyncio.wait_for(phone.ended.wait(), 5)
    rang = _seconds(phone, "rang_at", "ended_at")
    assert abs(rang - 2.0) < 0.25, rang
    await world.hangup(caller)


async def test_ring_all_escalation_rings_everyone_and_first_answer_wins(
    world: World, start_service: StartService
) -> None:
    service = await start_service(
        rings=rings(
            max_rings=3,
            agent_rings=2,
            escalation=[{"kind": "ring_all"}, {"kind": "queue"}],
        )
    )
    world.set_phone("2001", PhoneBehaviour(answer_after=None))
    world.set_phone("2002", PhoneBehaviour(answer_after=None))
    caller = await world.call("908501234567", "+905551113377", "Oya")
    # Ayşe rings 2 rings, then Mehmet; at the deadline (3 rings) Ayşe's phone rings
    # again alongside Mehmet's. He answers.
    await eventually(lambda: _ringing_together(world), timeout=6, what="both phones ringing")
    second = world.phone_legs["2002"][-1]
    await world.rest.answer(second.channel_id)
    await asyncio.wait_for(caller.answered.wait(), 5)
    first = world.phone_legs["2001"][-1]
    await asyncio.wait_for(first.ended.wait(), 5)  # Ayşe's phone stopped ringing
    await world.hangup(caller)
    record = await service.ended_call()
    assert record.agent_id == "mehmet" and record.answered_ring is not None
    assert record.escalations and record.escalations[0]["step"] == "ring_all"
    attempts = await service.runtime.store.attempts(record.id)
    assert sorted((a.agent_id, a.outcome) for a in attempts) == [
        ("ayse", "cancelled"),
        ("ayse", "no_answer"),
        ("mehmet", "answered"),
    ]


async def test_caller_leaving_while_ringing_stops_every_phone_and_stores_the_ring(
    world: World, start_service: StartService
) -> None:
    service = await start_service(rings=rings(max_rings=6, agent_rings=3))
    set_phones(world, PhoneBehaviour(answer_after=None))
    caller = await world.call("908501234567", "+905551113388", "Pelin")
    phone = await eventually(lambda: _first_phone(world), what="a phone ringing")
    await asyncio.sleep(1.5)
    await world.hangup(caller)
    await asyncio.wait_for(phone.ended.wait(), 5)
    record = await service.ended_call()
    assert record.outcome == "abandoned"
    assert record.abandoned_ring is not None and 2.0 <= record.abandoned_ring < 3.2
    attempts = await service.runtime.store.attempts(record.id)
    assert [a.outcome for a in attempts] == ["cancelled"]


async def test_turkish_cadence_three_rings_take_fifteen_seconds(
    world: World, start_service: StartService
) -> None:
    # A real national cadence: Turkey, 1 s on / 4 s off; 3 rings end at 15 s.
    service = await start_service(
        rings={"default": {"cadence": "tr", "max_rings": 3, "agent_rings": 3}}
    )
    set_phones(world, PhoneBehaviour(answer_after=None))
    caller = await world.call("908501234567", "+905551113399", "Rüya", listen=False)
    await asyncio.wait_for(caller.answered.wait(), 25)
    heard_ringing_for = _seconds(caller, "rang_at", "answered_at")
    assert abs(heard_ringing_for - 15.0) < 0.3, heard_ringing_for
    await world.hangup(caller)
    record = await service.ended_call()
    # The system answered at the deadline; the caller left the queue before an agent.
    assert record.cadence == "tr" and record.outcome == "abandoned"
    assert record.system_answered_at is not None


def _seconds(leg: Leg, start: str, end: str) -> float:
    a, b = getattr(leg, start), getattr(leg, end)
    assert a is not None and b is not None, (start, a, end, b)
    return float((b - a).total_seconds())


async def _live(service: Any) -> dict[str, Any] | None:
    calls = service.runtime.live_calls()
    return calls[0] if calls and calls[0]["system_answered"] else None


async def _talking(service: Any) -> bool:
    calls = service.runtime.live_calls()
    return bool(calls and calls[0]["phase"] == "talking" and calls[0]["answered_at"])


async def _first_phone(world: World) -> Leg | None:
    legs = [leg for legs in world.phone_legs.values() for leg in legs]
    return legs[0] if legs else None


async def _ringing_together(world: World) -> bool:
    ringing = [
        legs[-1]
        for legs in world.phone_legs.values()
        if legs and legs[-1].rang.is_set() and not legs[-1].ended.is_set()
    ]
    return len(ringing) >= 2


async def test_a_policy_change_mid_call_leaves_that_call_alone(
    world: World, start_service: StartService
) -> None:
    service = await start_service(rings=rings(max_rings=4, agent_rings=2))
    await ensure_user(service.runtime.store, "boss", "a long admin password", "admin")
    set_phones(world, PhoneBehaviour(answer_after=None))
    first = await world.call("908501234567", "+905551114400", "Sevgi", listen=False)
    await asyncio.wait_for(first.rang.wait(), 5)
    # unsafe=True: keep cookies for an IP address host (127.0.0.1).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        login = {"username": "boss", "password": "a long admin password"}
        async with http.post(f"{service.url}/login", json=login) as response:
            csrf = (await response.json())["csrf_token"]
        change: dict[str, Any] = {
            "default": {"cadence": "fast", "max_rings": 2, "agent_rings": 2},
            "custom_cadences": FAST,
        }
        headers = {"X-CSRF-Token": csrf}
        async with http.put(
            f"{service.url}/api/admin/rings", json=change, headers=headers
        ) as response:
            assert response.status == 200, await response.text()
    # The call in progress keeps its 4 rings; the next call gets 2.
    await asyncio.wait_for(first.answered.wait(), 10)
    assert abs(_seconds(first, "rang_at", "answered_at") - 4.0) < 0.25
    second = await world.call("908501234567", "+905551114411", "Tarık", listen=False)
    await asyncio.wait_for(second.answered.wait(), 10)
    assert abs(_seconds(second, "rang_at", "answered_at") - 2.0) < 0.25


async def test_agent_letting_a_call_ring_out_is_auto_paused_with_a_reason(
    world: World, start_service: StartService
) -> None:
    service = await start_service(rings=rings(max_rings=6, agent_rings=1, auto_pause_on_miss=True))
    world.set_phone("2001", PhoneBehaviour(answer_after=None))  # Ayşe lets it ring out
    world.set_phone("2002", PhoneBehaviour(answer_after=0.3))
    caller = await world.call("908501234567", "+905551114422", "Umut", listen=False)
    await asyncio.wait_for(caller.answered.wait(), 10)
    await world.hangup(caller)
    await service.ended_call()
    agents = {a["id"]: a for a in service.runtime.presence.snapshot()}
    assert agents["ayse"]["status"] == "paused" and agents["ayse"]["pause_reason"] == "missed call"
    assert agents["mehmet"]["status"] == "available"
    # The next call is not offered to Ayşe until she (or a supervisor) is back.
    world.set_phone("2001", PhoneBehaviour(answer_after=0.3))
    second = await world.call("908501234567", "+905551114433", "Veli", listen=False)
    await asyncio.wait_for(second.answered.wait(), 10)
    assert len(world.phone_legs["2001"]) == 1  # Ayşe's phone did not ring again
    await world.hangup(second)
    record = await service.ended_call(number="+905551114433")
    assert record.agent_id == "mehmet"


async def test_queued_callers_hear_their_place_and_music_resumes(
    world: World, start_service: StartService
) -> None:
    service = await start_service(
        rings=rings(
            max_rings=1,
            agent_rings=1,
            escalation=[{"kind": "queue", "announce_every_s": 1.0}],
        )
    )
    set_phones(world, PhoneBehaviour(answer_after=None))
    caller = await world.call("908501234567", "+905551114455", "Yusuf", listen=False)
    await asyncio.wait_for(caller.answered.wait(), 10)  # the system answered at ring 1

    async def announced_twice() -> bool:
        calls = service.runtime.live_calls()
        return bool(calls and calls[0]["announcements"] >= 2)

    # Two announcements prove the first finished and the music came back in between.
    await eventually(announced_twice, timeout=25, what="two queue announcements")
    world.set_phone("2002", PhoneBehaviour(answer_after=0.2))
    await eventually(lambda: _talking(service), timeout=15, what="an agent to take the call")
    await world.hangup(caller)
    record = await service.ended_call()
    assert record.outcome == "answered" and record.system_answered_at is not None
