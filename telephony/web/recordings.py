"""Recordings over HTTP: status, playback with range requests, pause, legal hold, alarms.

Who may hear what: an agent only the calls they took, supervisors and admins all (the
product has no teams yet: a supervisor's team is everyone). A recording is reached by
its unguessable token and a session together, never by a file name; the file is found
from the database row and must lie under the recordings root, so nothing from the URL
ever touches the file system. Every playback, download, pause and hold is audited.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import hdrs, web

from telephony.alarms import Alarms
from telephony.ari import AriError, NotFound
from telephony.recording.files import inside
from telephony.store.holds import HoldStore
from telephony.store.recordings import RecordingRecord, RecordingStore
from telephony.web.access import current_session, requires
from telephony.web.bodies import BadBody, json_object

_MAX_BODY = 1024


@dataclass
class RecordingsAccess:
    store: RecordingStore
    root: Path
    alarms: Alarms
    pause_allowed: bool
    # Mute or unmute a live recording (the keeper); None while ARI is not set up.
    mute: Callable[[str, bool], Awaitable[None]] | None
    # The agent who took a call (None: nobody, or not an inbound call).
    agent_of: Callable[[str], Awaitable[str | None]]
    # Whether the call is live and talking now (only then can a pause begin).
    live: Callable[[str], bool]
    clock: Callable[[], datetime]
    holds: HoldStore | None = None  # the hold spans, marked on the recording


RECORDINGS_KEY = web.AppKey("recordings", RecordingsAccess)


def add_recording_routes(app: web.Application, access: RecordingsAccess) -> None:
    app[RECORDINGS_KEY] = access
    app.router.add_get("/api/calls/{call_id}/recording", recording_status)
    app.router.add_get("/api/recordings/{token}/audio", recording_audio)
    app.router.add_post("/api/calls/{call_id}/recording/pause", pause_recording)
    app.router.add_post("/api/calls/{call_id}/recording/resume", resume_recording)
    app.router.add_post("/api/calls/{call_id}/recording/legal-hold", legal_hold)
    app.router.add_get("/api/alarms", list_alarms)


async def _may_hear(request: web.Request, call_id: str) -> bool:
    session = current_session(request)
    if session.role in ("supervisor", "admin"):
        return True
    agent = await request.app[RECORDINGS_KEY].agent_of(call_id)
    return agent is not None and agent == session.agent_id


async def _allowed_record(request: web.Request, call_id: str) -> RecordingRecord:
    """The recording, or 404 for one that is not there *or* not yours (no probing)."""
    if not await _may_hear(request, call_id):
        raise _error(404, "no such recording")
    record = await request.app[RECORDINGS_KEY].store.get(call_id)
    if record is None:
        raise _error(404, "no such recording")
    return record


@requires("agent", "supervisor", "admin")
async def recording_status(request: web.Request) -> web.Response:
    record = await _allowed_record(request, request.match_info["call_id"])
    body: dict[str, Any] = record.as_json()
    body["hold_spans"] = await _hold_spans(request.app[RECORDINGS_KEY], record)
    if current_session(request).role in ("supervisor", "admin"):
        body["audit"] = await request.app[RECORDINGS_KEY].store.audit_log(record.call_id)
    return web.json_response(body)


@requires("agent", "supervisor", "admin")
async def recording_audio(request: web.Request) -> web.StreamResponse:
    access = request.app[RECORDINGS_KEY]
    record = await access.store.by_token(request.match_info["token"])
    if record is None or not await _may_hear(request, record.call_id):
        raise _error(404, "no such recording")
    target = inside(access.root, record.path) if record.path else None
    if target is None or record.status == "purged" or not target.is_file():
        raise _error(404, "the recording's file is not available")
    download = request.query.get("download") == "1"
    if _from_the_start(request):  # one audit line per playback, not per range request
        who = current_session(request).username
        await access.store.audit(record.call_id, who, "download" if download else "play")
    response = web.FileResponse(target, headers={hdrs.CACHE_CONTROL: "private, no-store"})
    response.content_type = "audio/ogg" if record.format == "opus" else "audio/wav"
    if download:
        response.headers[hdrs.CONTENT_DISPOSITION] = (
            f'attachment; filename="{record.call_id}.{record.format}"'
        )
    return response


async def _hold_spans(access: RecordingsAccess, record: RecordingRecord) -> list[dict[str, Any]]:
    """Each hold as seconds into the recording (where the music is)."""
    if access.holds is None:
        return []
    spans = []
    for hold in await access.holds.of_call(record.call_id):
        start = datetime.fromisoformat(hold["started_at"]) - record.started_at
        end = (
            datetime.fromisoformat(hold["ended_at"]) - record.started_at
            if hold["ended_at"]
            else None
        )
        spans.append(
            {
                "from_s": round(start.total_seconds(), 2),
                "to_s": round(end.total_seconds(), 2) if end is not None else None,
                "source": hold["source"],
                "outcome": hold["outcome"],
            }
        )
    return spans


def _from_the_start(request: web.Request) -> bool:
    ranges = request.headers.get(hdrs.RANGE, "").replace(" ", "")
    return ranges in ("", "bytes=0-")


@requires("agent", "supervisor", "admin")
async def pause_recording(request: web.Request) -> web.Response:
    return await _set_paused(request, True)


@requires("agent", "supervisor", "admin")
async def resume_recording(request: web.Request) -> web.Response:
    return await _set_paused(request, False)


async def _set_paused(request: web.Request, paused: bool) -> web.Response:
    """Silence in the file while a caller reads out card details; audited."""
    access = request.app[RECORDINGS_KEY]
    call_id = request.match_info["call_id"]
    record = await _allowed_record(request, call_id)
    if not access.pause_allowed:
        raise _error(403, "pausing recordings is switched off by policy")
    if access.mute is None or record.status != "recording" or not access.live(call_id):
        raise _error(409, "the call is not being recorded now")
    pauses = list(record.pauses)
    open_pause = bool(pauses) and pauses[-1].get("until") is None
    if paused == open_pause:
        return web.json_response({"paused": paused, "pauses": pauses})  # already so
    try:
        await access.mute(call_id, paused)
    except NotFound:
        raise _error(409, "the call is not being recorded now") from None
    except AriError as error:
        raise _error(502, f"Asterisk refused: {error}") from None
    who = current_session(request).username
    now = access.clock()
    if paused:
        pauses.append({"by": who, "at": now.isoformat(), "until": None})
    else:
        pauses[-1] = {**pauses[-1], "until": now.isoformat(), "resumed_by": who}
    await access.store.update(call_id, pauses=pauses)
    await access.store.audit(call_id, who, "pause" if paused else "resume")
    return web.json_response({"paused": paused, "pauses": pauses})


@requires("admin")
async def legal_hold(request: web.Request) -> web.Response:
    access = request.app[RECORDINGS_KEY]
    call_id = request.match_info["call_id"]
    record = await _allowed_record(request, call_id)
    try:
        body = await json_object(request, max_bytes=_MAX_BODY, what='{"legal_hold": true}')
    except BadBody as bad:
        return bad.response
    hold = body.get("legal_hold")
    if not isinstance(hold, bool):
        raise _error(400, "legal_hold: must be true or false")
    if record.status == "purged":
        raise _error(409, "the recording was already purged")
    await access.store.update(call_id, legal_hold=hold)
    who = current_session(request).username
    await access.store.audit(call_id, who, "legal_hold", on=hold)
    return web.json_response({"call_id": call_id, "legal_hold": hold})


@requires("supervisor", "admin")
async def list_alarms(request: web.Request) -> web.Response:
    alarms = request.app[RECORDINGS_KEY].alarms
    return web.json_response(
        {"alarms": [a.as_json() for a in alarms.latest()], "counts": dict(alarms.counts)}
    )


_ERRORS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    502: web.HTTPBadGateway,
}


def _error(status: int, message: str) -> web.HTTPException:
    return _ERRORS[status](text=json.dumps({"error": message}), content_type="application/json")


async def add_recording_status(request: web.Request, calls: list[dict[str, Any]]) -> None:
    """Each call's recording (status, length, audio URL if this user may hear it)."""
    if RECORDINGS_KEY not in request.app:
        return
    session = current_session(request)
    found = await request.app[RECORDINGS_KEY].store.for_calls([c["id"] for c in calls])
    for call in calls:
        record = found.get(call["id"])
        if record is None:
            call["recording"] = None
            continue
        mine = session.role in ("supervisor", "admin") or (
            session.agent_id is not None and call.get("agent_id") == session.agent_id
        )
        shown = record.as_json()
        call["recording"] = {
            "status": record.status,
            "detail": record.detail,
            "duration_s": record.duration_s,
            "audio_url": shown["audio_url"] if mine else None,
        }
