"""The figures pre-aggregated per closed UTC day and per closed ISO week, DID and
agent, so a month or a quarter reads a few hundred rows instead of every call (see
the bench figures in the README).

A day is aggregated the first time a request covers it after it ended, with the
same queries as the live figures (grouped by DID and agent); today is always live.
A week (Monday to Sunday) is the sum of its seven stored days, rebuilt whenever one
of them is; a request reads a week's rows for each whole week of its range that falls
in one of its groups (not when grouped by day), and day rows for the rest. Figures
that change after the day (an outcome set later, a recording checked, a callback
done) are caught by `keep_fresh`, which recomputes the last `FRESH_DAYS` closed days
every few minutes; older days are recomputed by `refresh`. Every counter is additive
and talk is kept call by call (to the second), so medians and effective calls stay
exact after merging (telephony.stats.stored).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Select, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from telephony.stats.figures import SEPARATOR, FigureQueries, Figures
from telephony.stats.period import StatsQuery
from telephony.stats.stored import add, add_json, to_json
from telephony.store.models import StatsDaily, StatsDay, StatsWeekly

FRESH_DAYS = 35
# In a stored row's DID or agent: every DID / every agent (never a real id: a control
# character). Each day and week is stored at four levels, so a request reads the
# fewest rows: (ANY, ANY), (ANY, agent), (DID, ANY) and (DID, agent). A computed week
# always has its (ANY, ANY) row, empty if it had no calls: that row marks it computed.
ANY = "\x1f"
WEEK = timedelta(days=7)

log = structlog.get_logger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _level(column: Any, wanted: str | None, grouped: bool) -> ColumnElement[bool]:
    """Which stored level to read for a DID or agent: one of them, each of them, or all."""
    if wanted is not None:
        return column == wanted  # type: ignore[no-any-return]
    return column != ANY if grouped else column == ANY  # type: ignore[no-any-return]


def key_of(group_by: str, day: str, did: str, agent: str) -> str:
    if group_by == "day":
        return day
    if group_by == "week":
        return _monday(date.fromisoformat(day)).isoformat()
    if group_by == "month":
        return day[:7]
    if group_by == "agent":
        return agent
    if group_by == "did":
        return did
    return "all"


def whole_weeks(group_by: str, first: date, last: date) -> list[date]:
    """The Mondays of the weeks inside first..last whose seven days fall in one group
    (none by day; by month, only weeks inside a month)."""
    monday = first + timedelta(days=-first.weekday() % 7)
    weeks = []
    while monday + timedelta(days=6) <= last:
        sunday = (monday + timedelta(days=6)).isoformat()
        if key_of(group_by, monday.isoformat(), "", "") == key_of(group_by, sunday, "", ""):
            weeks.append(monday)
        monday += WEEK
    return weeks


class RollupFigures:
    def __init__(
        self,
        engine: AsyncEngine,
        queries: FigureQueries | None = None,
        *,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._engine = engine
        self._queries = queries or FigureQueries(engine)
        self._now = now
        # One aggregation at a time: no duplicate work, no two writers of one day.
        self._lock = asyncio.Lock()
        # Stored days and built weeks stay so (a refresh replaces them in one
        # transaction): what was seen stored is not asked of the database again.
        self._stored: set[date] = set()
        self._built: set[date] = set()

    def _today(self) -> date:
        return self._now().astimezone(UTC).date()

    async def refresh(self, days: Iterable[date]) -> int:
        """(Re)compute closed days, and their weeks; returns how many days."""
        async with self._lock:
            return await self._refresh(days)

    async def _refresh(self, days: Iterable[date]) -> int:
        today = self._today()
        done = [day for day in days if day < today]
        for day in done:
            query = StatsQuery(
                since=_start(day), until=_start(day + timedelta(days=1)), group_by="did_agent"
            )
            levels: dict[tuple[str, str], Figures] = {}
            for row in await self._queries.figures(query):
                did, _, agent = row.key.partition(SEPARATOR)
                for level in ((did, agent), (did, ANY), (ANY, agent), (ANY, ANY)):
                    add(levels.setdefault(level, Figures(key="")), row)
            values = [
                {"day": day.isoformat(), "did": did, "agent_id": agent, "figures": to_json(f)}
                for (did, agent), f in levels.items()
            ]
            async with self._engine.begin() as conn:
                await conn.execute(delete(StatsDaily).where(StatsDaily.day == day.isoformat()))
                await conn.execute(delete(StatsDay).where(StatsDay.day == day.isoformat()))
                if values:
                    await conn.execute(insert(StatsDaily), values)
                await conn.execute(
                    insert(StatsDay).values(day=day.isoformat(), computed_at=self._now())
                )
            self._stored.add(day)
        for monday in sorted({_monday(day) for day in done}):
            if monday + timedelta(days=6) < today:
                await self._build_week(monday)
        return len(done)

    async def _build_week(self, monday: date) -> None:
        """A week's rows, summed from its seven stored days (if all are stored)."""
        first, last = monday.isoformat(), (monday + timedelta(days=6)).isoformat()
        async with self._engine.begin() as conn:
            await conn.execute(delete(StatsWeekly).where(StatsWeekly.week == first))
            stored = select(func.count()).where(StatsDay.day >= first, StatsDay.day <= last)
            if (await conn.execute(stored)).scalar_one() < 7:
                self._built.discard(monday)
                return
            levels: dict[tuple[str, str], Figures] = {(ANY, ANY): Figures(key="")}
            rows = select(StatsDaily).where(StatsDaily.day >= first, StatsDaily.day <= last)
            for row in await conn.execute(rows):
                add_json(levels.setdefault((row.did, row.agent_id), Figures(key="")), row.figures)
            await conn.execute(
                insert(StatsWeekly),
                [
                    {"week": first, "did": did, "agent_id": agent, "figures": to_json(f)}
                    for (did, agent), f in levels.items()
                ],
            )
        self._built.add(monday)

    async def _ensure(self, first: date, last: date, weeks: list[date]) -> None:
        """Aggregate the days first..last, and the weeks, not aggregated yet. Checked
        first without the lock, so a request does not wait behind `keep_fresh`'s
        recomputing when everything it reads is there."""
        if await self._missing(first, last, weeks) == ([], []):
            return
        async with self._lock:
            days, _ = await self._missing(first, last, [])
            if days:  # their whole weeks are built with them
                await self._refresh(days)
                log.info("stats.aggregated", days=len(days))
            _, mondays = await self._missing(first, last, weeks)
            for monday in mondays:  # e.g. days stored before weeks were (migration 0014)
                await self._build_week(monday)

    async def _missing(
        self, first: date, last: date, weeks: list[date]
    ) -> tuple[list[date], list[date]]:
        days = [d for d in _days(first, last) if d not in self._stored]
        mondays = [w for w in weeks if w not in self._built]
        if not days and not mondays:
            return [], []
        stored = select(StatsDay.day).where(StatsDay.day.in_([d.isoformat() for d in days]))
        marked = select(StatsWeekly.week).where(
            StatsWeekly.week.in_([w.isoformat() for w in mondays]),
            StatsWeekly.did == ANY,
            StatsWeekly.agent_id == ANY,
        )
        async with self._engine.connect() as conn:
            self._stored.update(map(date.fromisoformat, (await conn.execute(stored)).scalars()))
            self._built.update(map(date.fromisoformat, (await conn.execute(marked)).scalars()))
        return (
            [d for d in days if d not in self._stored],
            [w for w in mondays if w not in self._built],
        )

    def closed_statements(self, q: StatsQuery, first: date, last: date) -> dict[str, Select[Any]]:
        """The stored rows a request reads for its closed days first..last: whole
        weeks' rows and the other days' rows."""
        weeks = whole_weeks(q.group_by, first, last)
        in_weeks = {monday + timedelta(days=n) for monday in weeks for n in range(7)}
        days = [d.isoformat() for d in _days(first, last) if d not in in_weeks]
        grouped = q.group_by == "did", q.group_by == "agent"
        return {
            "stats_daily": select(
                StatsDaily.day, StatsDaily.did, StatsDaily.agent_id, StatsDaily.figures
            ).where(
                StatsDaily.day.in_(days),
                _level(StatsDaily.did, q.did, grouped[0]),
                _level(StatsDaily.agent_id, q.agent, grouped[1]),
            ),
            "stats_weekly": select(
                StatsWeekly.week.label("day"),
                StatsWeekly.did,
                StatsWeekly.agent_id,
                StatsWeekly.figures,
            ).where(
                StatsWeekly.week.in_([w.isoformat() for w in weeks]),
                _level(StatsWeekly.did, q.did, grouped[0]),
                _level(StatsWeekly.agent_id, q.agent, grouped[1]),
            ),
        }

    async def _read_closed(
        self, conn: AsyncConnection, q: StatsQuery, first: date, last: date
    ) -> dict[str, Figures]:
        rows: dict[str, Figures] = {}
        for stmt in self.closed_statements(q, first, last).values():
            for row in await conn.execute(stmt):
                if row.figures:  # a week with no calls has an empty marker row
                    key = key_of(q.group_by, row.day, row.did, row.agent_id)
                    figures = rows.get(key)
                    if figures is None:
                        figures = rows[key] = Figures(key=key)
                    add_json(figures, row.figures)
        for figures in rows.values():
            figures.effective = figures.talked_at_least(q.min_talk_s)
        return rows

    async def figures(self, q: StatsQuery) -> list[Figures]:
        """The same figures as FigureQueries.figures: closed days from the aggregated
        rows, today (and later) live. The two parts are read at once, on two
        connections: the database works on today's calls while Python merges the
        stored rows."""
        today = _start(self._today())
        closed, live = await asyncio.gather(
            self._closed(q, min(q.until, today)), self._live(q, max(q.since, today))
        )
        rows = {figures.key: figures for figures in closed}
        for figures in live:
            add(rows.setdefault(figures.key, Figures(key=figures.key)), figures)
        return [rows[k] for k in sorted(rows)]

    async def _closed(self, q: StatsQuery, until: datetime) -> list[Figures]:
        if q.since >= until:
            return []
        first, last = q.since.date(), (until - timedelta(days=1)).date()
        await self._ensure(first, last, whole_weeks(q.group_by, first, last))
        async with self._engine.connect() as conn:
            return list((await self._read_closed(conn, q, first, last)).values())

    async def _live(self, q: StatsQuery, since: datetime) -> list[Figures]:
        if since >= q.until:
            return []
        return await self._queries.figures(
            StatsQuery(
                since=since,
                until=q.until,
                group_by=q.group_by,
                agent=q.agent,
                did=q.did,
                min_talk_s=q.min_talk_s,
            )
        )

    async def keep_fresh(self, every_s: float, days: int = FRESH_DAYS) -> None:
        """Recompute the last `days` closed days every `every_s` seconds, forever; the
        first time soon after start (what changed while the service was down)."""
        wait = min(every_s, 30.0)
        while True:
            await asyncio.sleep(wait)
            wait = every_s
            today = self._today()
            try:
                await self.refresh(today - timedelta(days=n) for n in range(days, 0, -1))
            except Exception:  # the next round tries again; the figures stay readable
                log.exception("stats.refresh_failed")
