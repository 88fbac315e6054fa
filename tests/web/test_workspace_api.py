"""The workspace API: call notes saved as typed and read back, only by the agent whose
call it is (or a supervisor); the language per user; bad fields named."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from telephony.config import AgentConfig
from telephony.store.repo import CallStore

from .conftest import Client, add_user, finished_call, log_in


async def _setup(app: web.Application, store: CallStore, aiohttp_client: Any) -> dict[str, Any]:
    await store.upsert_agents([AgentConfig(id="bob", name="Bob", endpoint="PJSIP/b")])
    await finished_call(store, "call-alice", agent_id="alice")
    await finished_call(store, "call-bob", agent_id="bob", number="+905421234567")
    await add_user(app, "alice", agent_id="alice")
    await add_user(app, "bob", agent_id="bob")
    await add_user(app, "sup", role="supervisor")
    clients: dict[str, Any] = {}
    for name in ("alice", "bob", "sup"):
        client: Client = await aiohttp_client(app)
        clients[name] = (client, await log_in(client, name))
    return clients


async def test_an_agent_cannot_read_or_write_another_agents_call(
    app: web.Application, store: CallStore, aiohttp_client: Any
) -> None:
    clients = await _setup(app, store, aiohttp_client)
    alice, csrf = clients["alice"]
    assert (await alice.get("/api/calls/call-bob/notes")).status == 403
    put = await alice.put(
        "/api/calls/call-bob/notes", json={"notes": "mine now"}, headers={"X-CSRF-Token": csrf}
    )
    assert put.status == 403
    assert (await alice.get("/api/calls/call-alice/notes")).status == 200
    assert (await alice.get("/api/calls/nope/notes")).status == 404
    sup, _ = clients["sup"]
    assert (await sup.get("/api/calls/call-bob/notes")).status == 200
    # Nor end another agent's wrap-up.
    ready = await alice.post("/api/agents/bob/ready", headers={"X-CSRF-Token": csrf})
    assert ready.status == 403


async def test_notes_are_saved_by_field_and_read_back(
    app: web.Application, store: CallStore, aiohttp_client: Any
) -> None:
    clients = await _setup(app, store, aiohttp_client)
    alice, csrf = clients["alice"]
    headers = {"X-CSRF-Token": csrf}
    url = "/api/calls/call-alice/notes"
    assert (await alice.put(url, json={"needs": "a quote"}, headers=headers)).status == 200
    assert (await alice.put(url, json={"name": "Ayşe H."}, headers=headers)).status == 200
    saved = await alice.put(
        url,
        json={
            "outcome": "lost",
            "lost_reason": "too expensive",
            "answers": {"budget": "5000 TL"},
            "next_step": "send the offer",
            "next_step_at": "2026-11-28T10:00:00+03:00",
            "notes": "<script>alert(1)</script>",
        },
        headers=headers,
    )
    assert saved.status == 200
    note = await (await alice.get(url)).json()
    assert note["needs"] == "a quote" and note["name"] == "Ayşe H."  # earlier fields kept
    assert note["outcome"] == "lost" and note["lost_reason"] == "too expensive"
    assert note["answers"] == {"budget": "5000 TL"}
    assert note["next_step_at"] == "2026-11-28T07:00:00+00:00"
    assert note["notes"] == "<script>alert(1)</script>"  # stored as text
    assert note["updated_by"] == "alice"


async def test_bad_fields_are_named(
    app: web.Application, store: CallStore, aiohttp_client: Any
) -> None:
    clients = await _setup(app, store, aiohttp_client)
    alice, csrf = clients["alice"]
    response = await alice.put(
        "/api/calls/call-alice/notes",
        json={"outcome": "maybe", "name": "x" * 81, "next_step_at": "tomorrow", "evil": 1},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 422
    problems = " ".join((await response.json())["problems"])
    for field in ("outcome", "name", "next_step_at", "'evil'"):
        assert field in problems
    no_csrf = await alice.put("/api/calls/call-alice/notes", json={"notes": "x"})
    assert no_csrf.status == 403


async def test_language_is_stored_per_user(
    app: web.Application, store: CallStore, aiohttp_client: Any
) -> None:
    clients = await _setup(app, store, aiohttp_client)
    alice, csrf = clients["alice"]
    bob, _ = clients["bob"]
    assert (await (await alice.get("/api/me/prefs")).json()) == {"lang": "tr"}
    put = await alice.put("/api/me/prefs", json={"lang": "en"}, headers={"X-CSRF-Token": csrf})
    assert put.status == 200
    assert (await (await alice.get("/api/me/prefs")).json()) == {"lang": "en"}
    assert (await (await bob.get("/api/me/prefs")).json()) == {"lang": "tr"}
    bad = await alice.put("/api/me/prefs", json={"lang": "xx"}, headers={"X-CSRF-Token": csrf})
    assert bad.status == 422
