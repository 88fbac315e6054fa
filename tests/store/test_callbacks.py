"""Callback tasks on SQLite and PostgreSQL: create, take when due (once), settle, requeue."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.store.callbacks import CallbackStore

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def make(engine: AsyncEngine) -> CallbackStore:
    return CallbackStore(engine, now=lambda: T0)


async def test_create_and_read_back(engine: AsyncEngine) -> None:
    store = make(engine)
    task = await store.create(
        number="+905551112233",
        did="908501234567",
        due_at=T0 + timedelta(hours=1),
        max_attempts=3,
        created_by="ayse",
        agent_id=None,
    )
    assert task.status == "pending" and task.attempts == 0 and task.max_attempts == 3
    assert task.due_at == T0 + timedelta(hours=1) and task.due_at.tzinfo is not None
    assert await store.get(task.id) == task
    assert await store.get(task.id + 1000) is None


async def test_take_due_takes_each_due_task_once_oldest_first(engine: AsyncEngine) -> None:
    store = make(engine)
    late = await store.create(
        number="+905551112233",
        did="d",
        due_at=T0 + timedelta(minutes=5),
        max_attempts=3,
        created_by="a",
    )
    early = await store.create(
        number="+905551112244",
        did="d",
        due_at=T0 - timedelta(minutes=5),
        max_attempts=3,
        created_by="a",
    )
    later = await store.create(
        number="+905551112255",
        did="d",
        due_at=T0 + timedelta(hours=1),
        max_attempts=3,
        created_by="a",
    )
    first, second = await asyncio.gather(
        store.take_due(T0 + timedelta(minutes=10)), store.take_due(T0 + timedelta(minutes=10))
    )
    taken = first + second
    assert sorted(t.id for t in taken) == sorted([early.id, late.id])
    assert len(taken) == 2 and all(t.status == "calling" for t in taken)
    assert await store.take_due(T0 + timedelta(minutes=10)) == []
    assert (await store.get(later.id)).status == "pending"  # type: ignore[union-attr]


async def test_settle_counts_the_attempt_and_reschedules(engine: AsyncEngine) -> None:
    store = make(engine)
    task = await store.create(
        number="+905551112233", did="d", due_at=T0, max_attempts=3, created_by="a"
    )
    await store.take_due(T0)
    retry = T0 + timedelta(hours=48)
    await store.settle(task.id, status="pending", outcome="no_answer", rings=5.0, due_at=retry)
    after = await store.get(task.id)
    assert after is not None
    assert (after.status, after.attempts, after.last_outcome, after.last_rings, after.due_at) == (
        "pending",
        1,
        "no_answer",
        5.0,
        retry,
    )
    await store.take_due(retry)
    await store.settle(
        task.id, status="done", outcome="answered", rings=1.4, handled_by="ayse", call_id="c1"
    )
    done = await store.get(task.id)
    assert done is not None
    assert (done.status, done.attempts, done.handled_by, done.last_call_id) == (
        "done",
        2,
        "ayse",
        "c1",
    )
    assert await store.take_due(retry + timedelta(days=10)) == []


async def test_list_by_agent_or_creator_and_requeue(engine: AsyncEngine) -> None:
    store = make(engine)
    mine = await store.create(
        number="+905551112233",
        did="d",
        due_at=T0,
        max_attempts=3,
        created_by="ayse",
        agent_id="ayse",
    )
    other = await store.create(
        number="+905551112244", did="d", due_at=T0, max_attempts=3, created_by="boss"
    )
    assert [t.id for t in await store.list_tasks()] == [other.id, mine.id]
    assert [t.id for t in await store.list_tasks(agent_id="ayse", created_by="ayse")] == [mine.id]
    await store.take_due(T0)
    assert await store.requeue_calling() == 2
    assert {t.status for t in await store.list_tasks()} == {"pending"}
