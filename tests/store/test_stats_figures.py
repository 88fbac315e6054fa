"""The figures on a data set where every answer is known by construction, on SQLite and
PostgreSQL: rings, abandons (at ring 0 too), holds (a call with two), escalations by
step, missed offers, talk mean and median, the sales funnel, a call with no outcome,
dated next steps, callback promises kept, recordings complete; grouped and filtered."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.config import AgentConfig
from telephony.stats.figures import FigureQueries
from telephony.stats.period import BadRequest, StatsQuery, parse_query
from telephony.store.models import Callback, CallNote, CallScriptRow, Hold, Recording
from telephony.store.repo import AttemptRecord, CallStore

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
DAY = timedelta(days=1)


async def call(
    store: CallStore,
    call_id: str,
    *,
    agent: str | None,
    talk_s: float | None = None,
    answered_ring: float | None = None,
    abandoned_ring: float | None = None,
    system: bool = False,
    escalations: list[dict[str, Any]] | None = None,
    did: str = "100",
    day: int = 0,
) -> None:
    arrived = T0 + day * DAY + timedelta(minutes=len(call_id) + 10 * int(call_id[-1]))
    await store.call_arrived(
        call_id=call_id,
        did=did,
        caller_number_raw="+905551112233",
        caller_name_raw="Ayşe",
        caller_channel_id=f"ch-{call_id}",
        arrived_at=arrived,
    )
    answered = arrived + timedelta(seconds=8) if talk_s is not None else None
    ended = answered + timedelta(seconds=talk_s) if answered and talk_s is not None else None
    await store.update_call(
        call_id,
        agent_id=agent,
        max_rings=3.0,
        cadence="tr",
        answered_ring=answered_ring,
        abandoned_ring=abandoned_ring,
        answered_at=answered,
        system_answered_at=arrived + timedelta(seconds=5) if system else None,
        escalations=escalations,
        ended_at=ended or arrived + timedelta(seconds=20),
        outcome="answered" if answered else "abandoned",
    )


async def add(engine: AsyncEngine, table: Any, **values: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(insert(table).values(**values))


async def hold(
    engine: AsyncEngine, call_id: str, start_s: int, length_s: int, outcome: str
) -> None:
    start = T0 + timedelta(hours=1, seconds=start_s)
    await add(
        engine,
        Hold,
        call_id=call_id,
        agent_id=None,
        started_at=start,
        ended_at=start + timedelta(seconds=length_s),
        source="browser",
        outcome=outcome,
        warned=length_s > 30,
        over_limit=False,
    )


async def note(engine: AsyncEngine, call_id: str, outcome: str | None, dated: bool) -> None:
    await add(
        engine,
        CallNote,
        call_id=call_id,
        agent_id=None,
        name="",
        needs="",
        answers={},
        notes="",
        outcome=outcome,
        lost_reason=None,
        next_step="call back" if dated else "",
        next_step_at=T0 + 3 * DAY if dated else None,
        updated_at=T0,
        updated_by="ayse",
    )


async def recording(engine: AsyncEngine, call_id: str, status: str) -> None:
    await add(
        engine,
        Recording,
        call_id=call_id,
        name=call_id,
        token=f"tok-{call_id}",
        path=None,
        format="wav",
        channels=1,
        started_at=T0,
        status=status,
        pauses=[],
        checked_at=T0 + timedelta(hours=2),
        legal_hold=False,
    )


async def callback(
    engine: AsyncEngine, status: str, attempts: int, *, promise: bool = True, agent: str = "ayse"
) -> None:
    await add(
        engine,
        Callback,
        number="+905551112233",
        did="100",
        due_at=T0 + timedelta(hours=2),
        attempts=attempts,
        max_attempts=3,
        status=status,
        created_by=agent,
        agent_id=agent,
        created_at=T0,
        updated_at=T0,
        promise=promise,
    )


@pytest.fixture
async def seeded(store: CallStore, engine: AsyncEngine) -> FigureQueries:
    await seed(store, engine)
    return FigureQueries(engine)


async def seed(store: CallStore, engine: AsyncEngine) -> None:
    """Two days (a Monday and a Tuesday), two DIDs, two agents; see the tests below."""
    await store.upsert_agents(
        [
            AgentConfig(id="ayse", name="Ayşe", endpoint="PJSIP/a"),
            AgentConfig(id="mehmet", name="Mehmet", endpoint="PJSIP/m"),
        ]
    )
    await call(store, "c1", agent="ayse", talk_s=120, answered_ring=1.5)
    await call(store, "c2", agent="ayse", talk_s=30, answered_ring=3.5)  # ring 3: within
    await call(store, "c3", agent="mehmet", talk_s=90, answered_ring=4.2)  # ring 4: over
    await call(store, "c4", agent=None, abandoned_ring=0.4)  # gave up before ring 1 ended
    await call(store, "c5", agent=None, abandoned_ring=2.7)
    steps = [{"step": "queue", "ring": 4.0}, {"step": "supervisor", "ring": 6.0}]
    await call(store, "c6", agent="mehmet", talk_s=60, system=True, escalations=steps)
    await call(store, "c7", agent="ayse", talk_s=300, answered_ring=2.0, did="200", day=1)
    for call_id, agent in (("c4", "ayse"), ("c5", "mehmet")):
        attempt = AttemptRecord(
            agent, f"{call_id}-a", T0, T0, T0 + timedelta(seconds=9), "no_answer"
        )
        await store.add_attempt(call_id, attempt)
    await store.add_attempt("c1", AttemptRecord("ayse", "c1-a", T0, T0, T0, "answered"))
    await hold(engine, "c1", 0, 20, "retrieved")
    await hold(engine, "c1", 100, 40, "retrieved")  # the second hold of one call
    await hold(engine, "c3", 0, 35, "caller_hung_up")
    await note(engine, "c1", "sale", dated=True)
    await note(engine, "c2", "offer_made", dated=False)
    await note(engine, "c3", "pending_purchase", dated=True)
    await note(engine, "c7", "sale", dated=False)  # c6 has no note: no outcome
    for call_id, status in (("c1", "complete"), ("c2", "short"), ("c3", "complete")):
        await recording(engine, call_id, status)
    await recording(engine, "c6", "purged")  # complete, then past its retention
    await recording(engine, "c7", "complete")
    await callback(engine, "done", 1)  # kept
    await callback(engine, "done", 2)  # reached on a retry: late
    await callback(engine, "pending", 0, agent="mehmet")
    await callback(engine, "cancelled", 0)  # not counted
    await callback(engine, "done", 1, promise=False)  # a task, not a promise
    for call_id, version, variant in (
        ("c1", 1, "A"),
        ("c2", 1, "B"),
        ("c6", 1, "A"),
        ("c7", 2, "A"),
    ):
        await add(
            engine,
            CallScriptRow,
            call_id=call_id,
            key="inbound_sale_tr",
            version=version,
            variant=variant,
            campaign=None,
            reason=[],
            assigned_at=T0,
            progress={},
        )


def q(days: int = 1, **kwargs: Any) -> StatsQuery:
    return StatsQuery(since=T0.replace(hour=0), until=T0.replace(hour=0) + days * DAY, **kwargs)


async def test_every_figure_of_one_day(seeded: FigureQueries) -> None:
    [day] = await seeded.figures(q())
    figures = day.as_json()
    assert figures["key"] == "all"
    assert figures["calls"] == {
        "incoming": 6,
        "answered_by_human": 4,
        "within_limit": 2,
        "service_level": 0.3333,
        "abandoned_ringing": 2,
        "abandoned_at_ring": {"0": 1, "2": 1},
        "abandoned_on_hold": 1,
        "escalated": 1,
        "escalations_by_step": {"queue": 1, "supervisor": 1},
        "missed": 2,
    }
    assert figures["talk"] == {
        "talked": 4,
        "effective": 3,  # 120, 90 and exactly 60 s; not 30 s
        "mean_min": 1.25,  # (120 + 30 + 90 + 60) / 4 = 75 s
        "median_min": 1.25,  # (60 + 90) / 2 = 75 s
        "holds": 3,
        "hold_mean_s": 31.7,  # (20 + 40 + 35) / 3
        "holds_over_30s_share": 0.6667,
    }
    assert figures["sales"] == {
        "offers": 3,
        "pending": 1,
        "sales": 1,
        "lost": 0,
        "conversion": 0.1667,
        "next_step_dated_share": 0.5,
        "callbacks_due": 3,
        "callbacks_kept_share": 0.3333,
    }
    assert [step["calls"] for step in figures["funnel"]] == [6, 3, 3, 1]
    assert figures["recordings"] == {"expected": 4, "complete": 3, "complete_share": 0.75}


async def test_grouped_by_agent_day_week_month_and_did(seeded: FigureQueries) -> None:
    by_agent = {f.key: f for f in await seeded.figures(q(group_by="agent"))}
    assert sorted(by_agent) == ["", "ayse", "mehmet"]
    assert (by_agent[""].incoming, by_agent[""].abandoned_ringing, by_agent[""].missed) == (2, 2, 0)
    assert (by_agent["ayse"].incoming, by_agent["ayse"].missed) == (2, 1)
    assert (by_agent["mehmet"].incoming, by_agent["mehmet"].missed) == (2, 1)
    assert (by_agent["ayse"].callbacks_due, by_agent["ayse"].callbacks_kept) == (2, 1)
    assert by_agent["mehmet"].sales == 0 and by_agent["ayse"].sales == 1
    by_day = await seeded.figures(q(days=2, group_by="day"))
    assert [(f.key, f.incoming) for f in by_day] == [("2026-11-02", 6), ("2026-11-03", 1)]
    assert by_day[1].talk_median_s == 300
    by_week = await seeded.figures(q(days=2, group_by="week"))
    assert [(f.key, f.incoming, f.sales) for f in by_week] == [("2026-11-02", 7, 2)]
    by_month = await seeded.figures(q(days=2, group_by="month"))
    assert [(f.key, f.incoming) for f in by_month] == [("2026-11", 7)]
    by_did = await seeded.figures(q(days=2, group_by="did"))
    assert [(f.key, f.incoming) for f in by_did] == [("100", 6), ("200", 1)]


async def test_filtered_by_agent_and_did(seeded: FigureQueries) -> None:
    [ayse] = await seeded.figures(q(days=2, agent="ayse"))
    assert (ayse.incoming, ayse.missed, ayse.sales, ayse.holds) == (3, 1, 2, 2)
    assert ayse.as_json()["sales"]["conversion"] == 0.6667
    [did] = await seeded.figures(q(days=2, did="200"))
    assert (did.incoming, did.sales, did.recordings_complete, did.callbacks_due) == (1, 1, 1, 0)
    assert await seeded.figures(q(did="999")) == []


async def test_min_talk_is_a_parameter(seeded: FigureQueries) -> None:
    [day] = await seeded.figures(q(min_talk_s=100))
    assert day.effective == 1


def test_parse_query_names_what_is_wrong() -> None:
    today = date(2026, 11, 27)
    ok = parse_query(
        {"since": "2026-11-01", "until": "2026-11-30", "group_by": "week"}, today=today
    )
    assert (ok.since, ok.until - ok.since, ok.group_by) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        timedelta(days=30),
        "week",
    )
    default = parse_query({}, today=today)
    assert (default.since.day, default.until.day, default.group_by) == (21, 28, "total")
    bad = {
        "since=yesterday": ({"since": "yesterday"}, "since = 'yesterday': must be a date"),
        "order": ({"since": "2026-11-27", "until": "2026-11-01"}, "since must come first"),
        "long": ({"since": "2025-01-01", "until": "2026-01-01"}, "at most 92 days"),
        "group": ({"group_by": "planet"}, "group_by = 'planet': must be one of total, day"),
        "talk": ({"min_talk_s": "-3"}, "min_talk_s = '-3': must be whole seconds from 0"),
        "unknown": ({"sinse": "2026-11-01"}, "unknown parameter 'sinse'"),
    }
    for params, message in bad.values():
        with pytest.raises(BadRequest, match=message.replace("(", r"\(")):
            parse_query(params, today=today)


async def test_conversion_per_script_version_and_variant(seeded: FigureQueries) -> None:
    [total] = await seeded.figures(q(days=2))
    by_variant = {(v["version"], v["variant"]): v for v in total.as_json()["scripts"]}
    a1, b1, a2 = by_variant[(1, "A")], by_variant[(1, "B")], by_variant[(2, "A")]
    assert (a1["calls"], a1["sales"], a1["next_steps"]) == (2, 1, 1)  # c1 sale, c6 no note
    assert a1["conversion"] == 0.5 and a1["ci95"][0] < 0.5 < a1["ci95"][1]
    assert (b1["calls"], b1["offers"], b1["sales"]) == (1, 1, 0)
    assert (a2["calls"], a2["sales"]) == (1, 1)  # the second day
    [ayse] = [f for f in await seeded.figures(q(days=2, group_by="agent")) if f.key == "ayse"]
    assert {(v["version"], v["variant"]) for v in ayse.as_json()["scripts"]} == {
        (1, "A"),
        (1, "B"),
        (2, "A"),
    }
