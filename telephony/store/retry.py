"""Store writes that outlive a database briefly away: tried again, in order, for about
a minute; a fault of the data itself (a bad value) is not tried again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from sqlalchemy.exc import InterfaceError, OperationalError

log = structlog.get_logger("telephony.store")

Write = Callable[[], Awaitable[object]]
T = TypeVar("T")

# A locked SQLite, a PostgreSQL restart: about a minute in all.
WRITE_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
# How long a call's end, or the service's stop, waits for writes still queued or being
# tried again: a stop must not wait out the whole minute above.
WRITE_FLUSH_S = 10.0


def transient(error: Exception) -> bool:
    """A fault of the database's availability (worth trying again), not of the data."""
    return isinstance(error, OperationalError | InterfaceError | OSError | TimeoutError)


async def write_with_retry(what: str, write: Callable[[], Awaitable[T]]) -> T | None:
    """The write's result; None when it failed for good (logged)."""
    for delay in (*WRITE_RETRY_DELAYS, None):
        try:
            return await write()
        except Exception as error:  # a storage fault must not drop the live call
            if delay is None or not transient(error):
                log.error("store.write_failed", write=what, error=repr(error))
                return None
            log.warning("store.write_retry", write=what, delay=delay, error=repr(error))
            await asyncio.sleep(delay)
    return None  # not reached: the last try returns
