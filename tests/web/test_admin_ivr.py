"""Admins edit call flows (validated by field, versioned with who and when, in force at
once); supervisors read the IVR part of calls and its figures; agents do neither."""

from __future__ import annotations

import io
import math
import wave
from array import array
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from telephony.calls.ivr_runtime import IvrRuntime
from telephony.store.callbacks import CallbackStore
from telephony.store.repo import CallStore
from telephony.web.admin_ivr import add_ivr_routes
from telephony.web.app import AGENT_UI_DIR

from .conftest import T0, Client, add_user, log_in

LoggedIn = Callable[[str], Awaitable[tuple[Client, str]]]

FLOW: dict[str, Any] = {
    "start": "menu",
    "nodes": {
        "menu": {
            "kind": "menu",
            "prompt": {"text": {"tr": "Satış için 1, destek için 2"}},
            "choices": {"1": {"next": "sales", "tag": "sales"}, "2": {"next": "support"}},
            "default": "sales",
        },
        "sales": {"kind": "agents", "group": "sales"},
        "support": {"kind": "agents", "group": "support"},
    },
}


@pytest.fixture
async def ivr(store: CallStore, tmp_path: Path) -> AsyncIterator[IvrRuntime]:
    runtime = IvrRuntime(
        engine=store.engine,
        callbacks=CallbackStore(store.engine),
        sounds_dir=tmp_path / "sounds",
        pbx_sounds_dir="/pbx/sounds",
        default_region="TR",
        app="thirdring",
        clock=lambda: T0,
    )
    yield runtime
    await runtime.close()  # TTS rendering started by a save finishes first


@pytest.fixture
def logged_in(aiohttp_client: AiohttpClient, app: web.Application, ivr: IvrRuntime) -> LoggedIn:
    add_ivr_routes(app, ivr=ivr, page=AGENT_UI_DIR / "admin_ivr.html")

    async def as_role(role: str) -> tuple[Client, str]:
        await add_user(app, role, role=role)
        client = await aiohttp_client(app)
        return client, await log_in(client, role)

    return as_role


async def put(client: Client, csrf: str, did: str, body: Any) -> tuple[int, Any]:
    response = await client.put(
        f"/api/admin/ivr/flows/{did}", json=body, headers={"X-CSRF-Token": csrf}
    )
    return response.status, await response.json()


async def test_admin_saves_a_flow_in_force_at_once_and_versioned(
    logged_in: LoggedIn, ivr: IvrRuntime
) -> None:
    client, csrf = await logged_in("admin")
    status, body = await put(client, csrf, "908502220001", FLOW)
    assert status == 200, body
    assert body["version"] == 1 and body["warnings"] == []
    in_force = ivr.flows.flow_for("908502220001")
    assert in_force is not None and in_force.version == 1
    changed = {**FLOW, "start": "sales"}
    status, body = await put(client, csrf, "908502220001", changed)
    assert status == 200 and body["version"] == 2
    # Nothing leads to the menu any more: saved, with a warning.
    assert body["warnings"] == ["nodes ['menu', 'support']: nothing leads to them"]
    listing = await (await client.get("/api/admin/ivr")).json()
    assert listing["flows"]["908502220001"]["version"] == 2
    assert listing["flows"]["908502220001"]["flow"]["start"] == "sales"
    assert [(h["version"], h["who"]) for h in listing["history"]] == [(2, "admin"), (1, "admin")]
    assert listing["tts_languages"] == ["en", "tr"]


async def test_a_bad_flow_is_refused_by_field_and_the_old_one_stays(
    logged_in: LoggedIn, ivr: IvrRuntime
) -> None:
    client, csrf = await logged_in("admin")
    await put(client, csrf, "9001", FLOW)
    bad = {**FLOW, "nodes": {**FLOW["nodes"], "menu": {**FLOW["nodes"]["menu"], "default": "x"}}}
    status, body = await put(client, csrf, "9001", bad)
    assert status == 422
    assert body["errors"][0].startswith("nodes.menu.default = 'x': no such node")
    in_force = ivr.flows.flow_for("9001")
    assert in_force is not None and in_force.version == 1


