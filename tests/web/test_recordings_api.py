"""Recordings over HTTP: who may hear what, range requests, pause, legal hold, audit, purge."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from telephony.alarms import Alarms
from telephony.config import AgentConfig
from telephony.recording.retention import purge_expired
from telephony.store.recordings import RecordingStore
from telephony.store.repo import CallStore
from telephony.web.recordings import RecordingsAccess, add_recording_routes

from .conftest import T0, Client, add_user, finished_call, log_in

AUDIO = b"RIFF" + bytes(range(256)) * 40  # the API serves bytes; it never parses them
LoggedIn = Callable[..., Awaitable[tuple[Client, str]]]


class Controls:
    def __init__(self) -> None:
        self.live: set[str] = set()
        self.muted: list[tuple[str, bool]] = []
        self.pause_allowed = True

    async def mute(self, call_id: str, on: bool) -> None:
        self.muted.append((call_id, on))


@pytest.fixture
async def recordings(store: CallStore, tmp_path: Path) -> RecordingStore:
    await store.upsert_agents(
        [
            AgentConfig(id="alice", name="Alice", endpoint="PJSIP/a"),
            AgentConfig(id="bob", name="Bob", endpoint="PJSIP/b"),
        ]
    )
    kept = RecordingStore(store.engine, lambda: T0)
    for call_id, agent in (("c-alice", "alice"), ("c-bob", "bob")):
        await finished_call(store, call_id, agent_id=agent, recording_name=call_id)
        await kept.started(call_id, call_id, "wav", 1, T0)
        path = f"2026/11/27/{call_id}.wav"
        (tmp_path / "rec" / "2026/11/27").mkdir(parents=True, exist_ok=True)
        (tmp_path / "rec" / path).write_bytes(AUDIO)
        await kept.update(call_id, status="complete", path=path, duration_s=60.0)
    return kept


@pytest.fixture
def controls() -> Controls:
    return Controls()


@pytest.fixture
def logged_in(
    aiohttp_client: AiohttpClient,
    app: web.Application,
    store: CallStore,
    recordings: RecordingStore,
    controls: Controls,
    tmp_path: Path,
) -> LoggedIn:
    async def agent_of(call_id: str) -> str | None:
        call = await store.get_call(call_id)
        return call.agent_id if call else None

    access = RecordingsAccess(
        store=recordings,
        root=tmp_path / "rec",
        alarms=Alarms(lambda: T0),
        pause_allowed=True,
        mute=controls.mute,
        agent_of=agent_of,
        live=lambda call_id: call_id in controls.live,
        clock=lambda: T0,
    )
    add_recording_routes(app, access)

    async def as_user(username: str, role: str, agent_id: str | None = None) -> tuple[Client, str]:
        access.pause_allowed = controls.pause_allowed
        await add_user(app, username, role=role, agent_id=agent_id)
        client = await aiohttp_client(app)
        return client, await log_in(client, username)

    return as_user


async def audio_url(recordings: RecordingStore, call_id: str) -> str:
    record = await recordings.get(call_id)
    assert record is not None
    url = record.as_json()["audio_url"]
    assert isinstance(url, str)
    return url


@pytest.mark.parametrize(
    ("role", "agent_id", "call_id", "status"),
    [
        ("agent", "alice", "c-alice", 200),
        ("agent", "alice", "c-bob", 404),  # another agent's call: as if it did not exist
        ("agent", None, "c-alice", 404),  # an agent account linked to no phone
        ("supervisor", None, "c-bob", 200),
        ("admin", None, "c-alice", 200),
    ],
)
async def test_who_may_hear_which_recording(
    logged_in: LoggedIn,
    recordings: RecordingStore,
    role: str,
    agent_id: str | None,
    call_id: str,
    status: int,
) -> None:
    client, _ = await logged_in("user1", role, agent_id)
    assert (await client.get(f"/api/calls/{call_id}/recording")).status == status
    response = await client.get(await audio_url(recordings, call_id))
    assert response.status == status
    if status == 200:
        assert await response.read() == AUDIO
        assert response.headers["Content-Type"] == "audio/wav"


async def test_without_a_session_nothing_is_served(
    logged_in: LoggedIn, recordings: RecordingStore
) -> None:
    client, _ = await logged_in("boss", "supervisor")
    client.session.cookie_jar.clear()  # logged out: the URL alone opens nothing
    assert (await client.get(await audio_url(recordings, "c-alice"))).status == 401
    assert (await client.get("/api/calls/c-alice/recording")).status == 401


@pytest.mark.parametrize(
    "token",
    [
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "c-alice",
        "2026%2F11%2F27%2Fc-alice.wav",
        "A" * 32,
        "x",
        "%00" * 20,
    ],
)
async def test_guessed_names_and_traversal_get_404(logged_in: LoggedIn, token: str) -> None:
    client, _ = await logged_in("boss", "admin")
    response = await client.get(f"/api/recordings/{token}/audio")
    assert response.status == 404


async def test_a_tampered_path_outside_the_root_is_not_served(
    logged_in: LoggedIn, recordings: RecordingStore
) -> None:
    await recordings.update("c-alice", path="../../../../etc/passwd")
    client, _ = await logged_in("boss", "admin")
    assert (await client.get(await audio_url(recordings, "c-alice"))).status == 404


async def test_range_requests_serve_parts_and_one_playback_is_audited_once(
    logged_in: LoggedIn, recordings: RecordingStore
) -> None:
    client, _ = await logged_in("boss", "supervisor")
    url = await audio_url(recordings, "c-alice")
    first = await client.get(url, headers={"Range": "bytes=0-"})
    assert first.status in (200, 206)
    part = await client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status == 206
    assert await part.read() == AUDIO[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(AUDIO)}"
    download = await client.get(url + "?download=1")
    assert "attachment" in download.headers["Content-Disposition"]
    log = await recordings.audit_log("c-alice")
    assert [(e["who"], e["action"]) for e in log] == [("boss", "play"), ("boss", "download")]


async def test_pause_and_resume_mute_the_live_recording_and_are_audited(
    logged_in: LoggedIn, recordings: RecordingStore, controls: Controls
) -> None:
    await recordings.update("c-alice", status="recording")
    client, csrf = await logged_in("alice", "agent", "alice")
    headers = {"X-CSRF-Token": csrf}
    not_live = await client.post("/api/calls/c-alice/recording/pause", headers=headers)
    assert not_live.status == 409
    controls.live.add("c-alice")
    assert (await client.post("/api/calls/c-alice/recording/pause", headers=headers)).status == 200
    again = await client.post("/api/calls/c-alice/recording/pause", headers=headers)
    assert again.status == 200  # pressing twice changes nothing
    resumed = await client.post("/api/calls/c-alice/recording/resume", headers=headers)
    assert resumed.status == 200
    assert controls.muted == [("c-alice", True), ("c-alice", False)]
    record = await recordings.get("c-alice")
    assert record is not None and len(record.pauses) == 1
    assert record.pauses[0]["by"] == "alice" and record.pauses[0]["until"] is not None
    actions = [e["action"] for e in await recordings.audit_log("c-alice")]
    assert actions == ["pause", "resume"]
    # Another agent may not pause it; without the CSRF header nobody may.
    other, other_csrf = await logged_in("bob", "agent", "bob")
    refused = await other.post(
        "/api/calls/c-alice/recording/pause", headers={"X-CSRF-Token": other_csrf}
    )
    assert refused.status == 404
    assert (await client.post("/api/calls/c-alice/recording/pause")).status == 403


async def test_a_policy_can_forbid_pausing(
    logged_in: LoggedIn, recordings: RecordingStore, controls: Controls
) -> None:
    await recordings.update("c-alice", status="recording")
    controls.live.add("c-alice")
    controls.pause_allowed = False
    client, csrf = await logged_in("alice", "agent", "alice")
    response = await client.post(
        "/api/calls/c-alice/recording/pause", headers={"X-CSRF-Token": csrf}
    )
    assert response.status == 403
    assert controls.muted == []


async def test_legal_hold_is_admin_only_and_survives_the_purge(
    logged_in: LoggedIn, recordings: RecordingStore, tmp_path: Path
) -> None:
    supervisor, s_csrf = await logged_in("sup", "supervisor")
    body = {"legal_hold": True}
    refused = await supervisor.post(
        "/api/calls/c-alice/recording/legal-hold", json=body, headers={"X-CSRF-Token": s_csrf}
    )
    assert refused.status == 403
    admin, csrf = await logged_in("root", "admin")
    bad = await admin.post(
        "/api/calls/c-alice/recording/legal-hold",
        json={"legal_hold": "yes"},
        headers={"X-CSRF-Token": csrf},
    )
    assert bad.status == 400
    held = await admin.post(
        "/api/calls/c-alice/recording/legal-hold", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert held.status == 200
    for call_id in ("c-alice", "c-bob"):
        await recordings.update(call_id, retain_until=T0 + timedelta(days=1))
    purged = await purge_expired(recordings, tmp_path / "rec", T0 + timedelta(days=2))
    assert purged == 1
    assert (tmp_path / "rec/2026/11/27/c-alice.wav").exists()
    assert not (tmp_path / "rec/2026/11/27/c-bob.wav").exists()
    bob = await recordings.get("c-bob")
    assert bob is not None and bob.status == "purged" and bob.purged_at is not None
    assert [e["action"] for e in await recordings.audit_log("c-bob")] == ["purge"]
    assert (await admin.get(await audio_url(recordings, "c-alice"))).status == 200
    assert (await admin.get("/api/calls/c-bob/recording")).status == 200


async def test_alarms_are_for_supervisors(logged_in: LoggedIn) -> None:
    agent, _ = await logged_in("alice", "agent", "alice")
    assert (await agent.get("/api/alarms")).status == 403
    supervisor, _ = await logged_in("sup", "supervisor")
    body = await (await supervisor.get("/api/alarms")).json()
    assert body == {"alarms": [], "counts": {}}


async def test_the_calls_list_shows_each_recording_and_links_only_your_own(
    logged_in: LoggedIn,
) -> None:
    client, _ = await logged_in("alice", "agent", "alice")
    recent = {c["id"]: c for c in (await (await client.get("/api/calls")).json())["recent"]}
    assert set(recent) == {"c-alice"}  # an agent's list holds only their own calls
    assert recent["c-alice"]["recording"]["status"] == "complete"
    assert recent["c-alice"]["recording"]["audio_url"].startswith("/api/recordings/")
    supervisor, _ = await logged_in("sup", "supervisor")
    seen = {c["id"]: c for c in (await (await supervisor.get("/api/calls")).json())["recent"]}
    assert seen["c-bob"]["recording"]["audio_url"] is not None
