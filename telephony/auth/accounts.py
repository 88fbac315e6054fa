"""Accounts: users with roles, password checks, and server-side sessions.

A session is a random 256-bit token in the browser's cookie; the database keeps only
its SHA-256, so a copy of the database does not log anyone in. Each session has its
own CSRF token. A session ends when it has been idle for `idle_timeout`, when it is
older than `absolute_lifetime`, at logout, when the user's password changes, or when
the user is removed.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from argon2 import PasswordHasher

from telephony.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    Passwords,
    check_new_password,
    check_username,
    printable,
)
from telephony.auth.roles import Role, is_role
from telephony.store.repo import CallStore
from telephony.store.users import UserRecord, UserStore

Clock = Callable[[], datetime]
# Cookie values longer than this are not ours; they are refused before hashing.
MAX_TOKEN_LENGTH = 128

log = structlog.get_logger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SessionLimits:
    idle_timeout: timedelta = timedelta(hours=8)
    absolute_lifetime: timedelta = timedelta(hours=24)
    # last_seen is written at most this often (a page polls every second), or a tenth
    # of idle_timeout if that is shorter.
    touch_interval: timedelta = timedelta(minutes=1)

    def __post_init__(self) -> None:
        for name in ("idle_timeout", "absolute_lifetime"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} = {getattr(self, name)!r}: must be positive")


@dataclass(frozen=True, slots=True)
class AuthSession:
    """A logged-in request's user and session."""

    user_id: int
    username: str
    role: Role
    agent_id: str | None
    created_at: datetime
    csrf_token: str = field(repr=False)
    token_hash: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str = field(repr=False)  # for the cookie; never stored
    session: AuthSession


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Accounts:
    def __init__(
        self,
        users: UserStore,
        *,
        passwords: Passwords | None = None,
        limits: SessionLimits | None = None,
        clock: Clock = _utc_now,
    ) -> None:
        self.users = users
        self.passwords = passwords or Passwords()
        self.limits = limits or SessionLimits()
        self._clock = clock

    # -- users ---------------------------------------------------------------

    async def add_user(
        self, username: str, password: str, role: str, agent_id: str | None = None
    ) -> UserRecord:
        """A new user; raises ValueError (bad name, password, role or agent) or
        UserExistsError. Messages never contain the password."""
        check_username(username)
        check_new_password(password)
        _check_role(role)
        record = await self.users.add_user(
            username=username,
            password_hash=await self.passwords.hash(password),
            role=role,
            agent_id=agent_id,
            now=self._clock(),
        )
        log.info("auth.user_added", username=username, role=role, agent_id=agent_id)
        return record

    async def set_password(self, username: str, password: str) -> UserRecord:
        """A new password; every session of the user ends."""
        check_new_password(password)
        record = await self.users.update_user(
            username,
            password_hash=await self.passwords.hash(password),
            now=self._clock(),
            end_sessions=True,
        )
        log.info("auth.password_changed", username=username)
        return record

    async def remove_user(self, username: str) -> bool:
        removed = await self.users.remove_user(username)
        if removed:
            log.info("auth.user_removed", username=username)
        return removed

    async def ensure(
        self, username: str, password: str, role: str, agent_id: str | None = None
    ) -> UserRecord:
        """Create the user, or bring an existing one to this password, role and agent.
        Sessions survive when the password is unchanged."""
        check_username(username)
        check_new_password(password)
        _check_role(role)
        user = await self.users.get_user(username)
        if user is None:
            return await self.add_user(username, password, role, agent_id)
        same = await self.passwords.verify(user.password_hash, password)
        if same and not self.passwords.needs_rehash(user.password_hash):
            if (user.role, user.agent_id) == (role, agent_id):
                return user
            return await self.users.update_user(
                username, role=role, agent_id=agent_id, now=self._clock()
            )
        return await self.users.update_user(
            username,
            role=role,
            agent_id=agent_id,
            password_hash=await self.passwords.hash(password),
            now=self._clock(),
            end_sessions=not same,
        )

    # -- logging in ----------------------------------------------------------

    async def authenticate(self, username: str, password: str) -> UserRecord | None:
        """The user when the password is right, else None, in about the same time
        whether or not the user exists."""
        user = None
        if _plausible(username, password):
            user = await self.users.get_user(username)
        if user is None:
            await self.passwords.burn(password[:MAX_PASSWORD_LENGTH])
            log.info("auth.login_failed", username=printable(username), known=False)
            return None
        if not await self.passwords.verify(user.password_hash, password):
            log.info("auth.login_failed", username=printable(username), known=True)
            return None
        if self.passwords.needs_rehash(user.password_hash):
            # Parameters changed since this hash was made: the password is at hand now.
            user = await self.users.update_user(
                username,
                password_hash=await self.passwords.hash(password),
                now=user.password_changed_at,  # same password: not a change
            )
            log.info("auth.password_rehashed", username=username)
        return user

    async def start_session(self, user: UserRecord) -> NewSession:
        now = self._clock()
        await self.users.delete_expired_sessions(
            idle_before=now - self.limits.idle_timeout,
            created_before=now - self.limits.absolute_lifetime,
        )
        token = secrets.token_urlsafe(32)  # 256 bits
        csrf_token = secrets.token_urlsafe(32)
        hashed = token_hash(token)
        await self.users.add_session(
            token_hash=hashed, user_id=user.id, csrf_token=csrf_token, now=now
        )
        log.info("auth.login", username=user.username, role=user.role)
        return NewSession(token, _auth_session(user, hashed, csrf_token, now))

    async def resolve(self, token: str | None) -> AuthSession | None:
        """The live session behind a cookie value, or None (expired ones are deleted)."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        hashed = token_hash(token)
        found = await self.users.session_with_user(hashed)
        if found is None:
            return None
        session, user = found
        now = self._clock()
        expired = _expiry(now, session.created_at, session.last_seen_at, self.limits)
        if expired:
            await self.users.delete_session(hashed)
            log.info("auth.session_expired", username=user.username, reason=expired)
            return None
        if now - session.last_seen_at >= min(
            self.limits.touch_interval, self.limits.idle_timeout / 10
        ):
            await self.users.touch_session(hashed, now)
        return _auth_session(user, hashed, session.csrf_token, session.created_at)

    async def end_session(self, session: AuthSession) -> None:
        await self.users.delete_session(session.token_hash)
        log.info("auth.logout", username=session.username)


async def ensure_user(
    store: UserStore | CallStore,
    username: str,
    password: str,
    role: str,
    agent_id: str | None = None,
    *,
    hasher: PasswordHasher | None = None,
) -> UserRecord:
    """Create or update a user from code (the demo, tests): see `Accounts.ensure`.

    `store` is the UserStore, or the service's CallStore (same database)."""
    users = store if isinstance(store, UserStore) else UserStore(store.engine)
    return await Accounts(users, passwords=Passwords(hasher)).ensure(
        username, password, role, agent_id
    )


def _auth_session(
    user: UserRecord, hashed: str, csrf_token: str, created_at: datetime
) -> AuthSession:
    role = user.role
    if not is_role(role):  # the table's check constraint makes this unreachable
        raise ValueError(f"user {user.username!r} has unknown role {role!r}")
    return AuthSession(
        user_id=user.id,
        username=user.username,
        role=role,
        agent_id=user.agent_id,
        created_at=created_at,
        csrf_token=csrf_token,
        token_hash=hashed,
    )


def _expiry(
    now: datetime, created_at: datetime, last_seen_at: datetime, limits: SessionLimits
) -> str | None:
    if now - created_at >= limits.absolute_lifetime:
        return "absolute"
    if now - last_seen_at >= limits.idle_timeout:
        return "idle"
    return None


def _plausible(username: str, password: str) -> bool:
    """Worth a database look-up: no user has an impossible name or password."""
    try:
        check_username(username)
    except ValueError:
        return False
    return 0 < len(password) <= MAX_PASSWORD_LENGTH


def _check_role(role: str) -> None:
    if not is_role(role):
        raise ValueError(f"role = {role!r}: must be one of agent, supervisor, admin")
