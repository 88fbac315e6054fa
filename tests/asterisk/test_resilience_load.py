"""Faults with 20 calls up (talking, on hold, ringing, queued): the ARI socket cut for
5 s, and the service killed mid-calls. No call is dropped, every call is known again
right after the reconnect, timers that fell due meanwhile act, every call row is
completed and every talked call's recording is complete."""

from __future__ import annotations

import asyncio
from typing import Any

from telephony.sandbox.pair import agent_endpoint
from telephony.world.controller import Leg, PhoneBehaviour, World

from .conftest import (
    AGENT_TONE,
    CALLER_TONE,
    RunningService,
    SpawnService,
    StartService,
    eventually,
)
from .proxy import CuttableProxy

DID = "908501234567"
TALKING, RINGING = 12, 8  # 20 calls up
HELD = 4
ANSWERING = [str(2001 + i) for i in range(TALKING)]
SILENT = [str(2001 + TALKING + i) for i in range(4)]  # ring for ever: 4 calls ring, 4 wait
AGENTS = [
    {"id": f"a{phone}", "name": f"Agent {phone}", "endpoint": agent_endpoint(phone)}
    for phone in ANSWERING + SILENT
]
RINGS = {
    "default": {
        "cadence": "fast",
        "max_rings": 6,  # 6 s: the ringing callers' deadline falls inside the cut
        "agent_rings": 6,
        "auto_pause_on_miss": False,
        "escalation": [{"kind": "queue", "announce_every_s": 60}],
        "hold": {"warn_after_s": 2, "max_s": 4},  # the holds' maximum falls inside the cut
    },
    "custom_cadences": {"fast": {"segments_ms": [500, 500]}},
}


async def twenty_calls_up(world: World, service: RunningService | None = None) -> list[Leg]:
    """12 callers talking, 8 ringing; checked in the service when it runs in this process,
    else from the world's side (answered; ringing)."""
    for phone in ANSWERING:
        world.set_phone(phone, PhoneBehaviour(answer_after=0.3, tone_hz=AGENT_TONE))
    for phone in SILENT:
        world.set_phone(phone, PhoneBehaviour(answer_after=None, listen=False))
    talking = []
    for i in range(TALKING):
        caller = await world.call(DID, f"+90555200{i:04d}", f"Load {i}", tone_hz=CALLER_TONE)
        await asyncio.wait_for(caller.answered.wait(), 15)
        talking.append(caller)
    if service is not None:
        await eventually(lambda: _count(service, "talking", TALKING), 15, "all talking")
    # Callers speak (a tone) all along, as real phones send audio all along: a queued
    # caller's recording holds their voice.
    ringing = [
        await world.call(DID, f"+90555300{i:04d}", f"Ring {i}", tone_hz=CALLER_TONE, listen=False)
        for i in range(RINGING)
    ]
    if service is not None:
        await eventually(lambda: _count(service, None, TALKING + RINGING), what="20 calls up")
    for leg in ringing:
        await asyncio.wait_for(leg.rang.wait(), 10)
    return talking + ringing


async def test_socket_cut_for_5_s_with_20_calls_up(
    world: World, start_service: StartService, proxy: CuttableProxy
) -> None:
    service = await start_service(
        ari_url=f"http://127.0.0.1:{proxy.port}", agents=AGENTS, rings=RINGS, max_wait_s=120
    )
    callers = await twenty_calls_up(world, service)
    calls = service.runtime.live_calls()
    talking = [c for c in calls if c["phase"] == "talking"]
    assert service.runtime.calls is not None
    for call in talking[:HELD]:
        assert service.runtime.calls.request_hold(call["id"], True, "test")
    await eventually(lambda: _held(service, HELD), what="4 calls on hold")

    # From now on the desk phones let new offers ring: the agent freed by the hangup
    # below must not pick up a queued caller and make the count below a race.
    for phone in ANSWERING:
        world.set_phone(phone, PhoneBehaviour(answer_after=None, listen=False))
    await proxy.cut()
    gone = callers[TALKING - 1]  # a talking caller hangs up while we are away
    await world.hangup(gone)
    await asyncio.sleep(5.0)
    proxy.restore()
    await service.wait_connected()  # after the stream's backoff (jittered, growing)

    async def known_again() -> bool:
        live = service.runtime.live_calls()
        return len(live) == TALKING + RINGING - 1

    await eventually(known_again, timeout=1.0, what="every call known again within 1 s")
    # Timers that fell due during the cut acted: the holds' maximum put the agents back,
    # the ringing callers' deadline queued them (the system answered, music on).
    await eventually(lambda: _held(service, 0), timeout=5, what="holds returned")
    await eventually(lambda: _queued(service, RINGING), timeout=15, what="ringing callers queued")
    dropped = [leg for leg in callers if leg is not gone and leg.ended.is_set()]
    assert dropped == [], "a call was dropped"
    await _end_all_and_check(world, service, callers)


async def test_service_killed_with_20_calls_up_is_restarted_without_loss(
    world: World, start_service: StartService, spawn_service: SpawnService
) -> None:
    first = await spawn_service(agents=AGENTS, rings=RINGS, max_wait_s=120)
    callers = await twenty_calls_up(world)
    await asyncio.sleep(1.0)  # every talking call's recording started
    await first.kill_9()
    await asyncio.sleep(1.0)
    second = await start_service(agents=AGENTS, rings=RINGS, max_wait_s=120)
    await eventually(
        lambda: _count(second, None, TALKING + RINGING), what="every call adopted or re-offered"
    )
    assert [leg for leg in callers if leg.ended.is_set()] == []
    await _end_all_and_check(world, second, callers)


async def _end_all_and_check(world: World, service: RunningService, callers: list[Leg]) -> None:
    for caller in callers:
        if not caller.ended.is_set():
            await world.hangup(caller)
    store = service.runtime.store

    async def all_closed() -> bool:
        return not service.runtime.writes_pending() and not await store.open_calls()

    await eventually(all_closed, timeout=15, what="every call row completed")
    answered = [c for c in await store.recent_calls(limit=50) if c.answered_at is not None]
    assert len(answered) >= TALKING
    for call in answered:
        kept = await service.checked_recording(call.id, timeout=30)
        assert kept.status == "complete", (call.id, kept.status, kept.detail)


async def _count(service: RunningService, phase: str | None, n: int) -> bool:
    live = service.runtime.live_calls()
    return len([c for c in live if phase is None or c["phase"] == phase]) == n


async def _held(service: RunningService, n: int) -> bool:
    return len([c for c in service.runtime.live_calls() if c["hold"]]) == n


async def _queued(service: RunningService, n: int) -> bool:
    live: list[dict[str, Any]] = service.runtime.live_calls()
    return len([c for c in live if c["system_answered"] and c["phase"] != "talking"]) == n
