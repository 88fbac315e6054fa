"""Nothing a call leaves behind outlives it (the soak's memory, made exact): after a
stream of answered, held and abandoned calls has ended and every recording is checked,
no call session, pop track or per-call entry is left anywhere in the service."""

from __future__ import annotations

import asyncio
import gc

from telephony.calls.session import CallSession
from telephony.world.controller import PhoneBehaviour, World

from .conftest import AGENT_TONE, CALLER_TONE, StartService, eventually, set_phones

DID = "908501234567"
CALLS = 12


async def test_no_per_call_state_outlives_its_calls(
    world: World, start_service: StartService
) -> None:
    service = await start_service()
    set_phones(world, PhoneBehaviour(answer_after=0.3, tone_hz=AGENT_TONE))
    for i in range(CALLS):
        caller = await world.call(DID, f"+90555400{i:04d}", f"Leak {i}", tone_hz=CALLER_TONE)
        if i % 4 == 3:  # abandoned while ringing
            await asyncio.sleep(0.1)
            await world.hangup(caller)
            continue
        await asyncio.wait_for(caller.answered.wait(), 10)
        if i % 4 == 1:
            live = service.runtime.live_calls()
            assert service.runtime.calls is not None and live
            service.runtime.calls.request_hold(live[0]["id"], True, "test")
            await asyncio.sleep(0.5)
            service.runtime.calls.request_hold(live[0]["id"], False, "test")
        await asyncio.sleep(0.5)
        await world.hangup(caller)
        await eventually(lambda: _idle(service), what="the call over")

    runtime = service.runtime
    assert runtime.recorder is not None
    await runtime.recorder.wait_for_checks()
    store = runtime.store
    answered = [c for c in await store.recent_calls(limit=50) if c.answered_at is not None]
    for call in answered:
        assert (await service.checked_recording(call.id, timeout=30)).status == "complete"
    await asyncio.sleep(0.5)  # the last watchers' tasks
    gc.collect()
    calls = runtime.calls
    assert calls is not None
    # This service's sessions only (the suite's earlier services share the process):
    # each holds its service's store writer.
    sessions = [
        o for o in gc.get_objects() if isinstance(o, CallSession) and o._writer is calls._writer
    ]
    # Per-call maps (private: this test is where their emptiness is checked).
    left = {
        "sessions": len(calls._sessions),
        "by_channel": len(calls._by_channel),
        "tasks": len(calls._tasks),
        "pop tracks": len(runtime.push.pops._calls),
        "recording checks": len(runtime.recorder._checks),
        "CallSession objects": len(sessions),
    }
    assert left == dict.fromkeys(left, 0)


async def _idle(service: object) -> bool:
    return not service.runtime.live_calls()  # type: ignore[attr-defined]
