"""Agents' states over HTTP: who is available, on a call, or paused and why.

An agent sees and changes only their own state; supervisors and admins everyone's.
"""

from __future__ import annotations

import json
import unicodedata

from aiohttp import web

from telephony.calls.presence import MAX_REASON, AgentPresence, UnknownAgent
from telephony.web.access import current_session, requires
from telephony.web.bodies import BadBody, json_object

PRESENCE_KEY = web.AppKey("presence", AgentPresence)
_MAX_BODY = 4096


def add_agent_routes(app: web.Application, presence: AgentPresence) -> None:
    app[PRESENCE_KEY] = presence
    app.router.add_get("/api/agents", list_agents)
    app.router.add_post("/api/agents/{agent_id}/pause", pause_agent)
    app.router.add_post("/api/agents/{agent_id}/unpause", unpause_agent)


@requires("agent", "supervisor", "admin")
async def list_agents(request: web.Request) -> web.Response:
    session = current_session(request)
    agents = request.app[PRESENCE_KEY].snapshot()
    if session.role == "agent":
        agents = [a for a in agents if a["id"] == session.agent_id]
    return web.json_response({"agents": agents})


@requires("agent", "supervisor", "admin")
async def pause_agent(request: web.Request) -> web.Response:
    agent_id = _allowed(request)
    try:
        body = await json_object(
            request, max_bytes=_MAX_BODY, what='a reason like {"reason": "break"}', empty_ok=True
        )
    except BadBody as bad:
        return bad.response
    reason = body.get("reason")
    if not isinstance(reason, str) or not _printable(reason):
        return _error(400, f"reason: must be text of 1..{MAX_REASON} printable characters")
    who = current_session(request).username
    try:
        slot = await request.app[PRESENCE_KEY].pause(agent_id, reason.strip(), who)
    except UnknownAgent:
        return _error(404, f"no agent {agent_id!r}")
    return web.json_response({"id": slot.agent_id, "status": str(slot.status)})


@requires("agent", "supervisor", "admin")
async def unpause_agent(request: web.Request) -> web.Response:
    agent_id = _allowed(request)
    who = current_session(request).username
    try:
        slot = await request.app[PRESENCE_KEY].unpause(agent_id, who)
    except UnknownAgent:
        return _error(404, f"no agent {agent_id!r}")
    return web.json_response({"id": slot.agent_id, "status": str(slot.status)})


def _allowed(request: web.Request) -> str:
    agent_id = request.match_info["agent_id"]
    session = current_session(request)
    if session.role == "agent" and session.agent_id != agent_id:
        raise web.HTTPForbidden(
            text=json.dumps({"error": "agents change only their own state"}),
            content_type="application/json",
        )
    return agent_id


def _printable(text: str) -> bool:
    text = text.strip()
    return 0 < len(text) <= MAX_REASON and all(unicodedata.category(ch)[0] != "C" for ch in text)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
