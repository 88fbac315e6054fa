"""Admins edit each DID's call flow; supervisors read the IVR part of calls and its figures.

A saved flow is validated (every problem named by field; warnings returned too), stored
as a new version with who and when (the versions are the audit trail), and in force for
the next call on that DID at once; calls in progress keep the flow they started with.
Recorded prompts are uploaded as WAV (mono, 16 bit, any rate: converted to 8 kHz).
"""

from __future__ import annotations

import io
import wave
from array import array
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from aiohttp import web

from telephony.calls.ivr_runtime import IvrRuntime
from telephony.ivr.flow import SOUND_PATTERN
from telephony.ivr.sounds import EXTENSIONS
from telephony.ivr.tts import RATE, resample
from telephony.ivr.validate import TTS_LANGUAGES, FlowRejected
from telephony.rings.policy import DID_PATTERN
from telephony.store.ivr import IvrRunRecord
from telephony.web.access import current_session, requires
from telephony.web.bodies import BadBody, json_object

IVR_KEY = web.AppKey("ivr", IvrRuntime)
_PAGE_KEY = web.AppKey("admin_ivr_page", Path)

MAX_FLOW_BYTES = 64 * 1024
MAX_SOUND_BYTES = 8 * 1024 * 1024
MAX_SOUND_SECONDS = 120

log = structlog.get_logger(__name__)


def add_ivr_routes(app: web.Application, *, ivr: IvrRuntime, page: Path) -> None:
    app[IVR_KEY] = ivr
    app[_PAGE_KEY] = page
    app.router.add_get("/admin/ivr", ivr_page)
    app.router.add_get("/api/admin/ivr", get_flows)
    app.router.add_put("/api/admin/ivr/flows/{did}", put_flow)
    app.router.add_delete("/api/admin/ivr/flows/{did}", delete_flow)
    app.router.add_put("/api/admin/ivr/sounds/{name:[A-Za-z0-9_/-]+}", put_sound)
    app.router.add_get("/api/ivr/runs", get_runs)
    app.router.add_get("/api/stats/ivr", get_figures)


@requires("admin")
async def ivr_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(request.app[_PAGE_KEY])


@requires("admin")
async def get_flows(request: web.Request) -> web.Response:
    ivr = request.app[IVR_KEY]
    in_force = ivr.flows.all()
    history = await ivr.store.history(limit=50)
    return web.json_response(
        {
            "flows": {
                did: {"version": f.version, "flow": f.flow.model_dump(mode="json")}
                for did, f in sorted(in_force.items())
            },
            "history": [h.as_json() for h in history],
            "sounds": _sound_names(ivr.sounds.host_dir),
            "tts_languages": sorted(TTS_LANGUAGES),
        }
    )


@requires("admin")
async def put_flow(request: web.Request) -> web.Response:
    did = request.match_info["did"]
    if not DID_PATTERN.match(did):
        return _error(400, f"DID {did!r}: 1-64 letters, digits or + * # _ . -")
    try:
        raw = await json_object(request, max_bytes=MAX_FLOW_BYTES, what="the call flow object")
    except BadBody as bad:
        return bad.response
    who = current_session(request).username
    try:
        saved, checked = await request.app[IVR_KEY].save(did, raw, who)
    except FlowRejected as rejected:
        return web.json_response({"errors": rejected.problems}, status=422)
    log.info("policy.changed", kind="ivr", did=did, version=saved.version, who=who)
    return web.json_response(
        {
            "did": did,
            "version": saved.version,
            "flow": saved.flow,
            "warnings": checked.warnings if checked else [],
        }
    )


@requires("admin")
async def delete_flow(request: web.Request) -> web.Response:
    did = request.match_info["did"]
    ivr = request.app[IVR_KEY]
    if ivr.flows.flow_for(did) is None:
        return _error(404, f"DID {did!r} has no call flow")
    who = current_session(request).username
    saved, _ = await ivr.save(did, None, who)
    log.info("policy.changed", kind="ivr", did=did, version=saved.version, who=who, removed=True)
    return web.json_response({"did": did, "version": saved.version, "flow": None})


