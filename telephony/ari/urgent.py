"""Time-critical ARI requests first: a caller's answer, a leg's hangup.

Rings line up: 200 callers dialled in one burst reach their deadlines in one burst,
and each escalation sends an answer, then a recording's snoop and record and music.
Asterisk's threads (its HTTP server's, its SIP stack's) take them as they come, so the
last callers' answers wait behind the first callers' recordings. Here an ordinary
request waits while an urgent one is in flight, never longer than `max_hold_s` (a
steady stream of urgent requests must not starve the rest).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class UrgentFirst:
    def __init__(self, max_hold_s: float = 0.2) -> None:
        self._max_hold_s = max_hold_s
        self._in_flight = 0
        self._clear = asyncio.Event()
        self._clear.set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextlib.asynccontextmanager
    async def urgent(self) -> AsyncIterator[None]:
        self._in_flight += 1
        self._clear.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._clear.set()

    async def ordinary(self) -> None:
        """Return once no urgent request is in flight, or after `max_hold_s`."""
        if self._in_flight == 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._max_hold_s):
                await self._clear.wait()
