"""Every route of the whole service, without a session and with each role below the
ones it declares: nothing is reachable by omission (the bad-input suite's route sweep)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.web_urldispatcher import StaticResource
from pytest_aiohttp import AiohttpClient

from telephony.auth.roles import ROLES
from telephony.config import load_settings
from telephony.service import build_app
from telephony.web.access import ACCOUNTS_KEY, access_of
from tests.bad_input import report

from .conftest import log_in

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def app(tmp_path: Path) -> web.Application:
    settings = load_settings(
        ari_url="http://127.0.0.1:9",  # nothing listens: the web app works without ARI
        ari_username="u",
        ari_password="password",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'routes.db'}",
        recordings_dir=str(tmp_path / "recordings"),
        ivr_sounds_dir=str(tmp_path / "sounds"),
        agents=[{"id": "ayse", "name": "Ayşe", "endpoint": "PJSIP/agent2001"}],
        log_json=False,
    )
    return build_app(settings)


def declared(app: web.Application) -> list[tuple[str, str, frozenset[str]]]:
    """(method, a concrete path, roles) of every route that needs a session."""
    found = []
    for route in app.router.routes():
        if isinstance(route.resource, StaticResource) or route.method == "HEAD":
            continue
        access = access_of(route)
        assert access is not None, f"{route.method} {route.resource} declares no access"
        if access.roles is None or route.resource is None:
            continue  # public: the login page, /healthz
        path = re.sub(r"\{[^}]+\}", "1", route.resource.canonical)
        found.append((route.method, path, frozenset[str](access.roles)))
    return found


async def test_no_route_is_reachable_without_a_session(
    app: web.Application, aiohttp_client: AiohttpClient
) -> None:
    client = await aiohttp_client(app)
    routes = declared(app)
    assert len(routes) > 40
    reached = []
    for method, path, _ in routes:
        response = await client.request(method, path, json={}, allow_redirects=False)
        if response.status not in (401, 302):
            reached.append((method, path, response.status))
        if response.status == 302:
            assert method == "GET" and response.headers["Location"] == "/login"
    report("routes without a session", tried=len(routes), crashed=0, leaked=len(reached))
    assert reached == []


@pytest.mark.parametrize("role", sorted(ROLES))
async def test_no_route_answers_a_role_it_does_not_name(
    app: web.Application, aiohttp_client: AiohttpClient, role: str
) -> None:
    client = await aiohttp_client(app)
    agent_id = "ayse" if role == "agent" else None
    await app[ACCOUNTS_KEY].add_user(f"{role}-user", PASSWORD, role, agent_id)
    csrf = await log_in(client, f"{role}-user", PASSWORD)
    refused = 0
    for method, path, roles in declared(app):
        if role in roles:
            continue
        response = await client.request(method, path, json={}, headers={"X-CSRF-Token": csrf})
        assert response.status == 403, (role, method, path, response.status)
        refused += 1
    if refused:
        report(f"routes with the wrong role ({role})", tried=refused, crashed=0, leaked=0)
    assert role == "admin" or refused > 0


def test_the_sweep_covers_the_scripts_routes(app: web.Application) -> None:
    """Issue 7's routes: admin only, but the conversion, which supervisors read too."""
    routes = {(method, path): roles for method, path, roles in declared(app)}
    admin = frozenset({"admin"})
    assert routes[("GET", "/admin/scripts")] == admin
    assert routes[("PUT", "/api/admin/scripts/1/draft")] == admin
    assert routes[("PUT", "/api/admin/scripts/1/release")] == admin
    assert routes[("POST", "/api/admin/scripts/1/publish")] == admin
    assert routes[("PUT", "/api/admin/campaigns/1")] == admin
    assert routes[("PUT", "/api/admin/script-rules")] == admin
    assert routes[("GET", "/api/scripts/conversion")] == frozenset({"supervisor", "admin"})
    # A call's script on the agent's page: every role; the call's own access check inside.
    assert routes[("GET", "/api/calls/1/script")] == frozenset(ROLES)
    assert routes[("PUT", "/api/calls/1/script")] == frozenset(ROLES)


def test_public_routes_are_only_these(app: web.Application) -> None:
    """A route declared public is reachable by anyone: the list is pinned. /metrics
    checks its own bearer token or supervisor session (tests/asterisk/test_metrics)."""
    public = set()
    for route in app.router.routes():
        access = access_of(route)
        resource = route.resource
        if isinstance(resource, StaticResource) or route.method == "HEAD" or resource is None:
            continue
        if access is not None and access.roles is None:
            public.add((route.method, resource.canonical))
    assert public == {
        ("GET", "/login"),
        ("POST", "/login"),
        ("GET", "/healthz"),
        ("GET", "/metrics"),
    }


async def test_metrics_refuse_without_a_token_or_a_supervisor(
    app: web.Application, aiohttp_client: AiohttpClient
) -> None:
    client = await aiohttp_client(app)
    assert (await client.get("/metrics")).status == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer x"})).status == 401
    await app[ACCOUNTS_KEY].add_user("an-agent", PASSWORD, "agent", "ayse")
    await log_in(client, "an-agent", PASSWORD)
    assert (await client.get("/metrics")).status == 403


BAD_BODIES: list[tuple[str, bytes]] = [
    ("2 MB", b'{"x": "' + b"a" * 2_000_000 + b'"}'),
    ("nested 10 000 deep", b"[" * 10_000 + b"]" * 10_000),
    ("not UTF-8", b'{"x": "\xff\xfe\xfa"}'),
    ("a JSON array", b"[1, 2, 3]"),
    ("a JSON string", b'"x"'),
    ("NaN", b'{"x": NaN}'),
    ("empty", b""),
]


async def test_every_state_changing_route_refuses_bad_bodies_without_a_5xx(
    app: web.Application, aiohttp_client: AiohttpClient
) -> None:
    """Each POST/PUT/PATCH/DELETE, as a user it allows, with bodies no page sends:
    refused (4xx) or ignored, never a server error; counted after the run."""
    client = await aiohttp_client(app)
    for each in sorted(ROLES):
        agent_id = "ayse" if each == "agent" else None
        await app[ACCOUNTS_KEY].add_user(f"{each}-bodies", PASSWORD, each, agent_id)
    changing = sorted(
        ("admin" if "admin" in roles else sorted(roles)[0], method, path)
        for method, path, roles in declared(app)
        if method in ("POST", "PUT", "PATCH", "DELETE") and path != "/logout"
    )
    tried = crashed = 0
    failures = []
    csrf, logged_in_as = "", ""
    for role, method, path in changing:
        if role != logged_in_as:  # one login per role: the routes are sorted by it
            client.session.cookie_jar.clear()
            csrf, logged_in_as = await log_in(client, f"{role}-bodies", PASSWORD), role
        headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
        for name, body in BAD_BODIES:
            response = await client.request(method, path, data=io.BytesIO(body), headers=headers)
            tried += 1
            if response.status >= 500:
                crashed += 1
                failures.append((method, path, name, response.status))
    report("bad HTTP bodies on every state-changing route", tried=tried, crashed=crashed, leaked=0)
    assert tried > 100 and failures == []
