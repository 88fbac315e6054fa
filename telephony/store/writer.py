"""One writer for every call's store writes, batching what queued up meanwhile.

A transaction per write was most of a write's cost (SQLite: 0.75 ms of CPU for one
`update_call` alone, 0.25 ms inside a shared transaction), and under a burst of calls
that cost sat on the event loop with the timers and the screen pops. So the writes of
all calls go through one queue: the writer takes whatever has queued up (up to
`max_batch`) and runs it in one transaction. One FIFO keeps each call's writes in order.

A write joins the batch by opening its transaction with `begin(engine)` (a write that
opened its own would wait on the batch's lock). A batch that fails is rolled back and
its writes run again one by one, each in its own transaction and with the retry of
`write_with_retry`: a bad write loses no other, and a database briefly away loses none.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from telephony.store.retry import Write, write_with_retry

log = structlog.get_logger("telephony.store")

_batch: ContextVar[AsyncConnection | None] = ContextVar("store_batch", default=None)
MAX_BATCH = 100


@asynccontextmanager
async def begin(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A write's transaction: the writer's batch when the write runs in one, else its own."""
    batch = _batch.get()
    if batch is not None:
        yield batch
        return
    async with engine.begin() as conn:
        yield conn


class StoreWriter:
    """`put` never waits; one task writes (`start`, or `run` directly), `close` stops
    it. Shared by every call and the recording keeper, so their writes never contend
    for SQLite's lock. Without an engine (tests of the calls alone) the writes run one
    by one."""

    def __init__(self, engine: AsyncEngine | None, *, max_batch: int = MAX_BATCH) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: deque[tuple[str, Write]] = deque()
        self._wake = asyncio.Event()
        self._in_flight = 0
        self._flushes: list[tuple[int, asyncio.Future[None]]] = []
        self._taken = 0  # writes taken off the queue so far (for `flushed`)
        self._done = 0  # ... and finished
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0

    @property
    def pending(self) -> int:
        """Writes queued or being written."""
        return len(self._queue) + self._in_flight

    def put(self, what: str, write: Write) -> None:
        """Queue a write; `what` names it in the log if it fails."""
        self._queue.append((what, write))
        self._wake.set()

    def start(self) -> None:
        """Run the writer as a task of its own, unless it runs already or was closed."""
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self.run())

    async def close(self, within_s: float) -> None:
        """Write what is queued (for at most `within_s`), then stop. Whoever waits for
        `flushed` is told at once, even if writes were left."""
        self._closed = True
        if self._task is None:
            return
        _, late = await asyncio.wait({self.flushed()}, timeout=within_s)
        if late:
            log.warning("store.writes_left_at_close", pending=self.pending)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        for _, future in self._flushes:
            if not future.done():
                future.set_result(None)
        self._flushes = []

    def flushed(self) -> asyncio.Future[None]:
        """Done when every write queued until now is written (or given up, or the writer
        has stopped)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        mark = self._taken + len(self._queue)
        if mark <= self._done or (self._closed and self._task is None):
            future.set_result(None)
        else:
            self._flushes.append((mark, future))
        return future

    async def run(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._write_next()

    async def _write_next(self) -> None:
        # A method of its own: the batch (closures holding their calls) is let go of
        # when written, not kept until the next write.
        count = min(len(self._queue), self._max_batch)
        batch = [self._queue.popleft() for _ in range(count)]
        self._taken += count
        self._in_flight = count
        try:
            await self._write(batch)
        finally:
            self._in_flight = 0
            self._done += count
            self._tell_flushed()

    async def _write(self, batch: list[tuple[str, Write]]) -> None:
        if self._engine is not None and len(batch) > 1:
            try:
                async with self._engine.begin() as conn:
                    token = _batch.set(conn)
                    try:
                        for _, write in batch:
                            await write()
                    finally:
                        _batch.reset(token)
                self.batches += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # rolled back: each write again, on its own
                log.info("store.batch_failed", writes=len(batch), error=repr(error))
        for what, write in batch:
            await write_with_retry(what, write)

    def _tell_flushed(self) -> None:
        waiting = []
        for mark, future in self._flushes:
            if mark <= self._done:
                if not future.done():
                    future.set_result(None)
            else:
                waiting.append((mark, future))
        self._flushes = waiting
