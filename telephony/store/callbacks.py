"""Outbound callback tasks: created by people, taken by the scheduler when due.

`take_due` moves a task from `pending` to `calling` with a conditional update, so a
task is never called twice at once; `settle` stores the attempt's result. A task left
`calling` by a process that died is put back with `requeue_calling` at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.store.models import Callback

# The playbook: promise a callback in 10-15 minutes, and keep it. Later than this is a
# promise broken (flagged on the supervisor's page).
PROMISE_DUE = timedelta(minutes=15)
PROMISE_GRACE = timedelta(minutes=2)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CallbackRecord:
    id: int
    number: str
    did: str
    due_at: datetime
    attempts: int
    max_attempts: int
    status: str
    last_outcome: str | None
    last_rings: float | None
    last_call_id: str | None
    handled_by: str | None
    created_by: str
    agent_id: str | None
    created_at: datetime
    updated_at: datetime
    promise: bool = False
    note: str | None = None
    call_id: str | None = None

    def late(self, now: datetime) -> bool:
        """A promise not kept: still not done a grace period after it was due."""
        return (
            self.promise
            and self.status in ("pending", "calling")
            and now > (self.due_at + PROMISE_GRACE)
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "did": self.did,
            "due_at": self.due_at.isoformat(),
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "status": self.status,
            "last_outcome": self.last_outcome,
            "last_rings": self.last_rings,
            "last_call_id": self.last_call_id,
            "handled_by": self.handled_by,
            "created_by": self.created_by,
            "agent_id": self.agent_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "promise": self.promise,
            "note": self.note,
            "call_id": self.call_id,
        }


def _record(row: Any) -> CallbackRecord:
    return CallbackRecord(
        id=row.id,
        number=row.number,
        did=row.did,
        due_at=row.due_at,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        status=row.status,
        last_outcome=row.last_outcome,
        last_rings=row.last_rings,
        last_call_id=row.last_call_id,
        handled_by=row.handled_by,
        created_by=row.created_by,
        agent_id=row.agent_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        promise=bool(row.promise),
        note=row.note,
        call_id=row.call_id,
    )


class CallbackStore:
    def __init__(self, engine: AsyncEngine, *, now: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._now = now

    async def create(
        self,
        *,
        number: str,
        did: str,
        due_at: datetime,
        max_attempts: int,
        created_by: str,
        agent_id: str | None = None,
        promise: bool = False,
        note: str | None = None,
        call_id: str | None = None,
    ) -> CallbackRecord:
        now = self._now()
        values = {
            "promise": promise,
            "note": note,
            "call_id": call_id,
            "number": number,
            "did": did,
            "due_at": due_at,
            "attempts": 0,
            "max_attempts": max_attempts,
            "status": "pending",
            "created_by": created_by,
            "agent_id": agent_id,
            "created_at": now,
            "updated_at": now,
        }
        async with self._engine.begin() as conn:
            result = await conn.execute(insert(Callback).values(**values).returning(Callback.id))
            new_id = result.scalar_one()
        found = await self.get(new_id)
        assert found is not None
        return found

    async def get(self, callback_id: int) -> CallbackRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(Callback).where(Callback.id == callback_id))
            ).one_or_none()
        return _record(row) if row is not None else None

    async def list_tasks(
        self, *, agent_id: str | None = None, created_by: str | None = None, limit: int = 200
    ) -> list[CallbackRecord]:
        """Newest first; with `agent_id`/`created_by`: the tasks of that agent or user."""
        stmt = select(Callback).order_by(Callback.id.desc()).limit(limit)
        if agent_id is not None or created_by is not None:
            stmt = stmt.where((Callback.agent_id == agent_id) | (Callback.created_by == created_by))
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_record(r) for r in rows]

    async def take_due(self, now: datetime, limit: int = 10) -> list[CallbackRecord]:
        """Pending tasks due by `now`, oldest due first, marked `calling` (each once)."""
        stmt = (
            select(Callback.id)
            .where(Callback.status == "pending", Callback.due_at <= now)
            .order_by(Callback.due_at, Callback.id)
            .limit(limit)
        )
        taken: list[int] = []
        async with self._engine.begin() as conn:
            for (callback_id,) in (await conn.execute(stmt)).all():
                result = await conn.execute(
                    update(Callback)
                    .where(Callback.id == callback_id, Callback.status == "pending")
                    .values(status="calling", updated_at=now)
                )
                if result.rowcount == 1:
                    taken.append(callback_id)
        records = [await self.get(i) for i in taken]
        return [r for r in records if r is not None]

    async def settle(
        self,
        callback_id: int,
        *,
        status: str,
        outcome: str,
        rings: float | None = None,
        due_at: datetime | None = None,
        handled_by: str | None = None,
        call_id: str | None = None,
    ) -> None:
        """One attempt ended: count it, store its outcome, set the new status (and due time)."""
        values: dict[str, Any] = {
            "status": status,
            "attempts": Callback.attempts + 1,
            "last_outcome": outcome,
            "last_rings": rings,
            "updated_at": self._now(),
        }
        if due_at is not None:
            values["due_at"] = due_at
        if handled_by is not None:
            values["handled_by"] = handled_by
        if call_id is not None:
            values["last_call_id"] = call_id
        async with self._engine.begin() as conn:
            await conn.execute(update(Callback).where(Callback.id == callback_id).values(**values))

    async def cancel(self, callback_id: int) -> bool:
        """A pending task will not be called; False if it is being called or done."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(Callback)
                .where(Callback.id == callback_id, Callback.status == "pending")
                .values(status="cancelled", updated_at=self._now())
            )
        return bool(result.rowcount == 1)

    async def requeue_calling(self) -> int:
        """Tasks a stopped process was calling are pending again; returns how many."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                update(Callback)
                .where(Callback.status == "calling")
                .values(status="pending", updated_at=self._now())
            )
        return int(result.rowcount)
