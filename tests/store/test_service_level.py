"""Service level in rings, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.config import AgentConfig
from telephony.store.repo import AttemptRecord, CallStore
from telephony.store.service_level import service_level

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


async def call(
    store: CallStore,
    call_id: str,
    *,
    did: str = "100",
    agent: str | None = "ayse",
    answered_ring: float | None = None,
    outcome: str = "answered",
    system: bool = False,
    day: int = 0,
) -> None:
    arrived = T0 + timedelta(days=day, minutes=len(call_id))
    await store.call_arrived(
        call_id=call_id,
        did=did,
        caller_number_raw="+905551112233",
        caller_name_raw="Ayşe",
        caller_channel_id=f"ch-{call_id}",
        arrived_at=arrived,
    )
    await store.update_call(
        call_id,
        agent_id=agent,
        max_rings=3.0,
        cadence="tr",
        answered_ring=answered_ring,
        system_answered_at=arrived + timedelta(seconds=15) if system else None,
        ended_at=arrived + timedelta(minutes=1),
        outcome=outcome,
    )


async def test_share_within_limit_and_rings_to_answer(
    store: CallStore, engine: AsyncEngine
) -> None:
    await store.upsert_agents([AgentConfig(id="ayse", name="Ayşe", endpoint="PJSIP/a")])
    await call(store, "a", answered_ring=1.4)
    await call(store, "bb", answered_ring=2.9)
    await call(store, "ccc", answered_ring=3.99)  # still before ring 4: within 3 rings
    await call(store, "dddd", answered_ring=None, system=True)  # queue, then an agent
    await call(store, "eeeee", agent=None, outcome="abandoned")
    await call(store, "f", answered_ring=1.1, day=1, did="200")
    rows = await service_level(engine, since=T0, until=T0 + timedelta(days=1), group_by="did")
    assert [r.key for r in rows] == ["100"]
    level = rows[0]
    assert (level.calls, level.answered_by_human, level.within_limit) == (5, 3, 3)
    assert (level.abandoned, level.system_answered) == (1, 1)
    assert level.rings_to_answer == {1: 1, 2: 1, 3: 1}
    assert level.share_within_limit == 0.6
    by_day = await service_level(engine, since=T0, until=T0 + timedelta(days=2), group_by="day")
    assert [(r.key, r.calls) for r in by_day] == [("2026-11-27", 5), ("2026-11-28", 1)]
    by_agent = await service_level(engine, since=T0, until=T0 + timedelta(days=2), group_by="agent")
    assert {r.key: r.calls for r in by_agent} == {"": 1, "ayse": 5}


async def test_attempts_are_stored_in_order(store: CallStore) -> None:
    await store.upsert_agents([AgentConfig(id="ayse", name="Ayşe", endpoint="PJSIP/a")])
    await call(store, "x", answered_ring=2.0)
    first = AttemptRecord("ayse", "x-agent-1", T0, T0, T0 + timedelta(seconds=2), "no_answer")
    second = AttemptRecord("ayse", "x-agent-2", T0, None, T0 + timedelta(seconds=3), "answered")
    await store.add_attempt("x", first)
    await store.add_attempt("x", second)
    assert await store.attempts("x") == [first, second]
