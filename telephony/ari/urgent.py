"""Time-critical ARI requests first, in a burst: a caller's answer, a leg's hangup.

Rings line up: 200 callers dialled in one burst reach their deadlines in one burst,
and 200 agents' limits fall together. Asterisk's threads (its HTTP server's, its SIP
stack's) take requests as they come, so the last callers' answers waited behind the
first callers' recordings, and the last agents' hangups behind the next agents' dials.
Here, while `burst` or more urgent requests are in flight, an ordinary request waits
until fewer are, never longer than `max_hold_s`. Below that (a steady stream of calls,
a few urgent requests out at any time) nothing waits: held there, an agent's dial
waited for other calls' answers and the answer's p99 at 24 calls/s rose by ~100 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class UrgentFirst:
    def __init__(self, burst: int = 8, max_hold_s: float = 0.2) -> None:
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self._burst = burst
        self._max_hold_s = max_hold_s
        self._in_flight = 0
        self._calm = asyncio.Event()  # fewer than `burst` urgent requests in flight
        self._calm.set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextlib.asynccontextmanager
    async def urgent(self) -> AsyncIterator[None]:
        self._in_flight += 1
        if self._in_flight >= self._burst:
            self._calm.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight < self._burst:
                self._calm.set()

    async def ordinary(self) -> None:
        """Return once fewer than `burst` urgent requests are in flight, or after
        `max_hold_s`."""
        if self._calm.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._max_hold_s):
                await self._calm.wait()