async def test_a_flow_naming_a_prompt_file_needs_the_file_uploaded_first(
    logged_in: LoggedIn, ivr: IvrRuntime
) -> None:
    client, csrf = await logged_in("admin")
    flow = {
        "start": "hello",
        "nodes": {
            "hello": {"kind": "play", "prompt": {"files": {"tr": "hello"}}, "next": "agents"},
            "agents": {"kind": "agents"},
        },
    }
    status, body = await put(client, csrf, "9001", flow)
    assert status == 422 and "files.tr = 'hello': no such sound file" in body["errors"][0]
    response = await client.put(
        "/api/admin/ivr/sounds/hello",
        data=wav_bytes(rate=16000),
        headers={"X-CSRF-Token": csrf, "Content-Type": "audio/wav"},
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["seconds"] == 0.5
    with wave.open(str(ivr.sounds.host_dir / "hello.wav"), "rb") as w:
        assert (w.getframerate(), w.getnchannels()) == (8000, 1)
    status, body = await put(client, csrf, "9001", flow)
    assert status == 200, body
    listing = await (await client.get("/api/admin/ivr")).json()
    assert listing["sounds"] == ["hello"]


async def test_uploads_must_be_mono_16_bit_wav_with_a_safe_name(logged_in: LoggedIn) -> None:
    client, csrf = await logged_in("admin")
    headers = {"X-CSRF-Token": csrf}
    stereo = await client.put(
        "/api/admin/ivr/sounds/x", data=wav_bytes(channels=2), headers=headers
    )
    assert stereo.status == 400 and "mono, 16 bit" in (await stereo.json())["error"]
    junk = await client.put("/api/admin/ivr/sounds/x", data=b"not a wav", headers=headers)
    assert junk.status == 400
    cache = await client.put("/api/admin/ivr/sounds/tts/x", data=wav_bytes(), headers=headers)
    assert cache.status == 400


async def test_removing_a_flow_sends_the_did_straight_to_the_agents(
    logged_in: LoggedIn, ivr: IvrRuntime
) -> None:
    client, csrf = await logged_in("admin")
    await put(client, csrf, "9001", FLOW)
    response = await client.delete("/api/admin/ivr/flows/9001", headers={"X-CSRF-Token": csrf})
    assert response.status == 200 and (await response.json())["version"] == 2
    assert ivr.flows.flow_for("9001") is None
    again = await client.delete("/api/admin/ivr/flows/9001", headers={"X-CSRF-Token": csrf})
    assert again.status == 404


async def test_saved_flows_come_back_after_a_restart(logged_in: LoggedIn, store: CallStore) -> None:
    client, csrf = await logged_in("admin")
    await put(client, csrf, "9001", FLOW)
    fresh = IvrRuntime(
        engine=store.engine,
        callbacks=CallbackStore(store.engine),
        sounds_dir=Path("/tmp/unused-ivr-sounds"),
        pbx_sounds_dir=None,
        default_region="TR",
        app="thirdring",
        clock=lambda: T0,
    )
    await fresh.restore()
    in_force = fresh.flows.flow_for("9001")
    assert in_force is not None and in_force.version == 1
    await fresh.close()


async def test_without_the_csrf_header_nothing_changes(
    logged_in: LoggedIn, ivr: IvrRuntime
) -> None:
    client, _ = await logged_in("admin")
    response = await client.put("/api/admin/ivr/flows/9001", json=FLOW)
    assert response.status == 403
    assert ivr.flows.flow_for("9001") is None


@pytest.mark.parametrize("role", ["agent", "supervisor"])
async def test_only_admins_edit_flows(logged_in: LoggedIn, role: str) -> None:
    client, csrf = await logged_in(role)
    status, _ = await put(client, csrf, "9001", FLOW)
    assert status == 403
    assert (await client.get("/admin/ivr")).status == 403


async def test_supervisors_read_runs_and_figures_agents_do_not(
    logged_in: LoggedIn, ivr: IvrRuntime
) -> None:
    await ivr.store.record_run(
        call_id="c1",
        did="9001",
        flow_version=1,
        caller_number="+905551112233",
        record={
            "path": ["menu", "sales"],
            "keys": "1",
            "tags": ["sales"],
            "language": "tr",
            "started_at": T0.isoformat(),
            "ended_at": T0.isoformat(),
            "seconds": 3.0,
            "result": "agents",
            "alarms": [],
        },
        detail={"group": "sales"},
    )
    client, _ = await logged_in("supervisor")
    run = await (await client.get("/api/ivr/runs?call_id=c1")).json()
    assert run["path"] == ["menu", "sales"] and run["keys"] == "1" and run["tags"] == ["sales"]
    assert (await client.get("/api/ivr/runs?call_id=nope")).status == 404
    figures = await (await client.get("/api/stats/ivr?since=2026-11-01")).json()
    assert figures["dids"][0]["calls"] == 1
    agent, _ = await logged_in("agent")
    assert (await agent.get("/api/ivr/runs")).status == 403


def wav_bytes(rate: int = 8000, channels: int = 1, seconds: float = 0.5) -> bytes:
    samples = array(
        "h",
        (round(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(rate * seconds))),
    )
    if channels == 2:
        samples = array("h", (s for s in samples for _ in range(2)))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return buffer.getvalue()
