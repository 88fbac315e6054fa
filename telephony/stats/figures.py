"""The playbook's figures per period, agent or DID, computed from the stored calls.

Definitions (the README repeats them):
- incoming: calls that arrived in the period and have ended (live calls are not counted).
- answered by a human: an agent answered (`answered_at`; a call the system answered
  into the queue counts once an agent took it).
- within the ring limit (service level): a human answered before ring `max_rings + 1`
  started (`answered_ring < max_rings + 1`, default limit 3); share of incoming.
- abandoned while ringing: ended `abandoned` before anyone answered, by the ring the
  caller hung up in (`floor(abandoned_ring)`: ring 0 = before the first ring ended).
- abandoned on hold: calls with a hold the caller hung up in.
- escalated: calls with at least one escalation step; by step name.
- missed: offers to an agent that rang out unanswered (`call_attempts.no_answer`), by
  the offered agent.
- talk = end - human answer. Effective: talk >= `min_talk_s`. Mean and median
  minutes per conversation (median to the second).
- holds (of the period's calls): count, mean seconds, share over 30 s.
- sales, from the agent's outcome of the call (one per call; a further step implies
  the earlier): offers = offer made + pending purchase + sale; pending; sales; lost.
  Conversion = sales / incoming. Funnel: incoming -> effective -> offer -> sale.
- next step with a date: share of calls answered by a human whose note has a dated
  next step.
- callback promises kept: promised callbacks due in the period (not cancelled) done at the
  first attempt, which the dialler starts when due. The store keeps no time of the
  first attempt, so a promise reached only on a retry counts as not kept.
- recordings complete: answered calls (by a human or the system) whose recording
  checked complete (or complete and later purged by retention); target 100%.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, distinct, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from telephony.stats.period import StatsQuery
from telephony.stats.sql import Dialect, count_where, everything
from telephony.store.holds import OVER_S
from telephony.store.models import (
    Call,
    CallAttempt,
    Callback,
    CallNote,
    CallScriptRow,
    Hold,
    Recording,
)
from telephony.store.script_conversion import VariantConversion, script_outcome_columns

DEFAULT_MAX_RINGS = 3
SEPARATOR = "\x1f"  # between DID and agent in a did_agent key
SCRIPT_MEASURES = ("calls", "offers", "pending", "sales", "next_steps", "lost")


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class Figures:
    key: str
    incoming: int = 0
    answered_by_human: int = 0
    within_limit: int = 0
    abandoned_ringing: int = 0
    abandoned_at_ring: dict[int, int] = field(default_factory=dict)
    abandoned_on_hold: int = 0
    escalated: int = 0
    escalations_by_step: dict[str, int] = field(default_factory=dict)
    missed: int = 0
    talked: int = 0
    talk_s_total: float = 0.0
    # Each talked call's whole seconds (not a histogram: merging stored days is then
    # list.extend and one sort, both in C; the median and effective calls stay exact).
    talk_s: list[int] = field(default_factory=list)
    effective: int = 0
    holds: int = 0
    hold_s_total: float = 0.0
    holds_over_30s: int = 0
    offers: int = 0
    pending: int = 0
    sales: int = 0
    lost: int = 0
    next_step_dated: int = 0
    callbacks_due: int = 0
    callbacks_kept: int = 0
    recordings_expected: int = 0
    recordings_complete: int = 0
    # Per script, version and variant ("key|version|variant"): calls per measure, in the
    # order of SCRIPT_MEASURES; additive like every counter, so stored days merge exactly.
    scripts: dict[str, list[int]] = field(default_factory=dict)

    def add_scripts(self, scripts: dict[str, list[int]]) -> None:
        for name, counts in scripts.items():
            mine = self.scripts.get(name)
            self.scripts[name] = (
                list(counts) if mine is None else [a + b for a, b in zip(mine, counts, strict=True)]
            )

    def variants(self) -> list[VariantConversion]:
        """`scripts` as one conversion row per script, version and variant."""
        by_variant: dict[tuple[str, int, str], dict[str, int]] = {}
        for name, counts in self.scripts.items():
            key, version, variant = name.split("|")
            by_variant[(key, int(version), variant)] = dict(
                zip(SCRIPT_MEASURES, counts, strict=True)
            )
        return [
            VariantConversion.of(key, version, variant, **c)
            for (key, version, variant), c in sorted(by_variant.items())
        ]

    def sorted_talk(self) -> list[int]:
        """`talk_s`, sorted in place (cheap when it already is)."""
        self.talk_s.sort()
        return self.talk_s

    def talked_at_least(self, seconds: int) -> int:
        talk = self.sorted_talk()
        return len(talk) - bisect_left(talk, seconds)

    @property
    def talk_median_s(self) -> float | None:
        talk = self.sorted_talk()
        if not talk:
            return None
        middle = len(talk) // 2
        return float(talk[middle]) if len(talk) % 2 else (talk[middle - 1] + talk[middle]) / 2

    def as_json(self) -> dict[str, Any]:
        median_s = self.talk_median_s
        return {
            "key": self.key,
            "calls": {
                "incoming": self.incoming,
                "answered_by_human": self.answered_by_human,
                "within_limit": self.within_limit,
                "service_level": _share(self.within_limit, self.incoming),
                "abandoned_ringing": self.abandoned_ringing,
                "abandoned_at_ring": {str(k): v for k, v in sorted(self.abandoned_at_ring.items())},
                "abandoned_on_hold": self.abandoned_on_hold,
                "escalated": self.escalated,
                "escalations_by_step": dict(sorted(self.escalations_by_step.items())),
                "missed": self.missed,
            },
            "talk": {
                "talked": self.talked,
                "effective": self.effective,
                "mean_min": round(self.talk_s_total / self.talked / 60, 2) if self.talked else None,
                "median_min": round(median_s / 60, 2) if median_s is not None else None,
                "holds": self.holds,
                "hold_mean_s": round(self.hold_s_total / self.holds, 1) if self.holds else None,
                "holds_over_30s_share": _share(self.holds_over_30s, self.holds),
            },
            "sales": {
                "offers": self.offers,
                "pending": self.pending,
                "sales": self.sales,
                "lost": self.lost,
                "conversion": _share(self.sales, self.incoming),
                "next_step_dated_share": _share(self.next_step_dated, self.answered_by_human),
                "callbacks_due": self.callbacks_due,
                "callbacks_kept_share": _share(self.callbacks_kept, self.callbacks_due),
            },
            "funnel": [
                {"step": "incoming", "calls": self.incoming},
                {"step": "effective", "calls": self.effective},
                {"step": "offer", "calls": self.offers},
                {"step": "sale", "calls": self.sales},
            ],
            "recordings": {
                "expected": self.recordings_expected,
                "complete": self.recordings_complete,
                "complete_share": _share(self.recordings_complete, self.recordings_expected),
            },
            "scripts": [v.as_json() for v in self.variants()],
        }


class FigureQueries:
    """The dashboard's queries, each one grouped read of the period (see the bench)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sql = Dialect(engine.dialect.name)

    def _key(self, q: StatsQuery, at: Any, agent: Any, did: Any) -> ColumnElement[Any]:
        if q.group_by == "did_agent":
            pair = func.coalesce(did, "") + literal(SEPARATOR) + func.coalesce(agent, "")
            return pair.label("key")
        if q.group_by == "total":
            return everything().label("key")
        if q.group_by == "agent":
            return func.coalesce(agent, "").label("key")
        if q.group_by == "did":
            return func.coalesce(did, "").label("key")
        return self._sql.bucket(at, q.group_by).label("key")

    def _calls_in(
        self, q: StatsQuery, stmt: Select[Any], *, agent: Any = Call.agent_id
    ) -> Select[Any]:
        stmt = stmt.where(
            Call.arrived_at >= q.since, Call.arrived_at < q.until, Call.ended_at.is_not(None)
        )
        if q.did is not None:
            stmt = stmt.where(Call.did == q.did)
        if q.agent is not None:
            stmt = stmt.where(agent == q.agent)
        return stmt

    def call_counts(self, q: StatsQuery) -> Select[Any]:
        key = self._key(q, Call.arrived_at, Call.agent_id, Call.did)
        abandoned = and_(Call.outcome == "abandoned", Call.answered_at.is_(None))
        ring = case((abandoned, self._sql.floor(Call.abandoned_ring)), else_=None).label("ring")
        within = and_(
            Call.answered_ring.is_not(None),
            Call.answered_ring < func.coalesce(Call.max_rings, DEFAULT_MAX_RINGS) + 1,
        )
        talk = self._sql.seconds(Call.answered_at, Call.ended_at)
        human = Call.answered_at.is_not(None)
        return self._calls_in(
            q,
            select(
                key,
                ring,
                func.count().label("incoming"),
                count_where(human).label("human"),
                count_where(within).label("within"),
                count_where(abandoned).label("abandoned"),
                func.sum(case((human, talk), else_=0.0)).label("talk_s"),
                count_where(and_(human, talk >= q.min_talk_s)).label("effective"),
                func.sum(
                    case((or_(human, Call.system_answered_at.is_not(None)), 1), else_=0)
                ).label("recorded"),
            ).group_by(key, ring),
        )

    def talk_seconds(self, q: StatsQuery) -> Select[Any]:
        key = self._key(q, Call.arrived_at, Call.agent_id, Call.did)
        second = self._sql.floor(self._sql.seconds(Call.answered_at, Call.ended_at)).label("s")
        return self._calls_in(
            q,
            select(key, second, func.count().label("n"))
            .where(Call.answered_at.is_not(None))
            .group_by(key, second),
        )

    def escalations(self, q: StatsQuery) -> Select[Any]:
        key = self._key(q, Call.arrived_at, Call.agent_id, Call.did)
        return self._calls_in(q, select(key, Call.escalations).where(Call.escalations.is_not(None)))

    def missed(self, q: StatsQuery) -> Select[Any]:
        key = self._key(q, Call.arrived_at, CallAttempt.agent_id, Call.did)
        return self._calls_in(
            q,
            select(key, func.count().label("n"))
            .select_from(CallAttempt)
            .join(Call, Call.id == CallAttempt.call_id)
            .where(CallAttempt.outcome == "no_answer")
            .group_by(key),
            agent=CallAttempt.agent_id,
        )

    def holds(self, q: StatsQuery) -> Select[Any]:
        key = self._key(q, Call.arrived_at, Call.agent_id, Call.did)
        length = self._sql.seconds(Hold.started_at, Hold.ended_at)
        hung_up = case((Hold.outcome == "caller_hung_up", Hold.call_id), else_=None)
        return self._calls_in(
            q,
            select(
                key,
                func.count(Hold.ended_at).label("holds"),
                func.sum(case((Hold.ended_at.is_not(None), length), else_=0.0)).label("s"),
                count_where(length > OVER_S).label("over"),
                func.count(distinct(hung_up)).label("hung_up"),
            )
            .select_from(Hold)
            .join(Call, Call.id == Hold.call_id)
            .group_by(key),
        )

    def outcomes(self, q: StatsQuery) -> Select[Any]:
        key = self._key(q, Call.arrived_at, Call.agent_id, Call.did)
        return self._calls_in(
            q,
            select(
                key,
                count_where(CallNote.outcome.in_(("offer_made", "pending_purchase", "sale"))).label(
                    "offers"
                ),
                count_where(CallNote.outcome == "pending_purchase").label("pending"),
                count_where(CallNote.outcome == "sale").label("sales"),
                count_where(CallNote.outcome == "lost").label("lost"),
                count_where(
                    and_(CallNote.next_step_at.is_not(None), Call.answered_at.is_not(None))
                ).label("dated"),
            )
            .select_from(CallNote)
            .join(Call, Call.id == CallNote.call_id)
            .group_by(key),
        )

    def recordings(self, q: StatsQuery) -> Select[Any]:
        key = self._key(q, Call.arrived_at, Call.agent_id, Call.did)
        return self._calls_in(
            q,
            select(key, func.count().label("n"))
            .select_from(Recording)
            .join(Call, Call.id == Recording.call_id)
            .where(
                Recording.status.in_(("complete", "purged")),
                Recording.checked_at.is_not(None),
                or_(Call.answered_at.is_not(None), Call.system_answered_at.is_not(None)),
            )
            .group_by(key),
        )

    def callbacks(self, q: StatsQuery) -> Select[Any]:
        key = self._key(q, Callback.due_at, Callback.agent_id, Callback.did)
        kept = and_(Callback.status == "done", Callback.attempts == 1)
        stmt = (
            select(
                key,
                func.count().label("due"),
                count_where(kept).label("kept"),
            )
            .where(
                Callback.due_at >= q.since,
                Callback.due_at < q.until,
                Callback.status != "cancelled",
                Callback.promise.is_(True),
            )
            .group_by(key)
        )
        if q.did is not None:
            stmt = stmt.where(Callback.did == q.did)
        if q.agent is not None:
            stmt = stmt.where(Callback.agent_id == q.agent)
        return stmt

    def scripts(self, q: StatsQuery) -> Select[Any]:
        """Per script, version and variant the calls that had it (stored when an agent
        answered) and their outcomes; the definitions of /api/scripts/conversion."""
        key = self._key(q, Call.arrived_at, Call.agent_id, Call.did)
        return self._calls_in(
            q,
            select(
                key,
                CallScriptRow.key.label("script"),
                CallScriptRow.version,
                CallScriptRow.variant,
                *script_outcome_columns(),
            )
            .select_from(CallScriptRow)
            .join(Call, Call.id == CallScriptRow.call_id)
            .outerjoin(CallNote, CallNote.call_id == CallScriptRow.call_id)
            .group_by(key, CallScriptRow.key, CallScriptRow.version, CallScriptRow.variant),
        )

    def all_statements(self, q: StatsQuery) -> dict[str, Select[Any]]:
        """Every query of the dashboard, by name (the bench times each)."""
        return {
            "call_counts": self.call_counts(q),
            "talk_seconds": self.talk_seconds(q),
            "escalations": self.escalations(q),
            "missed": self.missed(q),
            "holds": self.holds(q),
            "outcomes": self.outcomes(q),
            "recordings": self.recordings(q),
            "callbacks": self.callbacks(q),
            "scripts": self.scripts(q),
        }

    async def figures(self, q: StatsQuery) -> list[Figures]:
        """One row per group, ordered by key (groups with no calls are left out)."""
        rows: dict[str, Figures] = {}

        def of(key: Any) -> Figures:
            figures = rows.get(str(key))
            if figures is None:  # built only when new: a call per result row
                figures = rows[str(key)] = Figures(key=str(key))
            return figures

        async def read(part: Callable[[AsyncConnection, StatsQuery, Any], Awaitable[None]]) -> None:
            async with self._engine.connect() as conn:
                await part(conn, q, of)

        # Two connections at once: the database runs one half's queries while Python
        # reads the other half's rows (each half in its own snapshot, as PostgreSQL's
        # READ COMMITTED gives each query anyway).
        await asyncio.gather(read(self._read_calls), read(self._read_outcomes))
        return [rows[k] for k in sorted(rows)]

    async def _read_calls(self, conn: AsyncConnection, q: StatsQuery, of: Any) -> None:
        for r in await conn.execute(self.call_counts(q)):
            figure: Figures = of(r.key)
            figure.incoming += r.incoming
            figure.answered_by_human += r.human or 0
            figure.talked += r.human or 0
            figure.within_limit += r.within or 0
            figure.abandoned_ringing += r.abandoned or 0
            figure.talk_s_total += float(r.talk_s or 0.0)
            figure.effective += r.effective or 0
            figure.recordings_expected += r.recorded or 0
            if r.ring is not None:
                ring = max(int(r.ring), 0)
                figure.abandoned_at_ring[ring] = figure.abandoned_at_ring.get(ring, 0) + r.abandoned
        for r in await conn.execute(self.talk_seconds(q)):
            of(r.key).talk_s.extend([max(int(r.s or 0), 0)] * r.n)
        for r in await conn.execute(self.escalations(q)):
            steps = r.escalations if isinstance(r.escalations, list) else []
            if not steps:
                continue
            figure = of(r.key)
            figure.escalated += 1
            for step in steps:
                name = str(step.get("step", "")) if isinstance(step, dict) else ""
                figure.escalations_by_step[name] = figure.escalations_by_step.get(name, 0) + 1
        for r in await conn.execute(self.missed(q)):
            of(r.key).missed += r.n
        for r in await conn.execute(self.holds(q)):
            figure = of(r.key)
            figure.holds += r.holds or 0
            figure.hold_s_total += float(r.s or 0.0)
            figure.holds_over_30s += r.over or 0
            figure.abandoned_on_hold += r.hung_up or 0

    async def _read_outcomes(self, conn: AsyncConnection, q: StatsQuery, of: Any) -> None:
        for r in await conn.execute(self.outcomes(q)):
            figure = of(r.key)
            figure.offers += r.offers or 0
            figure.pending += r.pending or 0
            figure.sales += r.sales or 0
            figure.lost += r.lost or 0
            figure.next_step_dated += r.dated or 0
        for r in await conn.execute(self.recordings(q)):
            of(r.key).recordings_complete += r.n
        for r in await conn.execute(self.callbacks(q)):
            figure = of(r.key)
            figure.callbacks_due += r.due
            figure.callbacks_kept += r.kept or 0
        for r in await conn.execute(self.scripts(q)):
            counts = [int(getattr(r, measure) or 0) for measure in SCRIPT_MEASURES]
            of(r.key).add_scripts({f"{r.script}|{r.version}|{r.variant}": counts})
