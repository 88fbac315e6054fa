"""The service process's heap and Python's cycle collector.

A full collection walks every object the process holds, and nearly all of them are
made at start (libraries, phone-number metadata, SQLAlchemy, the web app) and live
as long as the process: measured mid-burst at 50 calls at once, full passes of 56-78
ms, each a stall of every call's timers and pops. Frozen after start, those objects
are left out of every pass; garbage made later is collected as before.
"""

from __future__ import annotations

import gc

from aiohttp import web


async def freeze_startup_heap(app: web.Application) -> None:
    """An aiohttp on_startup hook, added last (after the service is up): collect once,
    then freeze what is left. For the service's own process only (a test process that
    starts many services would keep each one's cycles for good)."""
    gc.collect()
    gc.freeze()
