"""Hold and retrieve from the agent's browser, and the hold figures.

The button and the desk phone's hold lead to the same state (see telephony.policy.hold);
an agent may hold only the call they are on; supervisors and admins any call.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from telephony.store.holds import HoldStore
from telephony.web.access import current_session, requires


@dataclass
class HoldControls:
    # (call_id, on, by) -> False when the call is not talking in this service.
    request: Callable[[str, bool, str], bool]
    # The agent on a live call, or None.
    agent_on: Callable[[str], str | None]
    holds: HoldStore
    # The agent who took a finished call (for the per-call figures).
    agent_of: Callable[[str], Awaitable[str | None]]


HOLD_KEY = web.AppKey("hold", HoldControls)


def add_hold_routes(app: web.Application, controls: HoldControls) -> None:
    app[HOLD_KEY] = controls
    app.router.add_post("/api/calls/{call_id}/hold", hold_call)
    app.router.add_post("/api/calls/{call_id}/retrieve", retrieve_call)
    app.router.add_get("/api/calls/{call_id}/holds", call_holds)
    app.router.add_get("/api/stats/holds", hold_stats)


@requires("agent", "supervisor", "admin")
async def hold_call(request: web.Request) -> web.Response:
    return _hold(request, True)


@requires("agent", "supervisor", "admin")
async def retrieve_call(request: web.Request) -> web.Response:
    return _hold(request, False)


def _hold(request: web.Request, on: bool) -> web.Response:
    controls = request.app[HOLD_KEY]
    call_id = request.match_info["call_id"]
    session = current_session(request)
    if session.role == "agent" and controls.agent_on(call_id) != session.agent_id:
        return _error(404, "no such call of yours in progress")
    if not controls.request(call_id, on, session.username):
        return _error(409, "the call is not in progress with an agent")
    return web.json_response({"call_id": call_id, "hold": on}, status=202)


@requires("agent", "supervisor", "admin")
async def call_holds(request: web.Request) -> web.Response:
    controls = request.app[HOLD_KEY]
    call_id = request.match_info["call_id"]
    session = current_session(request)
    if session.role == "agent" and await controls.agent_of(call_id) != session.agent_id:
        return _error(404, "no such call of yours")
    holds = await controls.holds.of_call(call_id)
    lengths = [
        (datetime.fromisoformat(h["ended_at"]) - datetime.fromisoformat(h["started_at"]))
        for h in holds
        if h["ended_at"]
    ]
    return web.json_response(
        {
            "holds": holds,
            "count": len(holds),
            "longest_s": max((x.total_seconds() for x in lengths), default=0.0),
            "over_limit": sum(h["over_limit"] for h in holds),
        }
    )


@requires("supervisor", "admin")
async def hold_stats(request: web.Request) -> web.Response:
    raw = request.query.get("day", "")
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC) if raw else _today()
    except ValueError:
        return _error(400, f"day = {raw[:20]!r}: must be a date like 2026-11-27")
    figures = await request.app[HOLD_KEY].holds.per_agent(day)
    return web.json_response({"day": day.date().isoformat(), "agents": figures})


def _today() -> datetime:
    now = datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, dumps=json.dumps)
