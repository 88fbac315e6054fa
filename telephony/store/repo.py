"""Call history and contacts: the only code that reads or writes the tables."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, bindparam, case, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from telephony.config import AgentConfig
from telephony.numbers import clean_caller_name, normalise_number
from telephony.store.models import (
    ATTEMPT_OUTCOMES,
    HANGUP_BY,
    OUTCOMES,
    Agent,
    Call,
    CallAttempt,
    Contact,
)
from telephony.store.writer import begin

MAX_LIMIT = 1000
# Caller-supplied text columns are String(80); longer input is cut, never rejected.
_TEXT_CAP = 80


class CallNotFoundError(LookupError):
    """update_call was given an id that is not in the database."""


@dataclass(frozen=True, slots=True)
class CallRecord:
    id: str
    did: str
    caller_number_raw: str
    caller_number: str | None
    caller_name: str
    contact_id: int | None
    agent_id: str | None
    caller_channel_id: str
    agent_channel_id: str | None
    bridge_id: str | None
    recording_name: str | None
    arrived_at: datetime
    ringing_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    hangup_by: str | None
    cadence: str | None = None
    max_rings: float | None = None
    answered_ring: float | None = None
    abandoned_ring: float | None = None
    system_answered_at: datetime | None = None
    escalations: list[dict[str, Any]] | None = None
    end_reason: str | None = None
    agent_name: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    agent_id: str
    channel_id: str
    started_at: datetime
    ringing_at: datetime | None
    ended_at: datetime
    outcome: str


_CALL_COLUMNS = tuple(Call.__table__.c)
_UPDATABLE = frozenset(col.name for col in _CALL_COLUMNS) - {"id"}
_TIMESTAMPS = frozenset(
    {"arrived_at", "ringing_at", "answered_at", "ended_at", "system_answered_at"}
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CallStore:
    def __init__(
        self,
        engine: AsyncEngine,
        default_region: str,
        *,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._engine = engine
        self._region = default_region
        self._now = now

    @property
    def engine(self) -> AsyncEngine:
        """The engine, for the stores that share this database (users, sessions)."""
        return self._engine

    async def upsert_agents(self, agents: Sequence[AgentConfig]) -> None:
        """Insert new agents, update name/endpoint of known ones; never delete (calls refer)."""
        if not agents:
            return
        rows = [
            {"id": a.id, "name": a.name, "endpoint": a.endpoint, "created_at": self._now()}
            for a in agents
        ]
        async with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                pg = postgresql.insert(Agent).values(rows)
                await conn.execute(
                    pg.on_conflict_do_update(
                        index_elements=[Agent.id],
                        set_={"name": pg.excluded.name, "endpoint": pg.excluded.endpoint},
                    )
                )
            else:
                lite = sqlite.insert(Agent).values(rows)
                await conn.execute(
                    lite.on_conflict_do_update(
                        index_elements=[Agent.id],
                        set_={"name": lite.excluded.name, "endpoint": lite.excluded.endpoint},
                    )
                )

    async def list_agents(self) -> list[AgentConfig]:
        async with self._engine.connect() as conn:
            result = await conn.execute(
                select(Agent.id, Agent.name, Agent.endpoint).order_by(Agent.id)
            )
            return [AgentConfig(id=r.id, name=r.name, endpoint=r.endpoint) for r in result]

    async def call_arrived(
        self,
        *,
        call_id: str,
        did: str,
        caller_number_raw: str | None,
        caller_name_raw: str | None,
        caller_channel_id: str,
        arrived_at: datetime,
    ) -> CallRecord:
        """Record a new call; the caller's Contact is created or bumped in the same transaction."""
        _require_aware("arrived_at", arrived_at)
        arrived_at = arrived_at.astimezone(UTC)
        number = normalise_number(caller_number_raw, self._region)
        name = clean_caller_name(caller_name_raw)
        async with begin(self._engine) as conn:
            contact_id = (
                await self._touch_contact(conn, number, name, arrived_at) if number else None
            )
            record = CallRecord(
                id=call_id,
                did=clean_caller_name(did)[:_TEXT_CAP],
                # Kept as sent for support, minus control characters (PostgreSQL
                # refuses NUL) and capped to the column.
                caller_number_raw=clean_caller_name(caller_number_raw)[:_TEXT_CAP],
                caller_number=number,
                caller_name=name,
                contact_id=contact_id,
                agent_id=None,
                caller_channel_id=caller_channel_id,
                agent_channel_id=None,
                bridge_id=None,
                recording_name=None,
                arrived_at=arrived_at,
                ringing_at=None,
                answered_at=None,
                ended_at=None,
                outcome=None,
                hangup_by=None,
                agent_name=None,
            )
            values = {c.name: getattr(record, c.name) for c in _CALL_COLUMNS}
            await conn.execute(_INSERT_CALL, values)
        return record

    async def _touch_contact(
        self, conn: AsyncConnection, number: str, name: str, seen_at: datetime
    ) -> int:
        # One atomic upsert: two calls from a new number at once must not both insert.
        values = {
            "number_e164": number,
            "name": name,
            "first_seen": seen_at,
            "last_seen": seen_at,
            "call_count": 1,
        }
        upsert = _UPSERT_CONTACT[conn.dialect.name == "postgresql"]
        contact_id: int = (await conn.execute(upsert, values)).scalar_one()
        return contact_id

    async def update_call(self, call_id: str, **fields: Any) -> None:
        """Set columns of one call. Unknown columns or bad values raise ValueError."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(
                f"update_call: unknown field(s) {sorted(unknown)}; known: {sorted(_UPDATABLE)}"
            )
        _validate_update(fields)
        if not fields:
            return
        if "caller_name" in fields:
            fields["caller_name"] = clean_caller_name(fields["caller_name"])
        params = {f"new_{k}": v for k, v in fields.items()}
        async with begin(self._engine) as conn:
            result = await conn.execute(_call_update(frozenset(fields)), {"id_": call_id, **params})
            if result.rowcount == 0:
                raise CallNotFoundError(f"no call with id {call_id!r}")

    async def add_attempt(self, call_id: str, attempt: AttemptRecord) -> None:
        if attempt.outcome not in ATTEMPT_OUTCOMES:
            raise ValueError(
                f"outcome = {attempt.outcome!r}: must be one of {list(ATTEMPT_OUTCOMES)}"
            )
        async with begin(self._engine) as conn:
            await conn.execute(_INSERT_ATTEMPT, {"call_id": call_id, **dataclasses.asdict(attempt)})

    async def attempts(self, call_id: str) -> list[AttemptRecord]:
        """The agents this call was offered to, in order."""
        columns = [getattr(CallAttempt, f.name) for f in dataclasses.fields(AttemptRecord)]
        stmt = select(*columns).where(CallAttempt.call_id == call_id).order_by(CallAttempt.id)
        async with self._engine.connect() as conn:
            return [AttemptRecord(**row._mapping) for row in await conn.execute(stmt)]

    async def get_call(self, call_id: str) -> CallRecord | None:
        rows = await self._fetch(_records().where(Call.id == call_id))
        return rows[0] if rows else None

    async def open_calls(self) -> list[CallRecord]:
        """Calls not ended yet, oldest first (for recovery after a restart)."""
        return await self._fetch(
            _records().where(Call.ended_at.is_(None)).order_by(Call.arrived_at, Call.id)
        )

    async def recent_calls(self, limit: int = 50, agent_id: str | None = None) -> list[CallRecord]:
        """Ended calls, newest arrival first (of one agent, if given). Live ones come
        from the call engine."""
        _check_limit(limit)
        stmt = _records().where(Call.ended_at.is_not(None))
        if agent_id is not None:
            stmt = stmt.where(Call.agent_id == agent_id)
        return await self._fetch(stmt.order_by(Call.arrived_at.desc(), Call.id.desc()).limit(limit))

    async def contact_history(self, number_e164: str, limit: int = 10) -> list[CallRecord]:
        """Calls from this number, newest first, open ones included."""
        _check_limit(limit)
        return await self._fetch(
            _records()
            .where(Call.caller_number == number_e164)
            .order_by(Call.arrived_at.desc(), Call.id.desc())
            .limit(limit)
        )

    async def _fetch(self, stmt: Select[Any]) -> list[CallRecord]:
        async with self._engine.connect() as conn:
            result = await conn.execute(stmt)
            return [CallRecord(**row._mapping) for row in result]


def _records() -> Select[Any]:
    return select(*_CALL_COLUMNS, Agent.name.label("agent_name")).outerjoin(
        Agent, Agent.id == Call.agent_id
    )


# The writes every call makes, built once: a statement built per write costs SQLAlchemy
# more CPU than SQLite spends on it (coercing and cache-keying each new statement), on
# the event loop every call's deadlines and pops share.
_INSERT_CALL = insert(Call)
_INSERT_ATTEMPT = insert(CallAttempt)


def _upsert_contact(dialect_insert: Any) -> Any:
    new = dialect_insert(Contact)
    return new.on_conflict_do_update(
        index_elements=[Contact.number_e164], set_=_contact_bump(new.excluded)
    ).returning(Contact.id)


def _contact_bump(excluded: Any) -> Mapping[str, Any]:
    return {
        "call_count": Contact.call_count + 1,
        "last_seen": case(
            (excluded.last_seen > Contact.last_seen, excluded.last_seen),
            else_=Contact.last_seen,
        ),
        # An anonymous-named call must not wipe a name learnt earlier.
        "name": case((excluded.name != "", excluded.name), else_=Contact.name),
    }


# Indexed by "is PostgreSQL": the upsert is each dialect's own.
_UPSERT_CONTACT = (_upsert_contact(sqlite.insert), _upsert_contact(postgresql.insert))


@functools.lru_cache(maxsize=256)
def _call_update(columns: frozenset[str]) -> Any:
    """UPDATE calls SET <columns> WHERE id: one statement per set of columns (a few
    dozen sets occur)."""
    values: dict[str, Any] = {c: bindparam(f"new_{c}") for c in columns}
    return update(Call).where(Call.id == bindparam("id_")).values(values)


def _validate_update(fields: Mapping[str, Any]) -> None:
    for key in _TIMESTAMPS & fields.keys():
        if fields[key] is not None or key == "arrived_at":
            _require_aware(key, fields[key])
    if fields.get("outcome") is not None and fields["outcome"] not in OUTCOMES:
        raise ValueError(f"outcome = {fields['outcome']!r}: must be one of {list(OUTCOMES)}")
    if fields.get("hangup_by") is not None and fields["hangup_by"] not in HANGUP_BY:
        raise ValueError(f"hangup_by = {fields['hangup_by']!r}: must be one of {list(HANGUP_BY)}")


def _require_aware(name: str, value: object) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} = {value!r}: must be a timezone-aware datetime")


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit = {limit!r}: must be 1..{MAX_LIMIT}")
