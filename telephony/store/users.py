"""Users and their sessions: the only code that reads or writes those tables.

It stores what it is given: password hashes (never passwords), session token hashes
(never tokens) and timestamps. Hashing, validation of new passwords and session
expiry belong to `telephony.auth`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from telephony.store.models import ROLES, Agent, User, UserSession


class UserExistsError(ValueError):
    """A user with that username is already there."""


class UserNotFoundError(LookupError):
    """No user with that username."""


class AgentLinkError(ValueError):
    """The agent id is not a known agent, or another user is linked to it already."""


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    password_hash: str = dataclasses.field(repr=False)
    role: str
    agent_id: str | None
    created_at: datetime
    password_changed_at: datetime


@dataclass(frozen=True, slots=True)
class SessionRecord:
    token_hash: str = dataclasses.field(repr=False)
    user_id: int
    csrf_token: str = dataclasses.field(repr=False)
    created_at: datetime
    last_seen_at: datetime


_USER_COLUMNS = [getattr(User, f.name) for f in dataclasses.fields(UserRecord)]
_SESSION_COLUMNS = [getattr(UserSession, f.name) for f in dataclasses.fields(SessionRecord)]
_UNSET: Any = object()
_fields = dataclasses.fields


class UserStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # -- users ---------------------------------------------------------------

    async def add_user(
        self,
        *,
        username: str,
        password_hash: str,
        role: str,
        agent_id: str | None,
        now: datetime,
    ) -> UserRecord:
        _check_role(role)
        async with self._engine.begin() as conn:
            if await _user_row(conn, username) is not None:
                raise UserExistsError(f"user {username!r} exists already")
            await _check_agent(conn, agent_id, username)
            try:
                result = await conn.execute(
                    insert(User).values(
                        username=username,
                        password_hash=password_hash,
                        role=role,
                        agent_id=agent_id,
                        created_at=now,
                        password_changed_at=now,
                    )
                )
            except IntegrityError:  # a concurrent add of the same name or agent
                raise UserExistsError(f"user {username!r} or its agent link exists") from None
            user_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        record = await self.get_user_by_id(int(user_id)) if user_id is not None else None
        if record is None:  # pragma: no cover - the row was just inserted
            raise UserNotFoundError(username)
        return record

    async def get_user(self, username: str) -> UserRecord | None:
        async with self._engine.connect() as conn:
            return await _user_row(conn, username)

    async def get_user_by_id(self, user_id: int) -> UserRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(*_USER_COLUMNS).where(User.id == user_id))).first()
        return UserRecord(**row._mapping) if row else None

    async def list_users(self) -> list[UserRecord]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(*_USER_COLUMNS).order_by(User.username))
            return [UserRecord(**row._mapping) for row in rows]

    async def update_user(
        self,
        username: str,
        *,
        role: str = _UNSET,
        agent_id: str | None = _UNSET,
        password_hash: str = _UNSET,
        now: datetime,
        end_sessions: bool = False,
    ) -> UserRecord:
        """Change some fields of one user; `end_sessions` logs them out everywhere."""
        values: dict[str, Any] = {}
        if role is not _UNSET:
            _check_role(role)
            values["role"] = role
        if password_hash is not _UNSET:
            values["password_hash"] = password_hash
            values["password_changed_at"] = now
        async with self._engine.begin() as conn:
            user = await _user_row(conn, username)
            if user is None:
                raise UserNotFoundError(f"no user {username!r}")
            if agent_id is not _UNSET and agent_id != user.agent_id:
                await _check_agent(conn, agent_id, username)
                values["agent_id"] = agent_id
            if values:
                await conn.execute(update(User).where(User.id == user.id).values(values))
            if end_sessions:
                await conn.execute(delete(UserSession).where(UserSession.user_id == user.id))
            updated = await _user_row(conn, username)
        assert updated is not None
        return updated

    async def remove_user(self, username: str) -> bool:
        """Delete the user and (by cascade) their sessions. False when there was none."""
        async with self._engine.begin() as conn:
            user = await _user_row(conn, username)
            if user is None:
                return False
            # Explicit as well as by cascade: SQLite enforces the cascade only when
            # foreign keys are on for the connection.
            await conn.execute(delete(UserSession).where(UserSession.user_id == user.id))
            await conn.execute(delete(User).where(User.id == user.id))
        return True

    # -- sessions ------------------------------------------------------------

    async def add_session(
        self, *, token_hash: str, user_id: int, csrf_token: str, now: datetime
    ) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(UserSession).values(
                    token_hash=token_hash,
                    user_id=user_id,
                    csrf_token=csrf_token,
                    created_at=now,
                    last_seen_at=now,
                )
            )

    async def session_with_user(self, token_hash: str) -> tuple[SessionRecord, UserRecord] | None:
        """The session with this token hash and its user, in one query."""
        stmt = (
            select(*_SESSION_COLUMNS, *[c.label(f"user__{c.key}") for c in _USER_COLUMNS])
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == token_hash)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        data = row._mapping
        session = SessionRecord(**{f.name: data[f.name] for f in _fields(SessionRecord)})
        user = UserRecord(**{f.name: data[f"user__{f.name}"] for f in _fields(UserRecord)})
        return session, user

    async def touch_session(self, token_hash: str, now: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(UserSession)
                .where(UserSession.token_hash == token_hash)
                .values(last_seen_at=now)
            )

    async def delete_session(self, token_hash: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(UserSession).where(UserSession.token_hash == token_hash))

    async def delete_expired_sessions(
        self, *, idle_before: datetime, created_before: datetime
    ) -> int:
        """Remove sessions last seen at or before `idle_before`, or created at or before
        `created_before`."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(UserSession).where(
                    or_(
                        UserSession.last_seen_at <= idle_before,
                        UserSession.created_at <= created_before,
                    )
                )
            )
        return int(result.rowcount or 0)

    async def sessions_of(self, username: str) -> list[SessionRecord]:
        stmt = (
            select(*_SESSION_COLUMNS)
            .join(User, User.id == UserSession.user_id)
            .where(User.username == username)
            .order_by(UserSession.created_at)
        )
        async with self._engine.connect() as conn:
            return [SessionRecord(**row._mapping) for row in await conn.execute(stmt)]


async def _user_row(conn: AsyncConnection, username: str) -> UserRecord | None:
    row = (await conn.execute(select(*_USER_COLUMNS).where(User.username == username))).first()
    return UserRecord(**row._mapping) if row else None


async def _check_agent(conn: AsyncConnection, agent_id: str | None, username: str) -> None:
    if agent_id is None:
        return
    known = list((await conn.execute(select(Agent.id).order_by(Agent.id))).scalars())
    if agent_id not in known:
        raise AgentLinkError(
            f"agent_id = {agent_id!r}: not a configured agent; known: {', '.join(known) or 'none'}"
        )
    holder = (
        await conn.execute(
            select(User.username).where(User.agent_id == agent_id, User.username != username)
        )
    ).scalar()
    if holder is not None:
        raise AgentLinkError(f"agent_id = {agent_id!r}: already linked to user {holder!r}")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role = {role!r}: must be one of {', '.join(ROLES)}")
