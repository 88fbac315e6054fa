"""A session's named timers: each fires once, calling `fire(key)` (which feeds the
session's own queue); starting a key again replaces it. Inbound calls, callbacks and
IVR runs use the same."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime


def _closed(key: str) -> None:
    """The fire of closed timers: nothing."""


class SessionTimers:
    def __init__(self, clock: Callable[[], datetime], fire: Callable[[str], None]) -> None:
        self._clock = clock
        self._fire = fire
        self._handles: dict[str, asyncio.TimerHandle] = {}

    def start(self, key: str, at: datetime) -> None:
        if self._fire is _closed:
            return
        self.cancel(key)
        delay = max(0.0, (at - self._clock()).total_seconds())
        self._handles[key] = asyncio.get_running_loop().call_later(delay, self._fire, key)

    def cancel(self, key: str) -> None:
        handle = self._handles.pop(key, None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def close(self) -> None:
        """The owner's end: nothing fires again, and `fire` (which holds the owner) is let
        go, so an ended call is freed at once by reference counting. Left to the cycle
        collector, ended calls made most of the garbage of its 2-8 ms passes under load."""
        self.cancel_all()
        self._fire = _closed
