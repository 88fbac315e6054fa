"""Figures from the rows pre-aggregated per day equal the live figures, for every
grouping and filter; today stays live; a later change is caught by a refresh."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.config import AgentConfig
from telephony.stats.figures import FigureQueries
from telephony.stats.rollup import RollupFigures
from telephony.store.models import CallNote, StatsDaily, StatsDay
from telephony.store.repo import CallStore

from .test_stats_figures import DAY, T0, call, q, seed


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
