"""Outbound callbacks against a real PBX, measured from the world side (the customer's).

The service runs a fast cadence (200 ms on / 200 ms off: 0.4 s a ring), so 5 rings
take 2 s. The customer's number is Turkish; the policy names its cadence, so the
customer's country does not choose it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from telephony.ari import AriRest
from telephony.calls.service import utc_now
from telephony.sandbox.pair import Sandbox
from telephony.store.callbacks import CallbackRecord
from telephony.world.controller import Leg, PhoneBehaviour, World

from .conftest import RunningService, StartService, eventually, set_phones

FAST = {"fast": {"segments_ms": [200, 200]}}  # cycle 0.4 s
DID = "908501234567"


def rings(**policy: Any) -> dict[str, Any]:
    defaults = {
        "cadence": "fast",
        "max_rings": 6,
        "agent_rings": 6,
        "max_rings_outbound": 5,
        "auto_pause_on_miss": False,
    }
    return {"default": {**defaults, **policy}, "custom_cadences": FAST}


async def _callback(service: RunningService, number: str) -> CallbackRecord:
    return await service.runtime.callbacks.create(
        number=number, did=DID, due_at=utc_now(), max_attempts=3, created_by="test"
    )


async def _settled(service: RunningService, task_id: int) -> CallbackRecord:
    async def check() -> CallbackRecord | None:
        task = await service.runtime.callbacks.get(task_id)
        return task if task is not None and task.attempts > 0 else None

    found: CallbackRecord = await eventually(check, timeout=15, what="the attempt to be stored")
    return found


async def _customer(world: World, number: str) -> Leg:
    async def leg() -> Leg | None:
        legs = world.customer_legs.get(number.lstrip("+"), [])
        return legs[-1] if legs else None

    found: Leg = await eventually(leg, timeout=8, what="the customer's phone to ring")
    return found


async def test_customer_never_answering_is_hung_up_after_five_rings_and_rescheduled(
    world: World, start_service: StartService
) -> None:
    service = await start_service(rings=rings())
    number = "+905551117701"
    world.set_customer(number, PhoneBehaviour(answer_after=None, listen=False))
    task = await _callback(service, number)
    leg = await _customer(world, number)
    await asyncio.wait_for(leg.ended.wait(), 10)
    assert leg.rang_at is not None and leg.ended_at is not None
    rang_for = (leg.ended_at - leg.rang_at).total_seconds()
    assert abs(rang_for - 2.0) < 0.25, rang_for  # 5 rings of 0.4 s
    assert not leg.answered.is_set()
    after = await _settled(service, task.id)
    assert (after.status, after.attempts, after.last_outcome, after.last_rings) == (
        "pending",
        1,
        "no_answer",
        5.0,
    )
    retry_in = after.due_at - utc_now()
    assert timedelta(hours=47, minutes=59) < retry_in <= timedelta(hours=48)
    assert all(a["status"] == "available" for a in service.runtime.presence.snapshot())


async def test_customer_answering_gets_an_agent_bridged_and_stored(
    world: World, start_service: StartService, sandbox: Sandbox
) -> None:
    service = await start_service(rings=rings())
    number = "+905551117702"
    world.set_customer(number, PhoneBehaviour(answer_after=0.5, tone_hz=440))
    set_phones(world, PhoneBehaviour(answer_after=0.3, tone_hz=1000))
    task = await _callback(service, number)
    customer = await _customer(world, number)
    await asyncio.wait_for(customer.answered.wait(), 10)
    after = await _settled(service, task.id)
    assert after.status == "done" and after.last_outcome == "answered"
    assert after.handled_by in ("ayse", "mehmet") and after.last_call_id is not None
    assert after.last_rings is not None and 0.5 <= after.last_rings < 3.0
    pbx = sandbox.pbx
    async with AriRest(pbx.ari_url, pbx.ari_username, pbx.ari_password) as rest:
        bridge = await rest.get_bridge(after.last_call_id)
        assert len(bridge.channels) == 2
        assert f"{after.last_call_id}-customer" in bridge.channels
    busy = {a["id"]: a["status"] for a in service.runtime.presence.snapshot()}
    assert busy[after.handled_by] == "busy"
    await asyncio.sleep(1.0)
    await world.hangup(customer)
    phone = world.phone_legs["2001" if after.handled_by == "ayse" else "2002"][-1]
    await asyncio.wait_for(phone.ended.wait(), 5)  # the agent's leg ended too

    async def agent_free() -> bool:
        return all(a["status"] == "available" for a in service.runtime.presence.snapshot())

    await eventually(agent_free, what="the agent to be free again")
    recording = sandbox.pbx.recordings_dir / f"{after.last_call_id}.wav"
    await eventually(_exists(recording), what="the bridge recording")


async def test_no_agent_free_plays_an_apology_and_retries_soon(
    world: World, start_service: StartService
) -> None:
    service = await start_service(rings=rings())
    for agent in ("ayse", "mehmet"):
        await service.runtime.presence.pause(agent, "break", "test")
    number = "+905551117703"
    world.set_customer(number, PhoneBehaviour(answer_after=0.3, tone_hz=None))
    task = await _callback(service, number)
    customer = await _customer(world, number)
    await asyncio.wait_for(customer.answered.wait(), 10)
    after = await _settled(service, task.id)
    assert (after.status, after.last_outcome) == ("pending", "no_agent")
    retry_in = after.due_at - utc_now()
    assert timedelta(minutes=9) < retry_in <= timedelta(minutes=10)
    await asyncio.wait_for(customer.ended.wait(), 10)  # hung up after the apology
    assert world.phone_legs == {}


def _exists(path: Any) -> Any:
    async def check() -> bool:
        return bool(path.exists() and path.stat().st_size > 0)

    return check
