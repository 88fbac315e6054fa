"""The figures pre-aggregated per closed UTC day, DID and agent, so a month or a
quarter reads a few thousand rows instead of every call (see the bench figures in
the README).

A day is aggregated the first time a request covers it after it ended, with the
same queries as the live figures (grouped by DID and agent); today is always live.
Figures that change after the day (an outcome set later, a recording checked, a
callback done) are caught by `keep_fresh`, which recomputes the last `FRESH_DAYS`
closed days every few minutes; older days are recomputed by `refresh`. Every counter
is additive, and the talk time is kept as a histogram of whole seconds, so medians
and effective calls (talk >= a minimum of whole seconds) stay exact after merging.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, Select, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.stats.figures import SEPARATOR, FigureQueries, Figures
from telephony.stats.period import StatsQuery
from telephony.store.models import StatsDaily, StatsDay

FRESH_DAYS = 35
# In a stored row's DID or agent: every DID / every agent (never a real id: a control
# character). Each day is stored at four levels, so a request reads the fewest rows:
# (ANY, ANY) per day, (ANY, agent), (DID, ANY) and (DID, agent).
ANY = "\x1f"
_HISTOGRAMS = ("abandoned_at_ring", "talk_s_counts")  # int keys
_COUNTERS = tuple(f.name for f in fields(Figures) if f.name not in ("key", "effective"))
_KNOWN = frozenset(_COUNTERS)

log = structlog.get_logger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, UTC)


def to_json(figures: Figures) -> dict[str, Any]:
    """A day's counters (not `effective`, which depends on the minimum asked for)."""
    out: dict[str, Any] = {}
    for name in _COUNTERS:
        value = getattr(figures, name)
        if value:  # zeros and empty histograms left out: smaller rows, faster reads
            out[name] = {str(k): v for k, v in value.items()} if isinstance(value, dict) else value
    return out


def add_json(figures: Figures, data: dict[str, Any]) -> None:
    for name, value in data.items():  # only what the day had (zeros are not stored)
        if name not in _KNOWN:
            continue
        if isinstance(value, dict):
            into: dict[Any, int] = getattr(figures, name)
            for k, v in value.items():
                key: Any = int(k) if name in _HISTOGRAMS else k
                into[key] = into.get(key, 0) + v
        else:
            setattr(figures, name, getattr(figures, name) + value)


def add(figures: Figures, other: Figures) -> None:
    """Add `other`'s counters (and its effective calls) into `figures`."""
    add_json(figures, to_json(other))
    figures.effective += other.effective


def _level(column: Any, wanted: str | None, grouped: bool) -> ColumnElement[bool]:
    """Which stored level to read for a DID or agent: one of them, each of them, or all."""
    if wanted is not None:
        return column == wanted  # type: ignore[no-any-return]
    return column != ANY if grouped else column == ANY  # type: ignore[no-any-return]


def key_of(group_by: str, day: str, did: str, agent: str) -> str:
    if group_by == "day":
        return day
    if group_by == "week":
        monday = date.fromisoformat(day)
        return (monday - timedelta(days=monday.weekday())).isoformat()
    if group_by == "month":
        return day[:7]
    if group_by == "agent":
        return agent
    if group_by == "did":
        return did
    return "all"


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

    def _today(self) -> date:
        return self._now().astimezone(UTC).date()

    async def refresh(self, days: Iterable[date]) -> int:
        """(Re)compute closed days; returns how many."""
        async with self._lock:
            return await self._refresh(days)

    async def _refresh(self, days: Iterable[date]) -> int:
        count = 0
        today = self._today()
        for day in days:
            if day >= today:
                continue
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
            count += 1
        return count

    async def _ensure(self, first: date, last: date) -> None:
        """Aggregate the days first..last not aggregated yet."""
        async with self._lock:
            stmt = select(StatsDay.day).where(
                StatsDay.day >= first.isoformat(), StatsDay.day <= last.isoformat()
            )
            async with self._engine.connect() as conn:
                done = set((await conn.execute(stmt)).scalars())
            days = (first + timedelta(days=n) for n in range((last - first).days + 1))
            missing = [d for d in days if d.isoformat() not in done]
            if missing:
                await self._refresh(missing)
                log.info("stats.aggregated", days=len(missing))

    def closed_statement(self, q: StatsQuery, first: date, last: date) -> Select[Any]:
        """The stored rows a request reads for its closed days first..last."""
        return select(StatsDaily).where(
            StatsDaily.day >= first.isoformat(),
            StatsDaily.day <= last.isoformat(),
            _level(StatsDaily.did, q.did, q.group_by == "did"),
            _level(StatsDaily.agent_id, q.agent, q.group_by == "agent"),
        )

    async def figures(self, q: StatsQuery) -> list[Figures]:
        """The same figures as FigureQueries.figures: closed days from the aggregated
        rows, today (and later) live."""
        today = _start(self._today())
        rows: dict[str, Figures] = {}
        closed_until = min(q.until, today)
        if q.since < closed_until:
            first = q.since.date()
            last = (closed_until - timedelta(days=1)).date()
            await self._ensure(first, last)
            stmt = self.closed_statement(q, first, last)
            async with self._engine.connect() as conn:
                for row in await conn.execute(stmt):
                    key = key_of(q.group_by, row.day, row.did, row.agent_id)
                    add_json(rows.setdefault(key, Figures(key=key)), row.figures)
            for figures in rows.values():
                figures.effective = sum(
                    n for s, n in figures.talk_s_counts.items() if s >= q.min_talk_s
                )
        if q.until > today:
            live = StatsQuery(
                since=max(q.since, today),
                until=q.until,
                group_by=q.group_by,
                agent=q.agent,
                did=q.did,
                min_talk_s=q.min_talk_s,
            )
            for figures in await self._queries.figures(live):
                add(rows.setdefault(figures.key, Figures(key=figures.key)), figures)
        return [rows[k] for k in sorted(rows)]

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
