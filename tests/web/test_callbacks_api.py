"""Callback tasks over HTTP: who may create and see them, CSRF, and bad input by field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from telephony.calls.policies import LivePolicies
from telephony.rings.policy import RingPolicies
from telephony.store.callbacks import CallbackStore
from telephony.store.repo import CallStore
from telephony.web.callbacks import add_callback_routes

from .conftest import T0, Client, add_user, log_in

NOW = T0 + timedelta(minutes=10)
LoggedIn = Callable[..., Awaitable[tuple[Client, str]]]


@pytest.fixture
def callbacks(store: CallStore) -> CallbackStore:
    return CallbackStore(store.engine, now=lambda: NOW)


@pytest.fixture
def logged_in(
    aiohttp_client: AiohttpClient, app: web.Application, callbacks: CallbackStore
) -> LoggedIn:
    policies = LivePolicies(
        RingPolicies.model_validate(
            {"default": {}, "per_did": {"2000": {"outbound_max_attempts": 5}}}
        ),
        "tr",
        lambda: NOW,
    )
    add_callback_routes(
        app, store=callbacks, policies=policies, default_region="TR", clock=lambda: NOW
    )

    async def as_user(username: str, role: str, agent_id: str | None = None) -> tuple[Client, str]:
        await add_user(app, username, role=role, agent_id=agent_id)
        client = await aiohttp_client(app)
        return client, await log_in(client, username)

    return as_user


async def create(client: Client, csrf: str, body: object) -> tuple[int, Any]:
    response = await client.post("/api/callbacks", json=body, headers={"X-CSRF-Token": csrf})
    return response.status, await response.json()


async def test_agent_creates_a_callback_normalised_and_due_now(logged_in: LoggedIn) -> None:
    client, csrf = await logged_in("alice", "agent", "alice")
    status, body = await create(client, csrf, {"number": "0555 111 22 33", "did": "2000"})
    assert status == 201, body
    assert body["number"] == "+905551112233" and body["did"] == "2000"
    assert body["status"] == "pending" and body["attempts"] == 0
    assert body["max_attempts"] == 5  # from the DID's policy
    assert body["due_at"] == NOW.isoformat()
    assert body["created_by"] == "alice" and body["agent_id"] == "alice"


async def test_due_at_is_kept_and_a_naive_time_is_utc(logged_in: LoggedIn) -> None:
    client, csrf = await logged_in("sue", "supervisor")
    status, body = await create(
        client, csrf, {"number": "+905551112233", "did": "x", "due_at": "2026-11-28T10:00:00"}
    )
    assert status == 201, body
    assert body["due_at"] == "2026-11-28T10:00:00+00:00" and body["max_attempts"] == 3
    assert body["agent_id"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"number": "not a number", "did": "2000"}, "number"),
        ({"number": "+90", "did": "2000"}, "number"),
        ({"did": "2000"}, "number"),
        ({"number": 905551112233, "did": "2000"}, "number"),
        ({"number": "+905551112233"}, "did"),
        ({"number": "+905551112233", "did": "a b"}, "did"),
        ({"number": "+905551112233", "did": "2000", "due_at": "tomorrow"}, "due_at"),
        ({"number": "+905551112233", "did": "2000", "due_at": 5}, "due_at"),
        ({"number": "+905551112233", "did": "2000", "agent": "x"}, "agent"),
        ({"number": "+905551112233", "did": "2000", "promise": "yes"}, "promise"),
        ({"number": "+905551112233", "did": "2000", "note": "x" * 501}, "note"),
        ({"number": "+905551112233", "did": "2000", "note": "a\u0000b"}, "note"),
        ({"number": "+905551112233", "did": "2000", "note": 5}, "note"),
        ({"number": "+905551112233", "did": "2000", "call_id": "../x"}, "call_id"),
    ],
)
async def test_bad_input_is_400_naming_the_field(
    logged_in: LoggedIn, body: dict[str, Any], field: str
) -> None:
    client, csrf = await logged_in("alice", "agent", "alice")
    status, answer = await create(client, csrf, body)
    assert status == 400
    assert answer["error"].startswith(field), answer


async def test_a_body_that_is_not_an_object_is_400(logged_in: LoggedIn) -> None:
    client, csrf = await logged_in("alice", "agent", "alice")
    response = await client.post("/api/callbacks", data=b"[1, 2", headers={"X-CSRF-Token": csrf})
    assert response.status == 400
    status, _ = await create(client, csrf, ["+905551112233"])
    assert status == 400


async def test_without_csrf_token_or_login_it_is_refused(
    logged_in: LoggedIn, aiohttp_client: AiohttpClient, app: web.Application
) -> None:
    client, _ = await logged_in("alice", "agent", "alice")
    response = await client.post("/api/callbacks", json={"number": "+905551112233", "did": "1"})
    assert response.status == 403
    response = await client.post(
        "/api/callbacks",
        json={"number": "+905551112233", "did": "1"},
        headers={"X-CSRF-Token": "wrong"},
    )
    assert response.status == 403
    anonymous = await aiohttp_client(app)
    assert (await anonymous.get("/api/callbacks")).status == 401
    assert (await anonymous.post("/api/callbacks", json={})).status == 401


async def test_agents_see_theirs_supervisors_and_admins_see_all(logged_in: LoggedIn) -> None:
    agent, agent_csrf = await logged_in("alice", "agent", "alice")
    boss, boss_csrf = await logged_in("boss", "admin")
    sue, _ = await logged_in("sue", "supervisor")
    await create(agent, agent_csrf, {"number": "+905551112233", "did": "2000"})
    await create(boss, boss_csrf, {"number": "+905551112244", "did": "2000"})
    mine = (await (await agent.get("/api/callbacks")).json())["callbacks"]
    assert [c["number"] for c in mine] == ["+905551112233"]
    for client in (boss, sue):
        every = (await (await client.get("/api/callbacks")).json())["callbacks"]
        assert [c["number"] for c in every] == ["+905551112244", "+905551112233"]


async def test_a_promise_is_due_in_15_minutes_with_its_note_and_flagged_when_broken(
    logged_in: LoggedIn,
) -> None:
    client, csrf = await logged_in("alice", "agent", "alice")
    promise = {
        "number": "+905551112233",
        "did": "2000",
        "promise": True,
        "note": "<b>price</b> for 3 rooms",
        "call_id": "20261127090000-abcd1234",
    }
    status, body = await create(client, csrf, promise)
    assert status == 201, body
    assert body["due_at"] == (NOW + timedelta(minutes=15)).isoformat()
    assert (body["promise"], body["note"], body["agent_id"]) == (True, promise["note"], "alice")
    assert body["late"] is False
    overdue = {**promise, "due_at": (NOW - timedelta(minutes=3)).isoformat()}
    status, _ = await create(client, csrf, overdue)
    assert status == 201
    listed = (await (await client.get("/api/callbacks")).json())["callbacks"]
    assert [c["late"] for c in listed] == [True, False]  # newest first


async def test_a_pending_callback_can_be_cancelled_by_its_agent_or_a_supervisor(
    logged_in: LoggedIn, callbacks: CallbackStore
) -> None:
    client, csrf = await logged_in("alice", "agent", "alice")
    _, first = await create(client, csrf, {"number": "+905551112233", "did": "2000"})
    headers = {"X-CSRF-Token": csrf}
    other, other_csrf = await logged_in("bob", "agent")  # another agent's account
    refused = await other.post(
        f"/api/callbacks/{first['id']}/cancel", headers={"X-CSRF-Token": other_csrf}
    )
    assert refused.status == 404  # not bob's
    done = await client.post(f"/api/callbacks/{first['id']}/cancel", headers=headers)
    assert done.status == 200 and (await done.json())["status"] == "cancelled"
    again = await client.post(f"/api/callbacks/{first['id']}/cancel", headers=headers)
    assert again.status == 409
    assert (await client.post("/api/callbacks/x/cancel", headers=headers)).status == 404
    assert await callbacks.take_due(NOW + timedelta(days=1)) == []  # never called
