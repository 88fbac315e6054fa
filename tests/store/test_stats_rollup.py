"""Figures from the rows pre-aggregated per day equal the live figures, for every
grouping and filter; today stays live; a later change is caught by a refresh."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.config import AgentConfig
from telephony.stats.figures import SCRIPT_MEASURES, FigureQueries
from telephony.stats.period import StatsQuery
from telephony.stats.rollup import ANY, RollupFigures
from telephony.stats.stored import decode_talk, encode_talk
from telephony.store.migrate import MIGRATIONS_DIR
from telephony.store.models import CallNote, CallScriptRow, StatsDaily, StatsDay, StatsWeekly
from telephony.store.repo import CallStore

from .test_stats_figures import DAY, T0, add, call, note, q, seed


def as_json(rows: list[Any]) -> list[dict[str, Any]]:
    return [row.as_json() for row in rows]


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


@pytest.mark.parametrize("group_by", ["total", "day", "week", "month", "agent", "did"])
async def test_aggregated_days_give_the_live_figures(
    store: CallStore, engine: AsyncEngine, group_by: str
) -> None:
    await seed(store, engine)
    live = FigureQueries(engine)
    rollup = RollupFigures(engine, live, now=lambda: T0 + 5 * DAY)  # both days closed
    for extra in (
        {},
        {"agent": "ayse"},
        {"did": "100"},
        {"agent": "ayse", "did": "200"},
        {"min_talk_s": 90},
    ):
        query = q(days=3, group_by=group_by, **extra)
        assert as_json(await rollup.figures(query)) == as_json(await live.figures(query)), extra
    assert await count(engine, StatsDay) == 3  # the third day had no calls: known empty
    assert await count(engine, StatsDaily) > 0


async def test_today_is_live_and_a_refresh_catches_later_changes(
    store: CallStore, engine: AsyncEngine
) -> None:
    await seed(store, engine)
    live = FigureQueries(engine)
    rollup = RollupFigures(engine, live, now=lambda: T0 + DAY)  # the Tuesday: day 2 is today
    query = q(days=2)
    assert as_json(await rollup.figures(query)) == as_json(await live.figures(query))
    assert await count(engine, StatsDay) == 1  # only the Monday is closed
    # An offer on the Monday becomes a sale on Tuesday: the aggregate is stale until
    # the refresh (keep_fresh does this every few minutes for the last 35 days).
    async with engine.begin() as conn:
        await conn.execute(update(CallNote).where(CallNote.call_id == "c2").values(outcome="sale"))
    [stale] = await rollup.figures(query)
    assert stale.sales == 2
    await rollup.refresh([T0.date()])
    [fresh] = await rollup.figures(query)
    assert (fresh.sales, fresh.offers) == (3, 4)  # c1, c2 and c7 (the Tuesday, live)
    assert as_json([fresh]) == as_json(await live.figures(query))
    assert await rollup.refresh([(T0 + DAY).date(), (T0 + 2 * DAY).date()]) == 0  # not closed


async def test_a_sunday_belongs_to_the_week_of_its_monday(
    store: CallStore, engine: AsyncEngine
) -> None:
    await store.upsert_agents([AgentConfig(id="ayse", name="Ayşe", endpoint="PJSIP/a")])
    for call_id, day in (("sun1", 6), ("mon2", 7)):  # Sunday 8 and Monday 9 November
        await call(store, call_id, agent="ayse", talk_s=70, answered_ring=1.0, day=day)
    live = FigureQueries(engine)
    rollup = RollupFigures(engine, live, now=lambda: T0 + 30 * DAY)
    query = q(days=14, group_by="week")
    expected = [("2026-11-02", 1), ("2026-11-09", 1)]
    assert [(f.key, f.incoming) for f in await live.figures(query)] == expected
    assert [(f.key, f.incoming) for f in await rollup.figures(query)] == expected


async def seed_weeks(store: CallStore, engine: AsyncEngine) -> None:
    """The two seeded days (Monday 2 and Tuesday 3 November) and calls on further days
    over five weeks into December: Sundays and Mondays (the weeks' edges), both DIDs,
    both agents, outcomes and scripts."""
    await seed(store, engine)
    for call_id, day, agent, talk_s, did in (
        ("w1", 6, "ayse", 61, "100"),  # Sunday 8
        ("w2", 7, "mehmet", 45, "200"),  # Monday 9
        ("w3", 13, None, None, "100"),  # Sunday 15, abandoned
        ("w4", 16, "ayse", 200, "200"),
        ("w5", 22, "mehmet", 95, "100"),
        ("w6", 27, "ayse", 59, "100"),  # Sunday 29 November
        ("w7", 28, "mehmet", 75, "200"),  # Monday 30 November
        ("w8", 29, "ayse", 120, "100"),  # Tuesday 1 December
        ("w9", 34, "ayse", 33, "200"),  # Sunday 6 December
    ):
        if agent is None:
            await call(store, call_id, agent=None, abandoned_ring=1.2, did=did, day=day)
            continue
        await call(store, call_id, agent=agent, talk_s=talk_s, answered_ring=1.0, did=did, day=day)
        await note(engine, call_id, "sale" if talk_s and talk_s > 60 else "lost", dated=True)
        await add(
            engine,
            CallScriptRow,
            call_id=call_id,
            key="inbound_sale_tr",
            version=1 + day % 2,
            variant="A",
            campaign=None,
            reason=[],
            assigned_at=T0,
            progress={},
        )


def ranges() -> list[StatsQuery]:
    start = T0.replace(hour=0)
    return [
        StatsQuery(since=since, until=since + days * DAY, group_by=group_by, **extra)
        for since, days in ((start, 35), (start + 3 * DAY, 30), (start + 6 * DAY, 9))
        for group_by in ("total", "day", "week", "month", "agent", "did")
        for extra in ({}, {"agent": "ayse"}, {"did": "200"}, {"min_talk_s": 61})
    ]


async def test_whole_weeks_give_the_live_figures(store: CallStore, engine: AsyncEngine) -> None:
    await seed_weeks(store, engine)
    live = FigureQueries(engine)
    rollup = RollupFigures(engine, live, now=lambda: T0 + 40 * DAY)  # every day closed
    for query in ranges():
        assert as_json(await rollup.figures(query)) == as_json(await live.figures(query)), query
    weeks = select(StatsWeekly.week).distinct().order_by(StatsWeekly.week)
    async with engine.connect() as conn:
        built = list((await conn.execute(weeks)).scalars())
    # Read by these ranges: the five whole weeks from Monday 2 November.
    assert built == ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30"]


async def test_a_refreshed_day_rebuilds_its_week(store: CallStore, engine: AsyncEngine) -> None:
    await seed_weeks(store, engine)
    live = FigureQueries(engine)
    rollup = RollupFigures(engine, live, now=lambda: T0 + 40 * DAY)
    query = StatsQuery(since=T0.replace(hour=0), until=T0.replace(hour=0) + 28 * DAY)
    [before] = await rollup.figures(query)
    async with engine.begin() as conn:  # Monday 9 November's lost call becomes a sale
        await conn.execute(update(CallNote).where(CallNote.call_id == "w2").values(outcome="sale"))
    [stale] = await rollup.figures(query)
    assert stale.sales == before.sales
    await rollup.refresh([(T0 + 7 * DAY).date()])
    [fresh] = await rollup.figures(query)
    assert fresh.sales == before.sales + 1
    assert as_json([fresh]) == as_json(await live.figures(query))


async def test_days_stored_without_their_weeks_get_them_when_read(
    store: CallStore, engine: AsyncEngine
) -> None:
    """As after migration 0014: the days are stored, their weeks not yet."""
    await seed_weeks(store, engine)
    live = FigureQueries(engine)
    rollup = RollupFigures(engine, live, now=lambda: T0 + 40 * DAY)
    assert await rollup.refresh((T0 + n * DAY).date() for n in range(35)) == 35
    async with engine.begin() as conn:
        await conn.execute(delete(StatsWeekly))
    rollup = RollupFigures(engine, live, now=lambda: T0 + 40 * DAY)  # a new process
    for query in ranges()[:6]:
        assert as_json(await rollup.figures(query)) == as_json(await live.figures(query)), query
    assert await count(engine, StatsWeekly) > 0


def _alembic(conn: Connection, revision: str, up: bool) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    (command.upgrade if up else command.downgrade)(config, revision)


def test_talk_is_packed_and_unpacked() -> None:
    seconds = [0, 59, 60, 3600, 86400 * 30]
    assert list(decode_talk(encode_talk(seconds))) == seconds
    assert encode_talk([1, 256]) == "AQAAAAABAAA="  # little-endian 32-bit, on any machine


async def test_migration_0014_converts_the_stored_days(engine: AsyncEngine) -> None:
    old = {
        "incoming": 3,
        "talked": 3,
        "talk_s_counts": {"90": 2, "30": 1},
        "abandoned_at_ring": {"0": 1},
        # As the old code stored them: every measure of a variant, zeros too.
        "script_outcomes": {
            f"inbound_sale_tr|1|A|{measure}": {"calls": 2, "sales": 1}.get(measure, 0)
            for measure in SCRIPT_MEASURES
        },
    }
    new = {
        "incoming": 3,
        "talked": 3,
        "talk_s": encode_talk([30, 90, 90]),
        "abandoned_at_ring": {"0": 1},
        "scripts": {"inbound_sale_tr|1|A": [2, 0, 0, 1, 0, 0]},
    }
    async with engine.begin() as conn:
        await conn.run_sync(_alembic, "0013", False)
        await conn.execute(
            insert(StatsDaily).values(day="2026-11-02", did=ANY, agent_id=ANY, figures=old)
        )
        await conn.run_sync(_alembic, "0014", True)
    async with engine.connect() as conn:
        assert (await conn.execute(select(StatsDaily.figures))).scalar_one() == new
    async with engine.begin() as conn:
        await conn.run_sync(_alembic, "0013", False)
    async with engine.connect() as conn:
        assert (await conn.execute(select(StatsDaily.figures))).scalar_one() == old
