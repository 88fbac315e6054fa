"""Recording rows (one per answered call) and the audit of what people did with them."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.store.models import Call, Recording, RecordingAudit
from telephony.store.writer import begin


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RecordingRecord:
    call_id: str
    name: str
    token: str
    path: str | None
    format: str
    channels: int
    started_at: datetime
    ended_at: datetime | None
    expected_s: float | None
    duration_s: float | None
    size_bytes: int | None
    sha256: str | None
    status: str
    detail: str | None
    pauses: list[dict[str, Any]]
    checked_at: datetime | None
    retain_until: datetime | None
    legal_hold: bool
    purged_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        """What a page shows: never the path, the token only as the audio URL."""
        return {
            "call_id": self.call_id,
            "status": self.status,
            "detail": self.detail,
            "format": self.format,
            "channels": self.channels,
            "started_at": self.started_at.isoformat(),
            "duration_s": self.duration_s,
            "expected_s": self.expected_s,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "pauses": self.pauses,
            "legal_hold": self.legal_hold,
            "retain_until": self.retain_until.isoformat() if self.retain_until else None,
            "audio_url": f"/api/recordings/{self.token}/audio"
            if self.status not in ("missing", "purged", "failed") and self.path
            else None,
        }


_COLUMNS = [f.name for f in fields(RecordingRecord)]


class RecordingStore:
    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._clock = clock

    async def started(self, call_id: str, name: str, fmt: str, channels: int, at: datetime) -> None:
        """A recording began; safe to repeat (the first start is kept). In the store
        writer's batch when it runs in one (telephony.store.writer)."""
        async with begin(self._engine) as conn:
            there = select(Recording.call_id).where(Recording.call_id == call_id)
            if (await conn.execute(there)).first() is not None:
                return
            await conn.execute(
                insert(Recording).values(
                    call_id=call_id,
                    name=name,
                    token=secrets.token_urlsafe(24),
                    format=fmt,
                    channels=channels,
                    started_at=at,
                    status="recording",
                    pauses=[],
                    legal_hold=False,
                )
            )

    async def update(self, call_id: str, **values: Any) -> None:
        unknown = set(values) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown recording fields: {sorted(unknown)}")
        async with begin(self._engine) as conn:
            await conn.execute(update(Recording).where(Recording.call_id == call_id).values(values))

    async def forget(self, call_id: str) -> None:
        """A recording that never began (the caller left as it was answered)."""
        async with begin(self._engine) as conn:
            await conn.execute(delete(Recording).where(Recording.call_id == call_id))

    async def get(self, call_id: str) -> RecordingRecord | None:
        return await self._one(select(Recording).where(Recording.call_id == call_id))

    async def by_token(self, token: str) -> RecordingRecord | None:
        if not 16 <= len(token) <= 64:
            return None
        return await self._one(select(Recording).where(Recording.token == token))

    async def for_calls(self, call_ids: list[str]) -> dict[str, RecordingRecord]:
        if not call_ids:
            return {}
        found = await self._many(select(Recording).where(Recording.call_id.in_(call_ids)))
        return {r.call_id: r for r in found}

    async def unchecked(self) -> list[RecordingRecord]:
        """Recordings still running or whose check never ran (a process died before)."""
        return await self._many(select(Recording).where(Recording.status == "recording"))

    async def checked(self, limit: int = 10_000) -> list[RecordingRecord]:
        """Recordings with a file that should be there (for the file-deleted-by-hand check)."""
        stmt = select(Recording).where(
            Recording.path.is_not(None), Recording.status.not_in(("missing", "purged"))
        )
        return await self._many(stmt.order_by(Recording.started_at.desc()).limit(limit))

    async def expired(self, now: datetime) -> list[RecordingRecord]:
        stmt = select(Recording).where(
            Recording.retain_until <= now,
            Recording.legal_hold.is_(False),
            Recording.purged_at.is_(None),
        )
        return await self._many(stmt)

    async def call_facts(self, call_id: str) -> dict[str, Any] | None:
        """What the check compares with: when the call was answered and ended, and by whom."""
        stmt = select(
            Call.answered_at, Call.system_answered_at, Call.ended_at, Call.agent_id, Call.did
        ).where(Call.id == call_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).mappings().first()
        return dict(row) if row is not None else None

    async def correct_call_end(self, call_id: str, ended_at: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(update(Call).where(Call.id == call_id).values(ended_at=ended_at))

    async def audit(self, call_id: str, who: str, action: str, **detail: Any) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(RecordingAudit).values(
                    call_id=call_id, at=self._clock(), who=who, action=action, detail=detail
                )
            )

    async def audit_log(self, call_id: str) -> list[dict[str, Any]]:
        stmt = (
            select(RecordingAudit)
            .where(RecordingAudit.call_id == call_id)
            .order_by(RecordingAudit.id)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [
            {
                "at": r["at"].isoformat(),
                "who": r["who"],
                "action": r["action"],
                "detail": r["detail"],
            }
            for r in rows
        ]

    async def _one(self, stmt: Any) -> RecordingRecord | None:
        found = await self._many(stmt.limit(1))
        return found[0] if found else None

    async def _many(self, stmt: Any) -> list[RecordingRecord]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [RecordingRecord(**{c: r[c] for c in _COLUMNS}) for r in rows]