@requires("admin")
async def put_sound(request: web.Request) -> web.Response:
    """A recorded prompt: WAV, mono, 16 bit; stored as 8 kHz `<name>.wav`."""
    name = request.match_info["name"]
    if not SOUND_PATTERN.match(name) or name.startswith("tts/") or len(name) > 128:
        return _error(400, f"name {name!r}: letters, digits, _ - and /, no '..', not under tts/")
    if (request.content_length or 0) > MAX_SOUND_BYTES:
        return _error(413, f"a prompt is at most {MAX_SOUND_BYTES} bytes")
    body = await request.content.read(MAX_SOUND_BYTES + 1)
    if len(body) > MAX_SOUND_BYTES:
        return _error(413, f"a prompt is at most {MAX_SOUND_BYTES} bytes")
    try:
        with wave.open(io.BytesIO(body), "rb") as w:
            rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError):
        return _error(400, "the body must be a WAV file (RIFF, PCM)")
    if width != 2 or channels != 1:
        return _error(400, f"WAV {channels} channel(s), {width * 8} bit: must be mono, 16 bit PCM")
    if len(frames) / 2 / rate > MAX_SOUND_SECONDS:
        return _error(400, f"a prompt is at most {MAX_SOUND_SECONDS} s")
    converted = resample(array("h", frames), rate)
    target = request.app[IVR_KEY].sounds.host_dir / f"{name}.wav"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    with wave.open(str(partial), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(converted.tobytes())
    partial.chmod(0o644)
    partial.rename(target)
    who = current_session(request).username
    log.info("ivr.sound_uploaded", name=name, who=who, seconds=len(converted) / RATE)
    return web.json_response({"name": name, "seconds": round(len(converted) / RATE, 2)})


@requires("supervisor", "admin")
async def get_runs(request: web.Request) -> web.Response:
    store = request.app[IVR_KEY].store
    call_id = request.query.get("call_id")
    if call_id is not None:
        run = await store.run(call_id)
        if run is None:
            return _error(404, f"call {call_id!r} has no IVR part")
        return web.json_response(_run_json(run))
    return web.json_response({"runs": [_run_json(r) for r in await store.recent_runs()]})


@requires("supervisor", "admin")
async def get_figures(request: web.Request) -> web.Response:
    try:
        until = _day(request.query.get("until")) or datetime.now(UTC) + timedelta(days=1)
        since = _day(request.query.get("since")) or until - timedelta(days=8)
    except ValueError as error:
        return _error(400, str(error))
    return web.json_response(await request.app[IVR_KEY].store.figures(since, until))


def _run_json(run: IvrRunRecord) -> dict[str, object]:
    return {
        "call_id": run.call_id,
        "did": run.did,
        "flow_version": run.flow_version,
        "caller_number": run.caller_number,
        "started_at": run.started_at.isoformat(),
        "ended_at": run.ended_at.isoformat() if run.ended_at else None,
        "seconds": run.seconds,
        "path": run.path,
        "keys": run.keys,
        "tags": run.tags,
        "language": run.language,
        "result": run.result,
        "detail": run.detail,
        "alarms": run.alarms,
    }


def _sound_names(folder: Path) -> list[str]:
    """Recorded prompts an admin can use (the TTS cache left out)."""
    if not folder.is_dir():
        return []
    names = {
        str(path.relative_to(folder).with_suffix(""))
        for path in folder.rglob("*")
        if path.is_file() and path.suffix.lstrip(".") in EXTENSIONS
    }
    return sorted(n for n in names if not n.startswith("tts/"))


def _day(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        day = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r}: must be a date like 2026-11-27") from None
    return day if day.tzinfo else day.replace(tzinfo=UTC)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
