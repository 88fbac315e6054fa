"""The service's process freezes its start-up heap, so full collections skip it."""

from __future__ import annotations

import gc

from aiohttp import web

from telephony.heap import freeze_startup_heap


async def test_the_heap_made_at_start_is_frozen_and_garbage_still_collected() -> None:
    try:
        await freeze_startup_heap(web.Application())
        assert gc.get_freeze_count() > 0
        cycle: list[object] = []
        cycle.append(cycle)  # made after the freeze: still the collector's
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()  # this test process starts many services
