from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from telephony.config import AgentConfig
from telephony.store.repo import CallStore
from telephony.web.app import AGENT_UI_DIR

from .conftest import T0, Client, World, add_user, finished_call, live_call, log_in


@pytest.fixture
async def client(aiohttp_client: AiohttpClient, app: web.Application) -> Client:
    """Logged in as a supervisor (the calls page shows everyone's calls to them)."""
    await add_user(app, "sue", role="supervisor")
    client = await aiohttp_client(app)
    await log_in(client, "sue")
    return client


async def get_json(client: Client, path: str) -> Any:
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    return await response.json()


@pytest.mark.parametrize(
    ("ari", "db", "expected"),
    [
        ("connected", True, {"status": "ok", "ari": "connected", "db": "ok"}),
        ("disconnected", True, {"status": "degraded", "ari": "disconnected", "db": "ok"}),
        ("connecting", True, {"status": "degraded", "ari": "connecting", "db": "ok"}),
        ("connected", False, {"status": "degraded", "ari": "connected", "db": "error"}),
        (
            "connected",
            OSError("db gone"),
            {"status": "degraded", "ari": "connected", "db": "error"},
        ),
        ("disconnected", False, {"status": "degraded", "ari": "disconnected", "db": "error"}),
    ],
)
async def test_healthz(
    client: Client, world: World, ari: str, db: bool | Exception, expected: dict[str, str]
) -> None:
    world.ari, world.db = ari, db
    assert await get_json(client, "/healthz") == expected


async def test_api_calls_empty(client: Client) -> None:
    assert await get_json(client, "/api/calls") == {
        "now": "2026-11-27T09:10:00+00:00",
        "live": [],
        "recent": [],
    }


async def test_api_calls_lists_live_and_finished_calls(
    client: Client, store: CallStore, world: World
) -> None:
    await finished_call(store, "answered", recording_name="answered-rec")
    await finished_call(
        store,
        "abandoned",
        number="anonymous",
        name="",
        start=T0 + timedelta(minutes=5),
        answered_after=None,
        ended_after=12.34,
        outcome="abandoned",
    )
    # Still open: shown by the call engine's live list, not in recent.
    await store.call_arrived(
        call_id="open",
        did="+902120000000",
        caller_number_raw="05551112233",
        caller_name_raw="Open",
        caller_channel_id="chan-open",
        arrived_at=T0 + timedelta(minutes=9),
    )
    world.live = [
        {
            **live_call("open", phase="offering", name="Open", agent_id="alice"),
            "since": T0 + timedelta(minutes=9),  # datetimes from the engine serialise
        }
    ]

    body = await get_json(client, "/api/calls")

    assert body["now"] == "2026-11-27T09:10:00+00:00"
    assert body["live"] == [
        {**world.live[0], "since": "2026-11-27T09:09:00+00:00", "agent_name": "Alice"}
    ]
    assert body["recent"] == [
        {
            "id": "abandoned",
            "did": "+902120000000",
            "caller_number": None,
            "caller_number_raw": "anonymous",
            "caller_name": "",
            "agent_id": None,
            "agent_name": None,
            "arrived_at": "2026-11-27T09:05:00+00:00",
            "answered_at": None,
            "ended_at": "2026-11-27T09:05:12.340000+00:00",
            "outcome": "abandoned",
            "ring_seconds": 12.3,
            "talk_seconds": None,
            "recording_name": None,
            **NO_RINGS,
        },
        {
            "id": "answered",
            "did": "+902120000000",
            "caller_number": "+905551112233",
            "caller_number_raw": "+905551112233",
            "caller_name": "Ayşe",
            "agent_id": "alice",
            "agent_name": "Alice",
            "arrived_at": "2026-11-27T09:00:00+00:00",
            "answered_at": "2026-11-27T09:00:04+00:00",
            "ended_at": "2026-11-27T09:01:04+00:00",
            "outcome": "answered",
            "ring_seconds": 4.0,
            "talk_seconds": 60.0,
            "recording_name": "answered-rec",
            **NO_RINGS,
        },
    ]


