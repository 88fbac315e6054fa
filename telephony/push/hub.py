"""The push hub: publish once, deliver to many, never wait for a browser.

- `publish(topic, type, data)` serialises the message once (`{"type", "id", ...}`,
  ids increasing across the hub) and only enqueues the same text on every subscriber.
- Each `Connection` has a bounded queue and one writer task; the writer is the only
  code that awaits the socket. A connection whose queue is full is closed (the browser
  reconnects and gets a snapshot): a frozen tab never delays anyone else.
- Subscriptions are unsubscribe callables; `Connection.run()` releases them in
  `finally`, whatever ends the connection.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

import structlog

log = structlog.get_logger("telephony.push")

Send = Callable[[str], Awaitable[None]]
Unsubscribe = Callable[[], None]
DEFAULT_QUEUE = 64


def _default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class Connection:
    """One browser: a bounded queue of serialised messages and the writer draining it."""

    def __init__(self, conn_id: str, send: Send, *, max_queue: int = DEFAULT_QUEUE) -> None:
        self.conn_id = conn_id
        self._send = send
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(max_queue)
        self._unsubscribes: list[Unsubscribe] = []
        self.overflowed = False
        self.close_code: int | None = None  # why it was closed, for the socket's close frame
        self.closed = asyncio.Event()
        self.sent = 0

    def push(self, text: str) -> bool:
        """Enqueue; never awaits. False (and the connection closing) when it is too far
        behind."""
        if self.closed.is_set():
            return False
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            self.overflowed = True
            log.warning("push.overflow", conn_id=self.conn_id, queued=self._queue.qsize())
            self.close()
            return False
        return True

    def keep(self, unsubscribe: Unsubscribe) -> None:
        self._unsubscribes.append(unsubscribe)

    def close(self, code: int | None = None) -> None:
        """Stop the writer (it may be stuck in a send: it is cancelled by `run`)."""
        if code is not None and self.close_code is None:
            self.close_code = code
        self.closed.set()

    async def run(self) -> None:
        """The writer: drains the queue into the socket until closed; then releases
        every subscription."""
        writer = asyncio.get_running_loop().create_task(self._write())
        closer = asyncio.get_running_loop().create_task(self.closed.wait())
        try:
            await asyncio.wait({writer, closer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.closed.set()
            for task in (writer, closer):
                task.cancel()
            await asyncio.gather(writer, closer, return_exceptions=True)
            for unsubscribe in self._unsubscribes:
                unsubscribe()
            self._unsubscribes.clear()

    async def _write(self) -> None:
        while True:
            text = await self._queue.get()
            if text is None:
                return
            await self._send(text)
            self.sent += 1


class Hub:
    def __init__(self) -> None:
        self._topics: dict[str, set[Connection]] = {}
        self._ids = itertools.count(1)
        self.serialised = 0  # messages serialised (once each, whatever the audience)

    def next_id(self) -> int:
        return next(self._ids)

    def encode(self, type_: str, data: dict[str, Any]) -> str:
        """A message with the next id, as text (for a snapshot sent to one connection)."""
        self.serialised += 1
        return json.dumps(
            {"type": type_, "id": self.next_id(), **data}, default=_default, ensure_ascii=False
        )

    def subscribe(self, topic: str, connection: Connection) -> Unsubscribe:
        self._topics.setdefault(topic, set()).add(connection)

        def unsubscribe() -> None:
            members = self._topics.get(topic)
            if members is not None:
                members.discard(connection)
                if not members:
                    del self._topics[topic]

        return unsubscribe

    def has_subscribers(self, topic: str) -> bool:
        return bool(self._topics.get(topic))

    def publish(self, topic: str, type_: str, data: dict[str, Any]) -> int:
        """Serialise once, enqueue on every subscriber of `topic`; returns how many
        got it. Never awaits."""
        members = self._topics.get(topic)
        if not members:
            return 0
        text = self.encode(type_, data)
        return sum(1 for connection in list(members) if connection.push(text))

    def publish_many(self, topics: list[str], type_: str, data: dict[str, Any]) -> int:
        """One message, serialised once, to every subscriber of any of `topics`."""
        members: set[Connection] = set()
        for topic in topics:
            members |= self._topics.get(topic, set())
        if not members:
            return 0
        text = self.encode(type_, data)
        return sum(1 for connection in list(members) if connection.push(text))

    def topics(self) -> dict[str, int]:
        return {topic: len(members) for topic, members in self._topics.items()}
