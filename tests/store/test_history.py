"""The pop's caller context: the same answer whichever way it is read (SQLite's one-hop
reader on the loop, or the async engine; PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from telephony.store.callbacks import CallbackStore
from telephony.store.history import History
from telephony.store.notes import Notes
from telephony.store.repo import CallStore

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
NUMBER = "+905551112233"


async def seed(engine: AsyncEngine, store: CallStore) -> None:
    for n in range(3):
        at = T0 + timedelta(hours=n)
        await store.call_arrived(
            call_id=f"c{n}",
            did="+902121112233",
            caller_number_raw=NUMBER,
            caller_name_raw="AYSE Y",
            caller_channel_id=f"chan-{n}",
            arrived_at=at,
        )
        await store.update_call(f"c{n}", answered_at=at, ended_at=at + timedelta(minutes=2))
    notes = Notes(engine, now=lambda: T0)
    await notes.save(
        "c1",
        {"name": "Ayşe Yılmaz", "needs": "a quote for 40 chairs", "next_step": "call back"},
        agent_id=None,
        by="test",
        caller_number=NUMBER,
    )
    callbacks = CallbackStore(engine, now=lambda: T0)
    await callbacks.create(
        number=NUMBER,
        did="+902121112233",
        due_at=T0 + timedelta(days=1),
        max_attempts=3,
        created_by="test",
    )


async def test_the_context_of_a_returning_caller(engine: AsyncEngine, store: CallStore) -> None:
    await seed(engine, store)
    history = History(engine)
    try:
        context = await history.caller_context(NUMBER, exclude_call="c2")
    finally:
        await history.close()
    assert context.contact_name == "Ayşe Yılmaz" and context.needs == "a quote for 40 chairs"
    assert context.call_count == 3 and context.first_seen == T0
    assert [c.call_id for c in context.last_calls] == ["c1", "c0"]  # newest first, c2 left out
    last = context.last_calls[0]
    assert last.arrived_at == T0 + timedelta(hours=1) and last.arrived_at.tzinfo is not None
    assert last.next_step == "call back"
    assert [cb.due_at for cb in context.callbacks] == [T0 + timedelta(days=1)]


async def test_the_sync_reader_and_the_async_engine_agree(
    engine: AsyncEngine, store: CallStore
) -> None:
    await seed(engine, store)
    inline = History(engine)
    direct = History(engine)
    direct._reader_checked = True  # never makes a reader: the async engine reads
    try:
        assert await inline.caller_context(NUMBER) == await direct.caller_context(NUMBER)
        assert (inline._reader is not None) == (engine.dialect.name == "sqlite")
    finally:
        await inline.close()
        await direct.close()


async def test_an_anonymous_caller_has_no_context(engine: AsyncEngine) -> None:
    history = History(engine)
    assert (await history.caller_context(None)).last_calls == []
    await history.close()


async def test_warm_up_opens_the_reader_before_the_first_call(
    engine: AsyncEngine, store: CallStore
) -> None:
    """At start the reader's connection is opened (a number that matches nothing): the
    first call's pop does not pay for it. PostgreSQL has no such reader: nothing to do."""
    await seed(engine, store)
    history = History(engine)
    try:
        history.warm_up()
        reader = history._reader
        if engine.dialect.name == "sqlite":
            assert reader is not None
            assert isinstance(reader.pool, QueuePool)
            assert reader.pool.checkedin() == 1  # open, back in the pool for the first pop
        else:
            assert reader is None
        context = history.caller_context_now(NUMBER)  # the same connection answers
        if context is not None:
            assert context.returning
    finally:
        await history.close()
