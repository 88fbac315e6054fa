"""What agents type: per call (fields, notes, outcome, next step) and per caller (name,
needs), saved as they type, so nothing is lost on a reload; and each user's language.

Writes are upserts of only the fields sent, so two debounced saves of different fields
never undo each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from telephony.store.models import Call, CallNote, ContactNote, UserPrefs

CALL_FIELDS = frozenset(
    {"name", "needs", "answers", "notes", "outcome", "lost_reason", "next_step", "next_step_at"}
)
LANGS = ("tr", "en")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CallNoteRecord:
    call_id: str
    agent_id: str | None = None
    name: str = ""
    needs: str = ""
    answers: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    outcome: str | None = None
    lost_reason: str | None = None
    next_step: str = ""
    next_step_at: datetime | None = None
    updated_at: datetime | None = None
    updated_by: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "agent_id": self.agent_id,
            "name": self.name,
            "needs": self.needs,
            "answers": self.answers,
            "notes": self.notes,
            "outcome": self.outcome,
            "lost_reason": self.lost_reason,
            "next_step": self.next_step,
            "next_step_at": self.next_step_at.isoformat() if self.next_step_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True)
class CallFacts:
    """What the access check needs about a call."""

    call_id: str
    agent_id: str | None
    caller_number: str | None


class Notes:
    def __init__(self, engine: AsyncEngine, *, now: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._now = now

    async def call_facts(self, call_id: str) -> CallFacts | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(Call.id, Call.agent_id, Call.caller_number).where(Call.id == call_id)
                )
            ).first()
        return CallFacts(row.id, row.agent_id, row.caller_number) if row else None

    async def get(self, call_id: str) -> CallNoteRecord:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(CallNote).where(CallNote.call_id == call_id))).first()
        if row is None:
            return CallNoteRecord(call_id)
        return CallNoteRecord(**{k: v for k, v in row._mapping.items()})

    async def save(
        self,
        call_id: str,
        fields: Mapping[str, Any],
        *,
        agent_id: str | None,
        by: str,
        caller_number: str | None = None,
    ) -> CallNoteRecord:
        """Store the fields given (validated by the caller, see telephony.web.workspace);
        the caller's name and needs also go to the contact when the number is known."""
        unknown = set(fields) - CALL_FIELDS
        if unknown:
            raise ValueError(f"unknown call note field(s) {sorted(unknown)}")
        now = self._now()
        values: dict[str, Any] = {
            "call_id": call_id,
            "agent_id": agent_id,
            "name": "",
            "needs": "",
            "answers": {},
            "notes": "",
            "next_step": "",
            "updated_at": now,
            "updated_by": by,
            **fields,
        }
        changed = {**fields, "updated_at": now, "updated_by": by}
        async with self._engine.begin() as conn:
            await _upsert(conn, CallNote, values, changed, CallNote.call_id)
            contact = {k: fields[k] for k in ("name", "needs") if k in fields}
            if caller_number and contact:
                await _upsert(
                    conn,
                    ContactNote,
                    {
                        "number_e164": caller_number,
                        "name": "",
                        "needs": "",
                        **contact,
                        "updated_at": now,
                        "updated_by": by,
                    },
                    {**contact, "updated_at": now, "updated_by": by},
                    ContactNote.number_e164,
                )
        return await self.get(call_id)

    async def lang(self, user_id: int) -> str | None:
        async with self._engine.connect() as conn:
            value = (
                await conn.execute(select(UserPrefs.lang).where(UserPrefs.user_id == user_id))
            ).scalar()
        return str(value) if value is not None else None

    async def set_lang(self, user_id: int, lang: str) -> None:
        if lang not in LANGS:
            raise ValueError(f"lang = {lang!r}: must be one of {list(LANGS)}")
        async with self._engine.begin() as conn:
            await _upsert(
                conn,
                UserPrefs,
                {"user_id": user_id, "lang": lang},
                {"lang": lang},
                UserPrefs.user_id,
            )


async def _upsert(
    conn: AsyncConnection,
    table: Any,
    values: Mapping[str, Any],
    changed: Mapping[str, Any],
    key: Any,
) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(dict(values))
    await conn.execute(stmt.on_conflict_do_update(index_elements=[key], set_=dict(changed)))
