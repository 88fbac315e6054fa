"""UrgentFirst: ordinary requests wait while an urgent one is in flight, within a cap."""

from __future__ import annotations

import asyncio

from telephony.ari.urgent import UrgentFirst


async def test_ordinary_goes_at_once_when_nothing_is_urgent() -> None:
    gate = UrgentFirst(max_hold_s=60)
    await asyncio.wait_for(gate.ordinary(), 1)


async def test_ordinary_waits_for_the_last_urgent_request() -> None:
    gate = UrgentFirst(max_hold_s=60)
    first_done, second_done = asyncio.Event(), asyncio.Event()

    async def urgent(done: asyncio.Event) -> None:
        async with gate.urgent():
            await done.wait()

    tasks = [asyncio.create_task(urgent(first_done)), asyncio.create_task(urgent(second_done))]
    await asyncio.sleep(0)
    assert gate.in_flight == 2
    waiting = asyncio.create_task(gate.ordinary())
    first_done.set()
    await asyncio.sleep(0.01)
    assert not waiting.done()  # one urgent request is still out
    second_done.set()
    await asyncio.wait_for(waiting, 1)
    await asyncio.gather(*tasks)
    assert gate.in_flight == 0


async def test_ordinary_never_waits_longer_than_the_cap() -> None:
    """A stream of urgent requests must not starve the rest."""
    gate = UrgentFirst(max_hold_s=0.02)
    never = asyncio.Event()

    async def stuck() -> None:
        async with gate.urgent():
            await never.wait()

    task = asyncio.create_task(stuck())
    await asyncio.sleep(0)
    await asyncio.wait_for(gate.ordinary(), 1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert gate.in_flight == 0  # a cancelled urgent request is counted out too
