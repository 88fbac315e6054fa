"""A call's script on the agent's page: what it is, and the agent's marks on it.

- `GET /api/calls/{id}/script`: the call's `CallScript` (null: none matched), the
  agent's marks (`progress`) and the values the script's words name that the page cannot
  know by itself (`agent.first_name`, `company.name`, `company.activity`).
- `PUT /api/calls/{id}/script`: the agent's marks, checked against the call's script and
  merged into the stored ones (keys given replace): `stage` (a stage id of the script),
  `questions` (keys of the script's clarifying questions ticked as asked), `price_asks`
  (0..50), `insists` (the caller insists on the price), `no_next_step_reason` (at most
  200 characters; null clears it).

Who may: the same as the call's notes (telephony.web.workspace): supervisors and admins
any call; an agent only a call that is theirs or is being offered to them now.

The call's outcome needs a concrete next step when its script says so: see
`outcome_refusal`, used by the notes PUT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from telephony.auth.roles import ANY_ROLE
from telephony.scripts.guidance import outcome_problems
from telephony.scripts.model import CallScript, Script
from telephony.store.repo import CallStore
from telephony.store.scripts import ScriptRefused, ScriptStore
from telephony.web.access import current_session, requires
from telephony.web.bodies import BadBody, json_object
from telephony.web.workspace import NOTES_KEY, OUTCOME_CHECK_KEY, allowed_call, clean_text
from telephony.web.ws import PUSH_KEY

MAX_BODY = 8 * 1024
MAX_PRICE_ASKS = 50
MAX_REASON = 200
# The notes' outcomes as the playbook's guidance names them.
OUTCOME_NAMES = {
    "offer_made": "offer",
    "pending_purchase": "pending",
    "sale": "sale",
    "lost": "lost",
}
PROGRESS_KEYS = ("stage", "questions", "price_asks", "insists", "no_next_step_reason")


@dataclass
class Company:
    name: str = ""
    activity: str = ""  # the kind of business: "furniture workshop"


@dataclass
class CallScriptsWeb:
    """What the routes read: the script store and, per DID, the company behind it (the
    `company.*` values of the script's words; none known: the page shows "…")."""

    store: ScriptStore
    calls: CallStore
    companies: dict[str, Company] = field(default_factory=dict)

    def company(self, did: str) -> Company:
        return self.companies.get(did.lstrip("+")) or self.companies.get(did) or Company()


CALL_SCRIPTS_KEY = web.AppKey("call_scripts", CallScriptsWeb)


def add_call_script_routes(app: web.Application, scripts: CallScriptsWeb) -> None:
    app[CALL_SCRIPTS_KEY] = scripts
    app[OUTCOME_CHECK_KEY] = outcome_refusal
    app.router.add_get("/api/calls/{call_id}/script", get_call_script)
    app.router.add_put("/api/calls/{call_id}/script", put_call_script)


async def script_of(request: web.Request, call_id: str) -> CallScript | None:
    """The call's script: the stored one, else the one its pop carries (the store's
    write is on its way), which is then stored now (first wins)."""
    store = request.app[CALL_SCRIPTS_KEY].store
    stored = await store.for_call(call_id)
    if stored is not None:
        return stored
    popped = request.app[PUSH_KEY].pops.script_of(call_id)
    return await store.assign(call_id, popped) if popped is not None else None


@requires(*ANY_ROLE)
async def get_call_script(request: web.Request) -> web.Response:
    allowed = await allowed_call(request)
    if isinstance(allowed, web.Response):
        return allowed
    call_id = allowed[0]
    script = await script_of(request, call_id)
    progress = await request.app[CALL_SCRIPTS_KEY].store.progress(call_id) if script else None
    facts = await request.app[NOTES_KEY].call_facts(call_id)
    values = await _values(request, facts.agent_id if facts else None, call_id)
    return web.json_response(
        {
            "call_id": call_id,
            "script": script.model_dump(mode="json") if script else None,
            "progress": progress or {},
            "values": values,
        }
    )


@requires(*ANY_ROLE)
async def put_call_script(request: web.Request) -> web.Response:
    allowed = await allowed_call(request)
    if isinstance(allowed, web.Response):
        return allowed
    call_id = allowed[0]
    try:
        body = await json_object(
            request,
            max_bytes=MAX_BODY,
            what='the script marks like {"stage": "needs", "questions": ["q1"], "price_asks": 1}',
        )
    except BadBody as bad:
        return bad.response
    script = await script_of(request, call_id)
    if script is None:
        return _error(404, f"call {call_id[:80]!r} has no script: no marks to keep")
    marks, problems = validate_progress(body, script.body)
    if problems:
        return web.json_response(
            {"error": "invalid script marks", "problems": problems}, status=422
        )
    try:
        saved = await request.app[CALL_SCRIPTS_KEY].store.save_progress(call_id, marks)
    except ScriptRefused as refused:
        return web.json_response(
            {"error": "invalid script marks", "problems": refused.problems}, status=refused.status
        )
    return web.json_response({"call_id": call_id, "progress": saved or {}})


def validate_progress(body: Mapping[str, Any], script: Script) -> tuple[dict[str, Any], list[str]]:
    """The marks of a PUT, checked against the call's script; problems name the field,
    the value and what would be accepted."""
    marks: dict[str, Any] = {}
    problems: list[str] = []
    for key in sorted(set(body) - set(PROGRESS_KEYS)):
        problems.append(f"{str(key)[:40]!r}: unknown field; known: {list(PROGRESS_KEYS)}")
    stages = [s.id for s in script.stages]
    if "stage" in body:
        stage = body["stage"]
        if isinstance(stage, str) and stage in stages:
            marks["stage"] = stage
        else:
            problems.append(f"stage = {_shown(stage)}: must be a stage of this script: {stages}")
    if "questions" in body:
        known = [q.key for s in script.stages for q in s.questions]
        asked = body["questions"]
        if (
            isinstance(asked, list)
            and all(isinstance(q, str) and q in known for q in asked)
            and len(set(asked)) == len(asked)
        ):
            marks["questions"] = list(asked)
        else:
            problems.append(
                f"questions = {_shown(asked)}: must be a list of distinct question keys "
                f"of this script: {known}"
            )
    if "price_asks" in body:
        asks = body["price_asks"]
        if isinstance(asks, int) and not isinstance(asks, bool) and 0 <= asks <= MAX_PRICE_ASKS:
            marks["price_asks"] = asks
        else:
            problems.append(
                f"price_asks = {_shown(asks)}: must be a whole number 0..{MAX_PRICE_ASKS}"
            )
    if "insists" in body:
        insists = body["insists"]
        if isinstance(insists, bool):
            marks["insists"] = insists
        else:
            problems.append(f"insists = {_shown(insists)}: must be true or false")
    if "no_next_step_reason" in body:
        reason = body["no_next_step_reason"]
        if reason is None or reason == "":
            marks["no_next_step_reason"] = None
        elif isinstance(reason, str) and len(reason) <= MAX_REASON:
            marks["no_next_step_reason"] = clean_text(reason).strip() or None
        else:
            shown = f"{len(reason)} characters" if isinstance(reason, str) else _shown(reason)
            problems.append(
                f"no_next_step_reason = {shown}: must be text of at most {MAX_REASON} "
                "characters, or null"
            )
    return marks, problems


async def outcome_refusal(
    request: web.Request, call_id: str, fields: Mapping[str, Any], saved: Mapping[str, Any]
) -> list[str]:
    """Why this notes PUT may not set the call's outcome (empty: it may). `fields` are
    the PUT's checked fields, `saved` the call's notes as stored: the next step may come
    in this PUT or be there already."""
    if not fields.get("outcome"):
        return []
    script = await script_of(request, call_id)
    if script is None:
        return []
    progress = await request.app[CALL_SCRIPTS_KEY].store.progress(call_id) or {}
    next_step = fields.get("next_step", saved.get("next_step")) or ""
    next_step_at: datetime | None = (
        fields["next_step_at"] if "next_step_at" in fields else saved.get("next_step_at")
    )
    reason = progress.get("no_next_step_reason")
    outcome = str(fields["outcome"])
    problems = outcome_problems(
        script.body,
        OUTCOME_NAMES.get(outcome, outcome),
        next_step,
        next_step_at,
        reason if isinstance(reason, str) else None,
    )
    return [f"outcome = {outcome!r} refused: {p}" for p in problems]


async def _values(request: web.Request, agent_id: str | None, call_id: str) -> dict[str, str]:
    scripts = request.app[CALL_SCRIPTS_KEY]
    agent_id = agent_id or current_session(request).agent_id
    first_name = ""
    if agent_id:
        agents = await scripts.calls.list_agents()
        name = next((a.name for a in agents if a.id == agent_id), "")
        first_name = name.split()[0] if name.split() else ""
    call = await scripts.calls.get_call(call_id)
    company = scripts.company(call.did if call else "")
    return {
        "agent.first_name": first_name,
        "company.name": company.name,
        "company.activity": company.activity,
    }


def _shown(value: object) -> str:
    if isinstance(value, dict | list):
        return f"{type(value).__name__} of {len(value)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