NO_RINGS: dict[str, object] = {
    "cadence": None,
    "max_rings": None,
    "answered_ring": None,
    "abandoned_ring": None,
    "system_answered": False,
    "escalations": [],
}


async def test_caller_markup_is_returned_as_plain_json_text(
    client: Client, store: CallStore
) -> None:
    await finished_call(store, "x", name="<img src=x onerror=alert(1)>")
    response = await client.get("/api/calls")
    assert response.content_type == "application/json"
    assert (await response.json())["recent"][0]["caller_name"] == "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/healthz",
        "/api/calls",
        "/api/me",
        "/login",
        "/static/calls.js",
        "/static/login.js",
        "/static/style.css",
        "/nope",
    ],
)
async def test_security_headers_on_every_response(client: Client, path: str) -> None:
    response = await client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'self';")
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("/", "text/html", "<title>ThirdRing — calls</title>"),
        ("/static/index.html", "text/html", "<title>ThirdRing — calls</title>"),
        ("/static/calls.js", "javascript", "/api/calls"),
        ("/static/login.html", "text/html", "<title>ThirdRing — log in</title>"),
        ("/static/login.js", "javascript", "/login"),
        ("/static/style.css", "text/css", "text-overflow: ellipsis"),
        ("/static/favicon.svg", "image/svg+xml", "<svg"),
    ],
)
async def test_page_and_static_files(
    client: Client, path: str, content_type: str, marker: str
) -> None:
    response = await client.get(path)
    assert response.status == 200
    assert content_type in response.content_type
    assert marker in await response.text()


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/api/nope",
        "/static/",
        "/static/missing.js",
        "/static/../pyproject.toml",
        "/static/%2e%2e/pyproject.toml",
        "/static/..%2fpyproject.toml",
    ],
)
async def test_unknown_paths_are_404_without_listing_or_traversal(
    client: Client, path: str
) -> None:
    response = await client.get(path)
    assert response.status in (403, 404)
    assert "[project]" not in await response.text()


async def test_wrong_method(client: Client) -> None:
    assert (await client.post("/api/calls")).status == 405
    assert (await client.put("/healthz")).status == 405


class _InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("inline <style>")
        self.problems += [f"{tag}[{n}]" for n in names if n == "style" or n.startswith("on")]
        self._in_script = tag == "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append("script body")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


@pytest.mark.parametrize(
    ("page", "script"), [("index.html", "calls.js"), ("login.html", "login.js")]
)
def test_page_has_no_inline_code_and_never_parses_html(page: str, script: str) -> None:
    finder = _InlineFinder()
    finder.feed((AGENT_UI_DIR / page).read_text(encoding="utf-8"))
    assert finder.problems == []
    code = (AGENT_UI_DIR / script).read_text(encoding="utf-8")
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", code)


async def test_an_agent_sees_only_their_own_calls(
    aiohttp_client: AiohttpClient, app: web.Application, store: CallStore, world: World
) -> None:
    await store.upsert_agents([AgentConfig(id="bob", name="Bob", endpoint="PJSIP/b")])
    await finished_call(store, "alices", agent_id="alice")
    await finished_call(store, "bobs", agent_id="bob", start=T0 + timedelta(minutes=1))
    world.live = [
        live_call("live-bob", phase="talking", agent_id="bob"),
        {**live_call("ringing-alice", phase="offering"), "offered_to": ["alice"]},
    ]
    await add_user(app, "alice", role="agent", agent_id="alice")
    client = await aiohttp_client(app)
    await log_in(client, "alice")
    body = await get_json(client, "/api/calls")
    assert [c["id"] for c in body["recent"]] == ["alices"]
    assert [c["id"] for c in body["live"]] == ["ringing-alice"]
