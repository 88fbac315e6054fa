"""Agents pause and come back; supervisors see and change everyone; stored with who/why."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from telephony.calls.agents import AgentPool
from telephony.calls.presence import AgentPresence
from telephony.config import AgentConfig
from telephony.store.agent_events import AgentEvents
from telephony.store.repo import CallStore
from telephony.web.agents import PRESENCE_KEY

from .conftest import T0, Client, add_user, log_in

AGENTS = [
    AgentConfig(id="alice", name="Alice", endpoint="PJSIP/a1"),
    AgentConfig(id="bob", name="Bob", endpoint="PJSIP/a2"),
]
LoggedIn = Callable[..., Awaitable[tuple[Client, str]]]


@pytest.fixture
async def presence(store: CallStore) -> AgentPresence:
    await store.upsert_agents(AGENTS)
    return AgentPresence(AgentPool(AGENTS, T0), AgentEvents(store.engine), lambda: T0)


@pytest.fixture
def logged_in(
    aiohttp_client: AiohttpClient, app: web.Application, presence: AgentPresence
) -> LoggedIn:
    app[PRESENCE_KEY] = presence  # the routes are there; this is the engine's presence

    async def as_user(username: str, role: str, agent_id: str | None = None) -> tuple[Client, str]:
        await add_user(app, username, role=role, agent_id=agent_id)
        client = await aiohttp_client(app)
        return client, await log_in(client, username)

    return as_user


async def post(client: Client, csrf: str, path: str, body: object = None) -> web.Response:
    response = await client.post(path, json=body, headers={"X-CSRF-Token": csrf})
    return response  # type: ignore[return-value]


async def test_agent_pauses_and_unpauses_themselves_and_it_is_stored(
    logged_in: LoggedIn, presence: AgentPresence, store: CallStore
) -> None:
    client, csrf = await logged_in("alice", "agent", "alice")
    response = await post(client, csrf, "/api/agents/alice/pause", {"reason": "break"})
    assert response.status == 200
    offered = presence.pool.reserve("c1", limit=None, strategy="ring_all")
    assert [slot.agent_id for slot in offered] == ["bob"]  # paused agents get no offers
    agents = (await (await client.get("/api/agents")).json())["agents"]
    assert [a["id"] for a in agents] == ["alice"]  # an agent sees only themselves
    assert agents[0]["pause_reason"] == "break"
    assert (await post(client, csrf, "/api/agents/alice/unpause")).status == 200
    events = await AgentEvents(store.engine).of_agent("alice")
    assert [(e.status, e.reason, e.by) for e in events] == [
        ("available", None, "alice"),
        ("paused", "break", "alice"),
    ]


async def test_agent_cannot_change_a_colleague(logged_in: LoggedIn) -> None:
    client, csrf = await logged_in("alice", "agent", "alice")
    response = await post(client, csrf, "/api/agents/bob/pause", {"reason": "x"})
    assert response.status == 403


async def test_supervisor_sees_everyone_and_brings_back_an_auto_paused_agent(
    logged_in: LoggedIn, presence: AgentPresence
) -> None:
    presence.pool.reserve("c1", strategy="sequential")
    await presence.released("alice", missed=True, pause=True)  # let a call ring out
    client, csrf = await logged_in("sup", "supervisor")
    agents = {a["id"]: a for a in (await (await client.get("/api/agents")).json())["agents"]}
    assert agents["alice"]["status"] == "paused"
    assert agents["alice"]["pause_reason"] == "missed call" and agents["alice"]["missed"] == 1
    assert (await post(client, csrf, "/api/agents/alice/unpause")).status == 200
    assert presence.pool.get("alice").status == "available"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body",
    [None, {}, {"reason": ""}, {"reason": "x" * 81}, {"reason": 5}, {"reason": "tab\there"}, [1]],
)
async def test_bad_pause_reasons_are_refused(logged_in: LoggedIn, body: object) -> None:
    client, csrf = await logged_in("sup", "supervisor")
    response = await post(client, csrf, "/api/agents/alice/pause", body)
    assert response.status == 400


async def test_unknown_agent(logged_in: LoggedIn) -> None:
    client, csrf = await logged_in("sup", "supervisor")
    response = await post(client, csrf, "/api/agents/zed/pause", {"reason": "x"})
    assert response.status == 404


async def test_pause_asked_mid_call_takes_effect_when_the_call_ends(
    presence: AgentPresence,
) -> None:
    (slot,) = presence.pool.reserve("c1", strategy="sequential")
    await presence.pause(slot.agent_id, "training", "sup")
    assert slot.status == "busy"
    await presence.released(slot.agent_id, missed=False, pause=False)
    assert slot.status == "paused" and slot.pause_reason == "training"
