"""A session's timers: once closed, nothing fires, and the owner they call back is
freed by reference counting (not left to the cycle collector's pauses)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from datetime import UTC, datetime, timedelta

from telephony.calls.timers import SessionTimers

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class Owner:
    def __init__(self) -> None:
        self.fired: list[str] = []
        self.timers = SessionTimers(lambda: T0, lambda key: self.fired.append(key))


async def test_closed_timers_fire_nothing_and_let_their_owner_go() -> None:
    owner = Owner()
    owner.timers.start("deadline", T0 + timedelta(milliseconds=1))
    owner.timers.close()
    owner.timers.start("late", T0)  # an event handled after the end: ignored
    await asyncio.sleep(0.01)
    assert owner.fired == []
    gone = weakref.ref(owner)
    gc.disable()
    try:
        del owner
        assert gone() is None  # no cycle left: freed without a collection
    finally:
        gc.enable()


async def test_open_timers_fire_once_each() -> None:
    owner = Owner()
    owner.timers.start("a", T0)
    owner.timers.start("b", T0)
    owner.timers.start("b", T0)  # started again: replaced, fires once
    await asyncio.sleep(0.01)
    assert sorted(owner.fired) == ["a", "b"]
    owner.timers.close()
