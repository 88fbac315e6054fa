"""The statistics API: who reads what (agents only their own figures and grades), bad
parameters answered 400 with what is wrong, ad spend and the grading form for admins,
grades by supervisors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient
from sqlalchemy import func, select

from telephony.config import AgentConfig
from telephony.stats.rollup import FRESH_DAYS
from telephony.store.models import StatsDay
from telephony.store.policy_audit import PolicyAudit
from telephony.store.repo import CallStore
from telephony.web.app import AGENT_UI_DIR
from telephony.web.stats import add_stats_routes

from .conftest import Client, World, add_user, finished_call, log_in

LoggedIn = Callable[[str], Awaitable[tuple[Client, str]]]


@pytest.fixture
async def stats_app(app: web.Application, store: CallStore, world: World) -> web.Application:
    await store.upsert_agents([AgentConfig(id="bob", name="<b>Bob</b>", endpoint="PJSIP/b")])
    await finished_call(store, "c-alice", agent_id="alice")
    await finished_call(store, "c-bob", agent_id="bob", ended_after=20.0)
    await finished_call(store, "c-lost", answered_after=None, outcome="abandoned")
    add_stats_routes(
        app,
        engine=store.engine,
        audit=PolicyAudit(store.engine),
        page=AGENT_UI_DIR / "stats.html",
        now=world.clock,
        refresh_every_s=None,
    )
    return app


@pytest.fixture
def logged_in(aiohttp_client: AiohttpClient, stats_app: web.Application) -> LoggedIn:
    async def as_role(role: str) -> tuple[Client, str]:
        agent = "alice" if role == "agent" else None
        await add_user(stats_app, role, role=role, agent_id=agent)
        client = await aiohttp_client(stats_app)
        return client, await log_in(client, role)

    return as_role


async def get(client: Client, path: str) -> tuple[int, Any]:
    response = await client.get(path)
    return response.status, await response.json()


async def test_supervisor_reads_every_agent_an_agent_only_herself(logged_in: LoggedIn) -> None:
    supervisor, _ = await logged_in("supervisor")
    status, body = await get(supervisor, "/api/stats/figures?group_by=agent")
    assert status == 200
    assert {row["key"]: row["calls"]["incoming"] for row in body["rows"]} == {
        "": 1,
        "alice": 1,
        "bob": 1,
    }
    status, total = await get(supervisor, "/api/stats/figures?since=2026-11-27&until=2026-11-27")
    assert total["rows"][0]["calls"]["incoming"] == 3
    assert total["rows"][0]["talk"]["effective"] == 1  # alice's 60 s, not bob's 16 s
    agent, _ = await logged_in("agent")
    status, mine = await get(agent, "/api/stats/figures")
    assert (status, mine["query"]["agent"]) == (200, "alice")
    assert [row["calls"]["incoming"] for row in mine["rows"]] == [1]
    status, mine_grouped = await get(agent, "/api/stats/figures?group_by=agent")
    assert [row["key"] for row in mine_grouped["rows"]] == ["alice"]
    assert (await agent.get("/api/stats/figures?agent=bob")).status == 403
    assert (await get(agent, "/api/stats/agents"))[1] == {
        "agents": [{"id": "alice", "name": "Alice"}]
    }
    for path in ("/api/stats/costs", "/api/grading/form", "/api/calls/c-bob/grades"):
        assert (await agent.get(path)).status in (403, 404), path


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=27.11.2026", "since = '27.11.2026': must be a date like 2026-11-27"),
        ("since=2026-11-27&until=2026-11-01", "since must come first"),
        ("since=2025-01-01&until=2026-11-27", "at most 92 days at once"),
        ("group_by=planet", "group_by = 'planet': must be one of total, day, week"),
        ("agent=nobody", "agent = 'nobody': no such agent"),
        ("min_talk_s=ten", "min_talk_s = 'ten': must be whole seconds from 0 to 3600"),
        ("color=red", "unknown parameter 'color'"),
    ],
)
async def test_bad_parameters_are_400_with_what_is_wrong(
    logged_in: LoggedIn, query: str, message: str
) -> None:
    supervisor, _ = await logged_in("supervisor")
    status, body = await get(supervisor, f"/api/stats/figures?{query}")
    assert status == 400
    assert message in body["error"]


async def test_nothing_without_a_session(
    aiohttp_client: AiohttpClient, stats_app: web.Application
) -> None:
    client = await aiohttp_client(stats_app)
    assert (await client.get("/api/stats/figures")).status == 401
    page = await client.get("/stats", allow_redirects=False)
    assert (page.status, page.headers["Location"]) == (302, "/login")


async def test_admin_enters_spend_and_costs_follow(logged_in: LoggedIn) -> None:
    admin, csrf = await logged_in("admin")
    headers = {"X-CSRF-Token": csrf}
    spend = {"did": "+902120000000", "month": "2026-11", "amount": 300}
    response = await admin.put("/api/admin/spend", json=spend, headers=headers)
    assert response.status == 200, await response.text()
    bad = await admin.put("/api/admin/spend", json={**spend, "amount": -1}, headers=headers)
    assert bad.status == 422
    assert (await bad.json())["errors"][0].startswith("amount = -1")
    status, costs = await get(admin, "/api/stats/costs?since=2026-11&until=2026-11")
    assert status == 200
    assert costs["rows"][0]["cost_per_call"] == 100.0  # 300 over 3 calls
    assert costs["history"][0]["who"] == "admin"
    assert (await get(admin, "/api/stats/costs?since=2026-13"))[0] == 400
    status, body = await get(admin, "/api/stats/costs?since=2024-01&until=2026-11")
    assert (status, "at most 24" in body["error"]) == (400, True)
    supervisor, s_csrf = await logged_in("supervisor")
    refused = await supervisor.put("/api/admin/spend", json=spend, headers={"X-CSRF-Token": s_csrf})
    assert refused.status == 403


async def test_grading_round_trip_and_roles(logged_in: LoggedIn) -> None:
    supervisor, csrf = await logged_in("supervisor")
    status, form = await get(supervisor, "/api/grading/form")
    assert status == 200 and form["form"]["version"] == 0
    answers = {q["id"]: True for q in form["form"]["questions"]}
    headers = {"X-CSRF-Token": csrf}
    posted = await supervisor.post(
        "/api/calls/c-alice/grades", json={"answers": answers}, headers=headers
    )
    assert posted.status == 201, await posted.text()
    again = await supervisor.post(
        "/api/calls/c-alice/grades",
        json={"answers": {**answers, "greeted": False}, "mystery": True, "scenario": "discount"},
        headers=headers,
    )
    assert (await again.json())["grade"]["revision"] == 2
    bad = await supervisor.post(
        "/api/calls/c-alice/grades", json={"answers": {"x": True}}, headers=headers
    )
    assert bad.status == 422
    missing = await supervisor.post(
        "/api/calls/none/grades", json={"answers": answers}, headers=headers
    )
    assert missing.status == 404
    not_allowed = await supervisor.put(
        "/api/admin/grading/form", json={"questions": []}, headers=headers
    )
    assert not_allowed.status == 403
    agent, agent_csrf = await logged_in("agent")
    status, own = await get(agent, "/api/calls/c-alice/grades")
    assert status == 200 and [g["revision"] for g in own["grades"]] == [2, 1]
    assert (await agent.get("/api/calls/c-bob/grades")).status == 404
    refused = await agent.post(
        "/api/calls/c-alice/grades", json={"answers": answers}, headers={"X-CSRF-Token": agent_csrf}
    )
    assert refused.status == 403
    status, scores = await get(agent, "/api/stats/grades?group_by=week")
    assert status == 200 and [r["agent_id"] for r in scores["rows"]] == ["alice"]
    assert (await agent.get("/api/stats/grades?agent=bob")).status == 403
    admin, admin_csrf = await logged_in("admin")
    saved = await admin.put(
        "/api/admin/grading/form",
        json={"questions": [{"id": "greeted", "text": "Greeted"}]},
        headers={"X-CSRF-Token": admin_csrf},
    )
    assert saved.status == 200 and (await saved.json())["form"]["version"] == 1


async def test_closed_days_read_from_the_aggregates_with_the_same_figures(
    logged_in: LoggedIn, world: World
) -> None:
    supervisor, _ = await logged_in("supervisor")
    path = "/api/stats/figures?since=2026-11-27&until=2026-11-27&group_by=agent"
    _, today = await get(supervisor, path)
    world.now += timedelta(days=2)  # the 27th is closed now: aggregated on first use
    admin, _ = await logged_in("admin")  # (the supervisor's session has expired by now)
    status, closed = await get(admin, path)
    assert status == 200 and closed["rows"] == today["rows"]
    assert [row["calls"]["incoming"] for row in closed["rows"]] == [1, 1, 1]


async def test_recent_days_are_refreshed_in_the_background(
    aiohttp_client: AiohttpClient, app: web.Application, store: CallStore, world: World
) -> None:
    world.now += timedelta(days=2)
    add_stats_routes(
        app,
        engine=store.engine,
        audit=PolicyAudit(store.engine),
        page=AGENT_UI_DIR / "stats.html",
        now=world.clock,
        refresh_every_s=0.05,
    )
    await aiohttp_client(app)  # starts the app and its refresh task
    for _ in range(100):
        async with store.engine.connect() as conn:
            days = (await conn.execute(select(func.count()).select_from(StatsDay))).scalar()
        if days == FRESH_DAYS:
            break
        await asyncio.sleep(0.05)
    assert days == FRESH_DAYS


async def test_admin_recomputes_closed_days(logged_in: LoggedIn, world: World) -> None:
    world.now += timedelta(days=3)
    admin, csrf = await logged_in("admin")
    headers = {"X-CSRF-Token": csrf}
    done = await admin.post(
        "/api/admin/stats/refresh?since=2026-11-26&until=2026-11-30", headers=headers
    )
    assert (done.status, await done.json()) == (200, {"refreshed_days": 4})  # the 30th is today
    bad = await admin.post("/api/admin/stats/refresh?since=2020-01-01", headers=headers)
    assert bad.status == 400 and "at most 366 days" in (await bad.json())["error"]
    supervisor, s_csrf = await logged_in("supervisor")
    refused = await supervisor.post("/api/admin/stats/refresh", headers={"X-CSRF-Token": s_csrf})
    assert refused.status == 403
