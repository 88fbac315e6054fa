"""Admins set the ring policies; supervisors read the service level.

A policy change is validated (every problem named by field), written to the audit
trail (who, when, old, new), then put in force: new calls use it at once, calls in
progress keep the plan they started with, and a restart keeps the newest change.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from telephony.calls.policies import LivePolicies, PolicyRejected
from telephony.rings.cadences import known_cadence_names
from telephony.store.policy_audit import AuditEntry, PolicyAudit
from telephony.store.service_level import GroupBy, service_level
from telephony.web.access import current_session, requires
from telephony.web.bodies import BadBody, json_object

POLICIES_KEY = web.AppKey("ring_policies", LivePolicies)
AUDIT_KEY = web.AppKey("policy_audit", PolicyAudit)
ENGINE_KEY: web.AppKey[Any] = web.AppKey("engine")
_PAGE_KEY = web.AppKey("admin_rings_page", Path)

MAX_POLICY_BYTES = 64 * 1024
RINGS = "rings"
_GROUPS: tuple[GroupBy, ...] = ("day", "did", "agent")

log = structlog.get_logger(__name__)


def add_admin_routes(
    app: web.Application, *, policies: LivePolicies, audit: PolicyAudit, engine: Any, page: Path
) -> None:
    app[POLICIES_KEY] = policies
    app[AUDIT_KEY] = audit
    app[ENGINE_KEY] = engine
    app[_PAGE_KEY] = page
    app.router.add_get("/admin/rings", rings_page)
    app.router.add_get("/api/admin/rings", get_rings)
    app.router.add_put("/api/admin/rings", put_rings)
    app.router.add_get("/api/stats/service-level", get_service_level)


@requires("admin")
async def rings_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(request.app[_PAGE_KEY])


@requires("admin")
async def get_rings(request: web.Request) -> web.Response:
    policies = request.app[POLICIES_KEY].current
    history = await request.app[AUDIT_KEY].history(RINGS)
    return web.json_response(
        {
            "policies": policies.model_dump(mode="json"),
            "cadences": known_cadence_names(policies.custom_cadences),
            "history": [
                {"who": h.who, "at": h.at.isoformat(), "old": h.old, "new": h.new} for h in history
            ],
        }
    )


@requires("admin")
async def put_rings(request: web.Request) -> web.Response:
    try:
        proposed = await json_object(
            request, max_bytes=MAX_POLICY_BYTES, what="the ring policies object"
        )
    except BadBody as bad:
        return bad.response
    live = request.app[POLICIES_KEY]
    who = current_session(request).username
    try:
        new, change = live.propose(proposed, who)
    except PolicyRejected as rejected:
        return web.json_response({"errors": rejected.problems}, status=422)
    await request.app[AUDIT_KEY].record(
        AuditEntry(RINGS, change.who, change.at, change.old, change.new)
    )
    live.put_in_force(new)
    log.info("policy.changed", kind=RINGS, who=who)
    return web.json_response({"policies": change.new})


@requires("supervisor", "admin")
async def get_service_level(request: web.Request) -> web.Response:
    query = request.query
    group_by = query.get("group_by", "day")
    if group_by not in _GROUPS:
        return _error(400, f"group_by = {group_by!r}: must be one of {', '.join(_GROUPS)}")
    try:
        until = _day(query.get("until")) or datetime.now(UTC) + timedelta(days=1)
        since = _day(query.get("since")) or until - timedelta(days=8)
    except ValueError as error:
        return _error(400, str(error))
    rows = await service_level(request.app[ENGINE_KEY], since=since, until=until, group_by=group_by)
    return web.json_response(
        {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "group_by": group_by,
            "rows": [row.as_json() for row in rows],
        }
    )


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
