"""Hold over HTTP: who may hold which call, and the hold figures (real store, fake engine)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from telephony.config import AgentConfig
from telephony.store.holds import HoldStore
from telephony.store.repo import CallStore
from telephony.web.hold import HoldControls, add_hold_routes

from .conftest import T0, Client, add_user, finished_call, log_in

LoggedIn = Callable[..., Awaitable[tuple[Client, str]]]


class Engine:
    """The calls engine's side: which call is live with whom, and what was asked."""

    def __init__(self) -> None:
        self.live = {"c-alice": "alice"}
        self.asked: list[tuple[str, bool, str]] = []

    def request(self, call_id: str, on: bool, by: str) -> bool:
        if call_id not in self.live:
            return False
        self.asked.append((call_id, on, by))
        return True


@pytest.fixture
def engine() -> Engine:
    return Engine()


@pytest.fixture
async def holds(store: CallStore) -> HoldStore:
    await store.upsert_agents(
        [
            AgentConfig(id="alice", name="Alice", endpoint="PJSIP/a"),
            AgentConfig(id="bob", name="Bob", endpoint="PJSIP/b"),
        ]
    )
    await finished_call(store, "c-old", agent_id="alice")
    return HoldStore(store.engine)


@pytest.fixture
def logged_in(
    aiohttp_client: AiohttpClient,
    app: web.Application,
    store: CallStore,
    holds: HoldStore,
    engine: Engine,
) -> LoggedIn:
    async def agent_of(call_id: str) -> str | None:
        call = await store.get_call(call_id)
        return call.agent_id if call else None

    add_hold_routes(
        app,
        HoldControls(
            request=engine.request, agent_on=engine.live.get, holds=holds, agent_of=agent_of
        ),
    )

    async def as_user(username: str, role: str, agent_id: str | None = None) -> tuple[Client, str]:
        await add_user(app, username, role=role, agent_id=agent_id)
        client = await aiohttp_client(app)
        return client, await log_in(client, username)

    return as_user


@pytest.mark.parametrize(
    ("role", "agent_id", "status"),
    [
        ("agent", "alice", 202),
        ("agent", "bob", 404),  # not your call
        ("supervisor", None, 202),
        ("admin", None, 202),
    ],
)
async def test_who_may_hold_a_call(
    logged_in: LoggedIn, engine: Engine, role: str, agent_id: str | None, status: int
) -> None:
    client, csrf = await logged_in("u1", role, agent_id)
    response = await client.post("/api/calls/c-alice/hold", headers={"X-CSRF-Token": csrf})
    assert response.status == status
    assert engine.asked == ([("c-alice", True, "u1")] if status == 202 else [])


async def test_hold_of_a_call_not_in_progress_is_a_conflict(logged_in: LoggedIn) -> None:
    client, csrf = await logged_in("boss", "supervisor")
    response = await client.post("/api/calls/c-gone/retrieve", headers={"X-CSRF-Token": csrf})
    assert response.status == 409
    assert "not in progress" in (await response.json())["error"]
    assert (await client.post("/api/calls/c-alice/hold")).status == 403  # no CSRF header


async def test_hold_figures_per_call_and_per_agent(logged_in: LoggedIn, holds: HoldStore) -> None:
    for start, length, outcome in ((10, 12, "retrieved"), (60, 45, "caller_hung_up")):
        began = T0 + timedelta(seconds=start)
        await holds.record(
            "c-old",
            started_at=began,
            source="browser",
            agent_id="alice",
            ended_at=began + timedelta(seconds=length),
            outcome=outcome,
            warned=length > 30,
            over_limit=length > 30,
        )
    agent, _ = await logged_in("alice", "agent", "alice")
    per_call = await (await agent.get("/api/calls/c-old/holds")).json()
    assert (per_call["count"], per_call["longest_s"], per_call["over_limit"]) == (2, 45.0, 1)
    other, _ = await logged_in("bob", "agent", "bob")
    assert (await other.get("/api/calls/c-old/holds")).status == 404
    assert (await agent.get("/api/stats/holds")).status == 403
    supervisor, _ = await logged_in("sup", "supervisor")
    stats = await (await supervisor.get(f"/api/stats/holds?day={T0:%Y-%m-%d}")).json()
    assert stats["agents"] == [
        {
            "agent_id": "alice",
            "holds": 2,
            "mean_s": 28.5,
            "longest_s": 45.0,
            "over_30s_share": 0.5,
            "abandoned_on_hold": 1,
        }
    ]
    bad = await supervisor.get("/api/stats/holds?day=<script>")
    assert bad.status == 400 and "must be a date" in (await bad.json())["error"]
