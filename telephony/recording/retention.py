"""The retention job: recordings past their policy's days are deleted, the rows kept.

A recording under legal hold is never deleted. Each deletion is audited (who: the
retention job); the row stays with status `purged` so the statistics still count it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import structlog

from telephony.recording.files import inside
from telephony.store.recordings import RecordingStore

log = structlog.get_logger("telephony.recording")

PURGE_EVERY_S = 3600.0


async def purge_expired(store: RecordingStore, root: Path, now: datetime) -> int:
    purged = 0
    for record in await store.expired(now):
        target = inside(root, record.path) if record.path else None
        if target is not None:
            with contextlib.suppress(FileNotFoundError):
                await asyncio.to_thread(target.unlink)
        await store.update(record.call_id, status="purged", purged_at=now)
        await store.audit(
            record.call_id, "retention", "purge", path=record.path, retain_until=str(now)
        )
        purged += 1
    if purged:
        log.info("recording.purged", count=purged)
    return purged


async def run_retention(
    store: RecordingStore,
    root: Path,
    clock: Callable[[], datetime],
    every_s: float = PURGE_EVERY_S,
) -> None:
    """Purge now and then every `every_s` until cancelled."""
    while True:
        try:
            await purge_expired(store, root, clock())
        except Exception as error:  # the next round tries again
            log.error("recording.purge_failed", error=repr(error))
        await asyncio.sleep(every_s)
