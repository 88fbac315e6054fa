"""UrgentFirst: in a burst of urgent requests, ordinary ones wait (within a cap); a few
urgent requests in flight hold nothing back."""

from __future__ import annotations

import asyncio

import pytest

from telephony.ari.urgent import UrgentFirst


async def test_ordinary_goes_at_once_when_nothing_is_urgent() -> None:
    gate = UrgentFirst(burst=1, max_hold_s=60)
    await asyncio.wait_for(gate.ordinary(), 1)


async def test_ordinary_waits_until_the_burst_is_below_its_size() -> None:
    gate = UrgentFirst(burst=2, max_hold_s=60)
    first_done, second_done = asyncio.Event(), asyncio.Event()

    async def urgent(done: asyncio.Event) -> None:
        async with gate.urgent():
            await done.wait()

    tasks = [asyncio.create_task(urgent(first_done)), asyncio.create_task(urgent(second_done))]
    await asyncio.sleep(0)
    assert gate.in_flight == 2
    waiting = asyncio.create_task(gate.ordinary())
    await asyncio.sleep(0.01)
    assert not waiting.done()  # a burst of 2 is out
    first_done.set()
    await asyncio.wait_for(waiting, 1)  # one out: below a burst of 2
    second_done.set()
    await asyncio.gather(*tasks)
    assert gate.in_flight == 0


async def stuck(gate: UrgentFirst, count: int) -> list[asyncio.Task[None]]:
    """`count` urgent requests in flight that never come back (cancel them)."""
    never = asyncio.Event()

    async def out() -> None:
        async with gate.urgent():
            await never.wait()

    tasks = [asyncio.create_task(out()) for _ in range(count)]
    await asyncio.sleep(0)
    return tasks


async def cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_ordinary_never_waits_longer_than_the_cap() -> None:
    """A stream of urgent requests must not starve the rest."""
    gate = UrgentFirst(burst=1, max_hold_s=0.02)
    tasks = await stuck(gate, 1)
    await asyncio.wait_for(gate.ordinary(), 1)
    await cancel(tasks)
    assert gate.in_flight == 0  # a cancelled urgent request is counted out too


async def test_below_a_burst_nothing_waits() -> None:
    """A steady stream of calls keeps a few urgent requests out: dials go at once."""
    gate = UrgentFirst(burst=8, max_hold_s=60)
    tasks = await stuck(gate, 7)
    assert gate.in_flight == 7
    await asyncio.wait_for(gate.ordinary(), 1)
    await cancel(tasks)


def test_a_burst_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="burst"):
        UrgentFirst(burst=0)
