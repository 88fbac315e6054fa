"""Holds: one row per hold (open while the caller is on hold), and the hold figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.store.models import Hold
from telephony.store.writer import begin

OVER_S = 30.0  # the playbook's limit: "keep a hold under 30 seconds"


class HoldStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(
        self,
        call_id: str,
        *,
        started_at: datetime,
        source: str,
        agent_id: str | None,
        ended_at: datetime | None,
        outcome: str | None,
        warned: bool,
        over_limit: bool,
    ) -> None:
        """Insert the hold, or update it (one hold = one call and start time)."""
        values = {
            "ended_at": ended_at,
            "outcome": outcome,
            "warned": warned,
            "over_limit": over_limit,
        }
        key = and_(Hold.call_id == call_id, Hold.started_at == started_at)
        async with begin(self._engine) as conn:
            found = await conn.execute(update(Hold).where(key).values(values))
            if found.rowcount == 0:
                await conn.execute(
                    insert(Hold).values(
                        call_id=call_id,
                        started_at=started_at,
                        source=source,
                        agent_id=agent_id,
                        **values,
                    )
                )

    async def of_call(self, call_id: str) -> list[dict[str, Any]]:
        stmt = select(Hold).where(Hold.call_id == call_id).order_by(Hold.started_at)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [_row(r) for r in rows]

    async def open_hold(self, call_id: str) -> dict[str, Any] | None:
        """The hold a call is in now, if any (to resume the watchdog after a restart)."""
        stmt = (
            select(Hold)
            .where(Hold.call_id == call_id, Hold.ended_at.is_(None))
            .order_by(Hold.started_at.desc())
            .limit(1)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        return _row(row) if row is not None else None

    async def per_agent(self, day_start: datetime) -> list[dict[str, Any]]:
        """Per agent for one day: holds, mean length, share over 30 s, hold abandons."""
        stmt = select(Hold).where(
            Hold.started_at >= day_start,
            Hold.started_at < day_start + timedelta(days=1),
            Hold.ended_at.is_not(None),
        )
        # Lengths are computed here, not in SQL: the same code on SQLite and PostgreSQL.
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        by_agent: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_agent.setdefault(row["agent_id"] or "", []).append(dict(row))
        figures = []
        for agent, holds in sorted(by_agent.items()):
            seconds = [(h["ended_at"] - h["started_at"]).total_seconds() for h in holds]
            figures.append(
                {
                    "agent_id": agent or None,
                    "holds": len(holds),
                    "mean_s": round(sum(seconds) / len(seconds), 1),
                    "longest_s": round(max(seconds), 1),
                    "over_30s_share": round(sum(s > OVER_S for s in seconds) / len(seconds), 3),
                    "abandoned_on_hold": sum(h["outcome"] == "caller_hung_up" for h in holds),
                }
            )
        return figures


def _row(row: Any) -> dict[str, Any]:
    return {
        "started_at": row["started_at"].isoformat(),
        "ended_at": row["ended_at"].isoformat() if row["ended_at"] else None,
        "source": row["source"],
        "agent_id": row["agent_id"],
        "outcome": row["outcome"],
        "warned": row["warned"],
        "over_limit": row["over_limit"],
    }
