"""The audit trail of policy changes; its newest entry per kind is the policy in force."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.store.models import PolicyChange


@dataclass(frozen=True)
class AuditEntry:
    kind: str
    who: str
    at: datetime
    old: dict[str, Any]
    new: dict[str, Any]


class PolicyAudit:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, entry: AuditEntry) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(PolicyChange).values(
                    kind=entry.kind, who=entry.who, at=entry.at, old=entry.old, new=entry.new
                )
            )

    async def latest(self, kind: str) -> dict[str, Any] | None:
        """The policy in force after the newest change, or None if never changed."""
        history = await self.history(kind, limit=1)
        return history[0].new if history else None

    async def history(self, kind: str, limit: int = 20) -> list[AuditEntry]:
        """Newest first."""
        stmt = (
            select(PolicyChange)
            .where(PolicyChange.kind == kind)
            .order_by(PolicyChange.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [AuditEntry(r.kind, r.who, r.at, r.old, r.new) for r in rows]
