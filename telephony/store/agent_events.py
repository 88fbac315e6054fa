"""Agents' state changes, stored as they happen (for supervisors and statistics)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.store.models import AgentEvent


@dataclass(frozen=True)
class AgentEventRecord:
    agent_id: str
    at: datetime
    status: str
    reason: str | None
    by: str


class AgentEvents:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, event: AgentEventRecord) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(AgentEvent).values(
                    agent_id=event.agent_id,
                    at=event.at,
                    status=event.status,
                    reason=event.reason[:80] if event.reason else None,
                    by=event.by,
                )
            )

    async def of_agent(self, agent_id: str, limit: int = 50) -> list[AgentEventRecord]:
        """Newest first."""
        stmt = (
            select(AgentEvent)
            .where(AgentEvent.agent_id == agent_id)
            .order_by(AgentEvent.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [AgentEventRecord(r.agent_id, r.at, r.status, r.reason, r.by) for r in rows]
