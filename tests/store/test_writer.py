"""The store writer: every call's writes in one queue, batched into one transaction,
in order; a bad write in a batch loses no other (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from functools import partial

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.store.recordings import RecordingStore
from telephony.store.repo import CallRecord, CallStore
from telephony.store.writer import StoreWriter

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def arrival(store: CallStore, call_id: str) -> Awaitable[CallRecord]:
    return store.call_arrived(
        call_id=call_id,
        did="+902121112233",
        caller_number_raw="+905551112233",
        caller_name_raw="Ayşe",
        caller_channel_id=f"chan-{call_id}",
        arrived_at=T0,
    )


async def test_what_queued_meanwhile_is_one_transaction_in_order(
    engine: AsyncEngine, store: CallStore
) -> None:
    writer = StoreWriter(engine)
    for n in range(20):  # queued before the writer runs: one batch
        call_id = f"c{n}"
        writer.put("arrival", partial(arrival, store, call_id))
        # The call's later facts depend on its row: they must come after it.
        writer.put("facts", partial(store.update_call, call_id, ringing_at=T0, max_rings=3))
        end = T0 + timedelta(seconds=9)
        writer.put("end", partial(store.update_call, call_id, ended_at=end, outcome="abandoned"))
    assert writer.pending == 60
    running = asyncio.create_task(writer.run())
    await asyncio.wait_for(writer.flushed(), 10)
    running.cancel()
    assert writer.batches == 1 and writer.pending == 0
    calls = await store.recent_calls(limit=50)
    assert len(calls) == 20
    assert all(c.outcome == "abandoned" and c.ringing_at is not None for c in calls)


async def test_a_bad_write_in_a_batch_loses_no_other(engine: AsyncEngine, store: CallStore) -> None:
    writer = StoreWriter(engine)
    writer.put("arrival", lambda: arrival(store, "good"))
    writer.put("facts of a call that is not there", lambda: store.update_call("ghost", max_rings=3))
    writer.put("facts", lambda: store.update_call("good", max_rings=3))
    with structlog.testing.capture_logs() as logs:
        running = asyncio.create_task(writer.run())
        await asyncio.wait_for(writer.flushed(), 10)
        running.cancel()
    good = await store.get_call("good")
    assert good is not None and good.max_rings == 3
    failed = [e for e in logs if e["event"] == "store.write_failed"]
    assert [e["write"] for e in failed] == ["facts of a call that is not there"]
    assert any(e["event"] == "store.batch_failed" for e in logs)


async def test_flushed_waits_for_the_writes_queued_until_then(
    engine: AsyncEngine, store: CallStore
) -> None:
    writer = StoreWriter(engine)
    assert writer.flushed().done()  # nothing queued
    gate = asyncio.Event()

    async def slow() -> None:
        await gate.wait()

    writer.put("slow", slow)
    running = asyncio.create_task(writer.run())
    await asyncio.sleep(0)
    flushed = writer.flushed()
    writer.put("later", lambda: arrival(store, "later"))
    await asyncio.sleep(0.05)
    assert not flushed.done() and writer.pending == 2
    gate.set()
    await asyncio.wait_for(flushed, 5)
    await asyncio.wait_for(writer.flushed(), 5)
    running.cancel()
    assert await store.get_call("later") is not None


async def test_recording_rows_join_the_calls_batch_and_a_repeated_start_keeps_the_first(
    engine: AsyncEngine, store: CallStore
) -> None:
    """The recording keeper writes through the calls' writer: one lock holder, so
    no "database is locked" between the two."""
    recordings = RecordingStore(engine)
    writer = StoreWriter(engine)
    writer.put("arrival", partial(arrival, store, "r1"))
    writer.put("recording", partial(recordings.started, "r1", "r1", "wav", 1, T0))
    later = T0 + timedelta(seconds=1)
    writer.put("recording again", partial(recordings.started, "r1", "r1", "wav", 2, later))
    writer.put("recording began", partial(recordings.update, "r1", started_at=later))
    writer.start()
    await asyncio.wait_for(writer.flushed(), 5)
    assert writer.batches == 1
    record = await recordings.get("r1")
    assert record is not None and record.channels == 1 and record.started_at == later
    await writer.close(1)


async def test_close_writes_what_is_queued_then_nothing_waits_for_it(engine: AsyncEngine) -> None:
    writer = StoreWriter(engine)
    gate = asyncio.Event()
    written: list[str] = []

    async def stuck() -> None:
        await gate.wait()  # a database that never answers

    async def never() -> None:
        written.append("never")

    writer.put("stuck", stuck)
    writer.put("after", never)
    writer.start()
    writer.start()  # one writer, however often started
    await asyncio.sleep(0)
    await writer.close(0.05)
    await asyncio.wait_for(writer.flushed(), 1)  # told at once: the writer has stopped
    writer.start()  # closed: stays stopped
    writer.put("late", never)
    await asyncio.sleep(0.01)
    assert written == [] and writer.pending >= 1
