"""Service level in rings: the share of inbound calls a human answered within the ring
limit, and how many rings callers heard, per day, DID or agent.

"Within the limit" means answered before ring `max_rings + 1` started, i.e.
`answered_ring < max_rings + 1` (see telephony.rings). Calls the system answered
(queue) or that were abandoned do not count as answered by a human.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Integer, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.stats.sql import count_where
from telephony.store.models import Call

GroupBy = Literal["day", "did", "agent"]


@dataclass
class ServiceLevel:
    key: str
    calls: int = 0
    answered_by_human: int = 0
    within_limit: int = 0
    abandoned: int = 0
    system_answered: int = 0
    # ring number (1, 2, 3...) at which a human answered -> calls
    rings_to_answer: dict[int, int] = field(default_factory=dict)

    @property
    def share_within_limit(self) -> float | None:
        return self.within_limit / self.calls if self.calls else None

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "calls": self.calls,
            "answered_by_human": self.answered_by_human,
            "within_limit": self.within_limit,
            "share_within_limit": self.share_within_limit,
            "abandoned": self.abandoned,
            "system_answered": self.system_answered,
            "rings_to_answer": {str(k): v for k, v in sorted(self.rings_to_answer.items())},
        }


async def service_level(
    engine: AsyncEngine, *, since: datetime, until: datetime, group_by: GroupBy
) -> list[ServiceLevel]:
    """One row per group, ordered by key; calls that arrived in [since, until)."""
    key: ColumnElement[Any] = {
        "day": func.date(Call.arrived_at),
        "did": Call.did,
        "agent": func.coalesce(Call.agent_id, ""),
    }[group_by].label("key")
    # The ring a call was answered in: floor(). SQLite's CAST truncates (= floor for
    # positive values) and has no floor() by default; PostgreSQL's CAST rounds.
    if engine.dialect.name == "postgresql":
        ring = cast(func.floor(Call.answered_ring), Integer).label("ring")
    else:
        ring = cast(Call.answered_ring, Integer).label("ring")
    within = and_(
        Call.answered_ring.is_not(None), Call.answered_ring < func.coalesce(Call.max_rings, 3) + 1
    )
    stmt = (
        select(
            key,
            ring,
            func.count().label("calls"),
            count_where(within).label("within"),
            count_where(Call.outcome == "abandoned").label("abandoned"),
            count_where(Call.system_answered_at.is_not(None)).label("system"),
        )
        .where(Call.arrived_at >= since, Call.arrived_at < until, Call.ended_at.is_not(None))
        .group_by(key, ring)
    )
    rows: dict[str, ServiceLevel] = {}
    async with engine.connect() as conn:
        for r in await conn.execute(stmt):
            level = rows.setdefault(str(r.key), ServiceLevel(key=str(r.key)))
            level.calls += r.calls
            level.within_limit += r.within or 0
            level.abandoned += r.abandoned or 0
            level.system_answered += r.system or 0
            if r.ring is not None:
                level.answered_by_human += r.calls
                level.rings_to_answer[int(r.ring)] = r.calls
    return [rows[k] for k in sorted(rows)]
