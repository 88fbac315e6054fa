"""Admins change ring policies (validated, audited, in force at once); supervisors read
the service level; nobody else does either."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from telephony.calls.policies import LivePolicies
from telephony.rings.policy import RingPolicies
from telephony.store.policy_audit import PolicyAudit
from telephony.store.repo import CallStore
from telephony.web.admin import add_admin_routes
from telephony.web.app import AGENT_UI_DIR

from .conftest import T0, Client, add_user, finished_call, log_in

LoggedIn = Callable[[str], Awaitable[tuple[Client, str]]]


@pytest.fixture
def policies() -> LivePolicies:
    return LivePolicies(RingPolicies(), default_cadence="tr", clock=lambda: T0)


@pytest.fixture
def admin_app(app: web.Application, store: CallStore, policies: LivePolicies) -> web.Application:
    add_admin_routes(
        app,
        policies=policies,
        audit=PolicyAudit(store.engine),
        engine=store.engine,
        page=AGENT_UI_DIR / "admin_rings.html",
    )
    return app


@pytest.fixture
def logged_in(aiohttp_client: AiohttpClient, admin_app: web.Application) -> LoggedIn:
    async def as_role(role: str) -> tuple[Client, str]:
        await add_user(admin_app, role, role=role)
        client = await aiohttp_client(admin_app)
        return client, await log_in(client, role)

    return as_role


async def put(client: Client, csrf: str, body: Any) -> tuple[int, Any]:
    response = await client.put("/api/admin/rings", json=body, headers={"X-CSRF-Token": csrf})
    return response.status, await response.json()


async def test_admin_changes_a_policy_and_it_is_audited_and_in_force(
    logged_in: LoggedIn, policies: LivePolicies
) -> None:
    client, csrf = await logged_in("admin")
    status, body = await put(client, csrf, {"default": {"max_rings": 2, "cadence": "us"}})
    assert status == 200 and body["policies"]["default"]["max_rings"] == 2
    assert policies.plan_for("100", None).max_rings == 2  # the next call uses it
    got = await (await client.get("/api/admin/rings")).json()
    assert got["policies"]["default"]["cadence"] == "us"
    assert "tr" in got["cadences"] and "us" in got["cadences"]
    (change,) = got["history"]
    assert change["who"] == "admin"
    assert change["old"]["default"]["max_rings"] == 3 and change["new"]["default"]["max_rings"] == 2


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"default": {"max_rings": 0}}, "default.max_rings"),
        ({"default": {"agent_rings": -1}}, "default.agent_rings"),
        ({"default": {"cadence": "atlantis"}}, "default.cadence"),
        ({"default": {"escalation": [{"kind": "message"}, {"kind": "queue"}]}}, "escalation"),
        ({"default": {"escalation": [{"kind": "external"}]}}, "dial"),
        ({"per_did": {"100": {"min_rings": 9}}}, "per_did.100.min_rings"),
        ({"defualt": {}}, "defualt"),
    ],
)
async def test_bad_policies_are_refused_by_field_and_nothing_changes(
    logged_in: LoggedIn, policies: LivePolicies, body: dict[str, Any], named: str
) -> None:
    client, csrf = await logged_in("admin")
    status, result = await put(client, csrf, body)
    assert status == 422
    assert any(named in line for line in result["errors"]), result
    assert policies.plan_for("100", None).max_rings == 3
    assert (await (await client.get("/api/admin/rings")).json())["history"] == []


async def test_malformed_and_oversized_bodies(logged_in: LoggedIn) -> None:
    client, csrf = await logged_in("admin")
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    response = await client.put("/api/admin/rings", data=b"{not json", headers=headers)
    assert response.status == 400
    response = await client.put("/api/admin/rings", data=b"[1, 2]", headers=headers)
    assert response.status == 400
    deep = b'{"x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"  # deeper than Python's stack
    response = await client.put("/api/admin/rings", data=deep, headers=headers)
    assert response.status == 400
    big = b'{"x": "' + b"a" * 70_000 + b'"}'
    response = await client.put("/api/admin/rings", data=big, headers=headers)
    assert response.status == 413


async def test_without_csrf_token_the_change_is_refused(
    logged_in: LoggedIn, policies: LivePolicies
) -> None:
    client, _ = await logged_in("admin")
    response = await client.put("/api/admin/rings", json={"default": {"max_rings": 2}})
    assert response.status == 403
    assert policies.plan_for("100", None).max_rings == 3


@pytest.mark.parametrize("role", ["agent", "supervisor"])
async def test_only_admins_see_or_change_policies(logged_in: LoggedIn, role: str) -> None:
    client, csrf = await logged_in(role)
    assert (await client.get("/api/admin/rings")).status == 403
    assert (await client.get("/admin/rings")).status == 403
    status, _ = await put(client, csrf, {"default": {"max_rings": 2}})
    assert status == 403


async def test_admin_page_is_served_to_admins(logged_in: LoggedIn) -> None:
    client, _ = await logged_in("admin")
    response = await client.get("/admin/rings")
    assert response.status == 200
    assert "Answered by" in await response.text()


async def test_service_level_for_supervisors_not_agents(
    logged_in: LoggedIn, store: CallStore
) -> None:
    await finished_call(store, "c1")
    await store.update_call("c1", answered_ring=1.5, max_rings=3.0)
    client, _ = await logged_in("supervisor")
    response = await client.get(
        "/api/stats/service-level?group_by=did&since=2026-11-27&until=2026-11-28"
    )
    assert response.status == 200
    (row,) = (await response.json())["rows"]
    assert row["within_limit"] == 1 and row["rings_to_answer"] == {"1": 1}
    bad = await client.get("/api/stats/service-level?group_by=planet")
    assert bad.status == 400 and "group_by" in (await bad.json())["error"]
    bad = await client.get("/api/stats/service-level?since=yesterday")
    assert bad.status == 400
    agent, _ = await logged_in("agent")
    assert (await agent.get("/api/stats/service-level")).status == 403
