"""The agent's workspace over HTTP: the page, the call's notes (saved as typed), the
agent's language, and "ready" to end a wrap-up.

Who may read or write a call's notes: supervisors and admins any call's; an agent only
a call that is theirs (they talked it) or is being offered to them now. An agent cannot
read another agent's call history through here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from telephony.auth.accounts import AuthSession
from telephony.auth.roles import ANY_ROLE
from telephony.calls.presence import AgentPresence, UnknownAgent
from telephony.store.models import NOTE_OUTCOMES
from telephony.store.notes import LANGS, Notes
from telephony.web.access import current_session, requires
from telephony.web.bodies import BadBody, json_object
from telephony.web.ws import PUSH_KEY

# Why a notes PUT may not set the call's outcome (its script wants a next step first):
# (request, call_id, the PUT's checked fields, the stored notes) -> problems.
OutcomeCheck = Callable[
    [web.Request, str, Mapping[str, Any], Mapping[str, Any]], Awaitable[list[str]]
]
NOTES_KEY = web.AppKey("notes", Notes)
OUTCOME_CHECK_KEY: web.AppKey[OutcomeCheck] = web.AppKey("outcome_check")
WS_PRESENCE_KEY = web.AppKey("workspace_presence", AgentPresence)
WORKSPACE_PAGE_KEY = web.AppKey("workspace_page", Path)

MAX_BODY = 32 * 1024
MAX_TEXT = 4000
MAX_SHORT = 200
MAX_NAME = 80
# The call's captured answers: the fixed questions and every field of its script (a
# script may have up to 40 stages); the body's 32 KB bounds the total anyway.
MAX_ANSWERS = 100


def add_workspace_routes(
    app: web.Application, *, notes: Notes, presence: AgentPresence, page: Path
) -> None:
    app[NOTES_KEY] = notes
    app[WS_PRESENCE_KEY] = presence
    app[WORKSPACE_PAGE_KEY] = page
    app.router.add_get("/workspace", workspace_page)
    app.router.add_get("/api/calls/{call_id}/notes", get_notes)
    app.router.add_put("/api/calls/{call_id}/notes", put_notes)
    app.router.add_get("/api/me/prefs", get_prefs)
    app.router.add_put("/api/me/prefs", put_prefs)
    app.router.add_post("/api/agents/{agent_id}/ready", ready)


@requires(*ANY_ROLE)
async def workspace_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(request.app[WORKSPACE_PAGE_KEY])


async def allowed_call(request: web.Request) -> tuple[str, str | None] | web.Response:
    """(call_id, caller_number) when this user may see the call, else the refusal."""
    call_id = request.match_info["call_id"]
    facts = await request.app[NOTES_KEY].call_facts(call_id)
    if facts is None:
        return _error(404, f"no call {call_id[:80]!r}")
    session = current_session(request)
    if session.role == "agent":
        mine = session.agent_id is not None and (
            facts.agent_id == session.agent_id
            or request.app[PUSH_KEY].pops.may_see(session.agent_id, call_id)
        )
        if not mine:
            return _error(403, "agents see only their own calls and the calls offered to them")
    return call_id, facts.caller_number


@requires(*ANY_ROLE)
async def get_notes(request: web.Request) -> web.Response:
    allowed = await allowed_call(request)
    if isinstance(allowed, web.Response):
        return allowed
    note = await request.app[NOTES_KEY].get(allowed[0])
    return web.json_response(note.as_json())


@requires(*ANY_ROLE)
async def put_notes(request: web.Request) -> web.Response:
    allowed = await allowed_call(request)
    if isinstance(allowed, web.Response):
        return allowed
    call_id, number = allowed
    try:
        body = await json_object(
            request, max_bytes=MAX_BODY, what='call notes like {"notes": "...", "outcome": "sale"}'
        )
    except BadBody as bad:
        return bad.response
    fields, problems = validate_notes(body)
    if problems:
        return web.json_response({"error": "invalid call notes", "problems": problems}, status=422)
    check = request.app.get(OUTCOME_CHECK_KEY)
    if check is not None and fields.get("outcome"):
        saved = await request.app[NOTES_KEY].get(call_id)
        stored = {"next_step": saved.next_step, "next_step_at": saved.next_step_at}
        refused = await check(request, call_id, fields, stored)
        if refused:
            return web.json_response(
                {"error": "the outcome needs a next step first", "problems": refused}, status=422
            )
    session = current_session(request)
    note = await request.app[NOTES_KEY].save(
        call_id,
        fields,
        agent_id=session.agent_id,
        by=session.username,
        caller_number=number,
    )
    # The outcome is what wrap-up waits for: set, the agent is available again.
    if fields.get("outcome") and session.agent_id:
        await _end_wrapup(request, session)
    return web.json_response(note.as_json())


async def _end_wrapup(request: web.Request, session: AuthSession) -> str | None:
    assert session.agent_id is not None
    try:
        slot = await request.app[WS_PRESENCE_KEY].end_wrapup(session.agent_id, session.username)
    except UnknownAgent:
        return None
    request.app[PUSH_KEY].pops.forget_ended(session.agent_id)
    return str(slot.status)


@requires("agent")
async def ready(request: web.Request) -> web.Response:
    session = current_session(request)
    agent_id = request.match_info["agent_id"]
    if session.agent_id != agent_id:
        return _error(403, "agents end only their own wrap-up")
    status = await _end_wrapup(request, session)
    if status is None:
        return _error(404, f"no agent {agent_id[:40]!r} in the call pool")
    return web.json_response({"id": agent_id, "status": status})


@requires(*ANY_ROLE)
async def get_prefs(request: web.Request) -> web.Response:
    session = current_session(request)
    lang = await request.app[NOTES_KEY].lang(session.user_id)
    return web.json_response({"lang": lang or "tr"})


@requires(*ANY_ROLE)
async def put_prefs(request: web.Request) -> web.Response:
    try:
        body = await json_object(request, max_bytes=1024, what='{"lang": "tr"} or {"lang": "en"}')
    except BadBody as bad:
        return bad.response
    lang = body.get("lang")
    if lang not in LANGS:
        return _error(422, f"lang = {str(lang)[:20]!r}: must be one of {list(LANGS)}")
    await request.app[NOTES_KEY].set_lang(current_session(request).user_id, str(lang))
    return web.json_response({"lang": lang})


def validate_notes(body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The fields of a notes PUT, checked; problems name the field, value and limit."""
    fields: dict[str, Any] = {}
    problems: list[str] = []
    known = {"name", "needs", "answers", "notes", "outcome", "lost_reason"}
    known |= {"next_step", "next_step_at"}
    for key in sorted(set(body) - known):
        problems.append(f"{key[:40]!r}: unknown field; known: {sorted(known)}")
    for key, limit in (("name", MAX_NAME), ("needs", MAX_TEXT), ("notes", MAX_TEXT)):
        if key in body:
            _text(body[key], key, limit, fields, problems)
    if "next_step" in body:
        _text(body["next_step"], "next_step", MAX_SHORT, fields, problems)
    if "lost_reason" in body:
        if body["lost_reason"] is None:
            fields["lost_reason"] = None
        else:
            _text(body["lost_reason"], "lost_reason", MAX_SHORT, fields, problems)
    if "outcome" in body:
        outcome = body["outcome"]
        if outcome is None or outcome in NOTE_OUTCOMES:
            fields["outcome"] = outcome
        else:
            problems.append(
                f"outcome = {str(outcome)[:40]!r}: must be null or one of {list(NOTE_OUTCOMES)}"
            )
    if "next_step_at" in body:
        fields_at = _when(body["next_step_at"], problems)
        if fields_at is not False:
            fields["next_step_at"] = fields_at
    if "answers" in body:
        answers = body["answers"]
        good = (
            isinstance(answers, dict)
            and len(answers) <= MAX_ANSWERS
            and all(
                isinstance(k, str)
                and isinstance(v, str)
                and 0 < len(k) <= MAX_SHORT
                and len(v) <= MAX_TEXT
                for k, v in answers.items()
            )
        )
        if good:
            fields["answers"] = {k: clean_text(v) for k, v in answers.items()}
        else:
            problems.append(
                f"answers: an object of at most {MAX_ANSWERS} question → answer texts "
                f"(questions up to {MAX_SHORT}, answers up to {MAX_TEXT} characters)"
            )
    return fields, problems


def _text(value: object, key: str, limit: int, out: dict[str, Any], problems: list[str]) -> None:
    if not isinstance(value, str) or len(value) > limit:
        shown = f"{len(value)} characters" if isinstance(value, str) else type(value).__name__
        problems.append(f"{key} = {shown}: must be text of at most {limit} characters")
        return
    out[key] = clean_text(value)


def clean_text(value: str) -> str:
    """Typed text minus control and bidi-format characters (newlines and tabs stay)."""
    return "".join(
        ch for ch in value if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    )


def _when(value: object, problems: list[str]) -> datetime | bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.utcoffset() is not None:
            return parsed
    problems.append(
        f"next_step_at = {str(value)[:40]!r}: must be an ISO 8601 date-time with a time zone "
        "(e.g. 2026-11-28T10:00:00+03:00) or null"
    )
    return False


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
