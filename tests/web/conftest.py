"""A web app over a real, migrated SQLite store, with controllable ARI and DB state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from telephony.auth import Passwords
from telephony.config import AgentConfig
from telephony.store.db import create_engine
from telephony.store.migrate import migrate
from telephony.store.repo import CallStore
from telephony.store.users import UserRecord
from telephony.web import create_web_app
from telephony.web.access import ACCOUNTS_KEY

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
# Tests only: argon2id with the smallest parameters, so a login costs microseconds.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

Client = TestClient[web.Request, web.Application]


@dataclass
class World:
    """What the app's callables report; tests change it between requests."""

    ari: str = "connected"
    db: bool | Exception = True
    live: list[dict[str, Any]] = field(default_factory=list)
    now: datetime = T0 + timedelta(minutes=10)

    def clock(self) -> datetime:
        return self.now

    def live_calls(self) -> list[dict[str, Any]]:
        return self.live

    def ari_state(self) -> str:
        return self.ari

    async def db_ok(self) -> bool:
        if isinstance(self.db, Exception):
            raise self.db
        return self.db


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CallStore]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'web.db'}"
    await migrate(url)
    engine = create_engine(url)
    try:
        store = CallStore(engine, "TR")
        await store.upsert_agents([AgentConfig(id="alice", name="Alice", endpoint="PJSIP/a")])
        yield store
    finally:
        await engine.dispose()


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def app(store: CallStore, world: World) -> web.Application:
    return create_web_app(
        store=store,
        live_calls=world.live_calls,
        ari_state=world.ari_state,
        db_ok=world.db_ok,
        now=world.clock,
        passwords=Passwords(CHEAP_HASHER),
    )


async def add_user(
    app: web.Application,
    username: str = "alice",
    *,
    role: str = "agent",
    password: str = PASSWORD,
    agent_id: str | None = None,
) -> UserRecord:
    return await app[ACCOUNTS_KEY].add_user(username, password, role, agent_id)


async def log_in(client: Client, username: str = "alice", password: str = PASSWORD) -> str:
    """Log the client in (its cookie jar keeps the session); returns the CSRF token."""
    response = await client.post("/login", json={"username": username, "password": password})
    assert response.status == 200, await response.text()
    token: str = (await response.json())["csrf_token"]
    return token


def live_call(
    call_id: str,
    *,
    phase: str,
    number: str | None = "+905551112233",
    name: str = "Ayşe",
    arrived_at: datetime = T0,
    answered_at: datetime | None = None,
    agent_id: str | None = None,
) -> dict[str, Any]:
    """Shaped like telephony.calls' CallSession.snapshot()."""
    return {
        "id": call_id,
        "did": "+902120000000",
        "caller_number": number,
        "caller_name": name,
        "phase": phase,
        "agent_id": agent_id,
        "arrived_at": arrived_at.isoformat(),
        "answered_at": answered_at.isoformat() if answered_at else None,
    }


async def finished_call(
    store: CallStore,
    call_id: str,
    *,
    number: str | None = "+905551112233",
    name: str = "Ayşe",
    start: datetime = T0,
    answered_after: float | None = 4.0,
    ended_after: float = 64.0,
    outcome: str = "answered",
    agent_id: str | None = "alice",
    recording_name: str | None = None,
) -> None:
    await store.call_arrived(
        call_id=call_id,
        did="+902120000000",
        caller_number_raw=number,
        caller_name_raw=name,
        caller_channel_id=f"chan-{call_id}",
        arrived_at=start,
    )
    fields: dict[str, Any] = {
        "ended_at": start + timedelta(seconds=ended_after),
        "outcome": outcome,
        "hangup_by": "caller",
        "recording_name": recording_name,
    }
    if answered_after is not None:
        fields["ringing_at"] = start + timedelta(seconds=1)
        fields["answered_at"] = start + timedelta(seconds=answered_after)
        fields["agent_id"] = agent_id
    await store.update_call(call_id, **fields)
