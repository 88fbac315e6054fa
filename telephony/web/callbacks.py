"""Callback tasks over HTTP: agents, supervisors and admins create them; each sees theirs.

`POST /api/callbacks` {"number", "did", "due_at"?, "promise"?, "note"?, "call_id"?}: the
number is normalised to E.164 (a bad one is refused), the DID must be a DID name,
`due_at` an ISO 8601 time (without a zone: UTC; left out: now, or in 15 minutes for a
promise). A promise ("I'll call you back in 15 minutes", made on a call) belongs to
the agent who made it; one not done 2 minutes after it was due is flagged `late`.
A refusal is 400 naming the field. `GET /api/callbacks`: supervisors and admins see
every task, an agent the tasks they created or that are theirs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from telephony.calls.policies import LivePolicies
from telephony.numbers import normalise_number
from telephony.rings.policy import DID_PATTERN
from telephony.store.callbacks import PROMISE_DUE, CallbackStore
from telephony.web.access import current_session, requires
from telephony.web.bodies import BadBody, json_object

CALLBACKS_KEY = web.AppKey("callbacks", CallbackStore)
_POLICIES_KEY = web.AppKey("callback_policies", LivePolicies)
_REGION_KEY = web.AppKey("callback_region", str)
_CLOCK_KEY: web.AppKey[Callable[[], datetime]] = web.AppKey("callback_clock")
_MAX_BODY = 4096
_FIELDS = frozenset({"number", "did", "due_at", "promise", "note", "call_id"})
_MAX_NOTE = 500
_CALL_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def add_callback_routes(
    app: web.Application,
    *,
    store: CallbackStore,
    policies: LivePolicies,
    default_region: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    app[CALLBACKS_KEY] = store
    app[_POLICIES_KEY] = policies
    app[_REGION_KEY] = default_region
    app[_CLOCK_KEY] = clock
    app.router.add_get("/api/callbacks", list_callbacks)
    app.router.add_post("/api/callbacks", create_callback)
    app.router.add_post("/api/callbacks/{callback_id}/cancel", cancel_callback)


@requires("agent", "supervisor", "admin")
async def list_callbacks(request: web.Request) -> web.Response:
    session = current_session(request)
    store = request.app[CALLBACKS_KEY]
    if session.role == "agent":
        tasks = await store.list_tasks(agent_id=session.agent_id, created_by=session.username)
    else:
        tasks = await store.list_tasks()
    now = request.app[_CLOCK_KEY]()
    return web.json_response({"callbacks": [{**t.as_json(), "late": t.late(now)} for t in tasks]})


@requires("agent", "supervisor", "admin")
async def create_callback(request: web.Request) -> web.Response:
    try:
        body = await json_object(
            request,
            max_bytes=_MAX_BODY,
            what='a callback like {"number": "+905551112233", "did": "..."}',
        )
    except BadBody as bad:
        return bad.response
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        return _error(400, f"{unknown[0]}: unknown field; accepted: {', '.join(sorted(_FIELDS))}")
    promise, note, call_id = body.get("promise", False), body.get("note"), body.get("call_id")
    if not isinstance(promise, bool):
        return _error(400, f"promise = {_show(promise)}: must be true or false")
    if note is not None and not (isinstance(note, str) and _text(note, _MAX_NOTE)):
        return _error(400, f"note: must be text of at most {_MAX_NOTE} printable characters")
    if call_id is not None and not (isinstance(call_id, str) and _CALL_ID.fullmatch(call_id)):
        return _error(400, f"call_id = {_show(call_id)}: must be a call id")
    number_raw, did, due_raw = body.get("number"), body.get("did"), body.get("due_at")
    number = (
        normalise_number(number_raw, request.app[_REGION_KEY])
        if isinstance(number_raw, str)
        else None
    )
    if number is None:
        return _error(400, f"number = {_show(number_raw)}: must be a valid phone number")
    if not isinstance(did, str) or not DID_PATTERN.fullmatch(did):
        return _error(400, f"did = {_show(did)}: must be a DID (1..64 of digits, letters, +*#_.-)")
    now = request.app[_CLOCK_KEY]()
    if due_raw is None:
        due_at = now + PROMISE_DUE if promise else now
    else:
        parsed = _when(due_raw)
        if parsed is None:
            return _error(
                400, f"due_at = {_show(due_raw)}: must be an ISO 8601 time like 2026-11-27T15:00Z"
            )
        due_at = parsed
    session = current_session(request)
    policy = request.app[_POLICIES_KEY].current.for_did(did)
    task = await request.app[CALLBACKS_KEY].create(
        number=number,
        did=did,
        due_at=due_at,
        max_attempts=policy.outbound_max_attempts,
        created_by=session.username,
        agent_id=session.agent_id if session.role == "agent" else None,
        promise=promise,
        note=note.strip() if note else None,
        call_id=call_id,
    )
    return web.json_response({**task.as_json(), "late": False}, status=201)


def _text(value: str, limit: int) -> bool:
    return len(value) <= limit and all(
        unicodedata.category(ch)[0] != "C" or ch in "\n\t" for ch in value
    )


@requires("agent", "supervisor", "admin")
async def cancel_callback(request: web.Request) -> web.Response:
    """Agents cancel their own tasks; supervisors and admins any. Only while pending."""
    raw = request.match_info["callback_id"]
    store = request.app[CALLBACKS_KEY]
    task = await store.get(int(raw)) if raw.isdigit() and len(raw) < 12 else None
    session = current_session(request)
    mine = task is not None and (
        task.created_by == session.username
        or (task.agent_id is not None and task.agent_id == session.agent_id)
    )
    if task is None or (session.role == "agent" and not mine):
        return _error(404, f"no callback {raw[:20]!r} of yours")
    if not await store.cancel(task.id):
        return _error(
            409, f"callback {task.id} is {task.status}: only a pending one can be cancelled"
        )
    cancelled = await store.get(task.id)
    assert cancelled is not None
    return web.json_response(cancelled.as_json())


def _when(value: object) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
