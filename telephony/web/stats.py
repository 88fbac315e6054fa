"""The statistics over HTTP: figures, costs per source, ad spend, QA grading, the page.

Supervisors and admins read every figure; an agent reads only their own (the agent
filter is forced to them, any other agent is refused), and their own grades. Admins
enter ad spend and edit the grading form; supervisors and admins grade calls. Every
bad parameter is a 400 naming the parameter, the value and what is accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.auth.roles import ANY_ROLE
from telephony.stats.figures import FigureQueries, Figures
from telephony.stats.money import MAX_MONTHS, source_costs
from telephony.stats.period import BadRequest, StatsQuery, parse_query
from telephony.stats.rollup import RollupFigures
from telephony.stats.sql import Unit
from telephony.store.grading import GradeRejected, GradingStore, UnknownCall
from telephony.store.models import Agent, Call
from telephony.store.policy_audit import PolicyAudit
from telephony.store.spend import AUDIT_KIND, SpendRejected, SpendStore, check_month
from telephony.web.access import current_session, requires
from telephony.web.bodies import BadBody, json_object

_MAX_BODY = 16 * 1024
REFRESH_EVERY_S = 600.0
_UNITS: tuple[Unit, ...] = ("day", "week", "month")


@dataclass
class StatsAccess:
    engine: AsyncEngine
    audit: PolicyAudit
    page: Path
    now: Callable[[], datetime]

    def __post_init__(self) -> None:
        self.figures = FigureQueries(self.engine)
        self.rollup = RollupFigures(self.engine, self.figures, now=self.now)
        self.spend = SpendStore(self.engine, self.audit, now=self.now)
        self.grading = GradingStore(self.engine, now=self.now)


STATS_KEY = web.AppKey("stats", StatsAccess)


def add_stats_routes(
    app: web.Application,
    *,
    engine: AsyncEngine,
    audit: PolicyAudit,
    page: Path,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    refresh_every_s: float | None = REFRESH_EVERY_S,
) -> None:
    """`refresh_every_s`: how often the pre-aggregated recent days are recomputed (None:
    never, only on first use)."""
    access = StatsAccess(engine, audit, page, now)
    app[STATS_KEY] = access
    if refresh_every_s is not None:
        every = refresh_every_s

        async def keep_fresh(_: web.Application) -> AsyncIterator[None]:
            task = asyncio.create_task(access.rollup.keep_fresh(every))
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app.cleanup_ctx.append(keep_fresh)
    app.router.add_get("/stats", stats_page)
    app.router.add_get("/api/stats/figures", get_figures)
    app.router.add_get("/api/stats/agents", get_agents)
    app.router.add_post("/api/admin/stats/refresh", post_refresh)
    app.router.add_get("/api/stats/costs", get_costs)
    app.router.add_put("/api/admin/spend", put_spend)
    app.router.add_get("/api/stats/grades", get_scores)
    app.router.add_get("/api/grading/form", get_form)
    app.router.add_put("/api/admin/grading/form", put_form)
    app.router.add_get("/api/calls/{call_id}/grades", get_call_grades)
    app.router.add_post("/api/calls/{call_id}/grades", post_call_grade)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class _Refused(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


async def _agent_filter(request: web.Request, asked: str | None) -> str | None:
    """The agent filter in force: an agent's own id whatever was asked; for others the
    asked agent, which must exist."""
    session = current_session(request)
    if session.role == "agent":
        if session.agent_id is None:
            raise _Refused(_error(403, "your account is not linked to an agent"))
        if asked is not None and asked != session.agent_id:
            raise _Refused(_error(403, "agents may read only their own figures"))
        return session.agent_id
    if asked is not None:
        async with request.app[STATS_KEY].engine.connect() as conn:
            found = (await conn.execute(select(Agent.id).where(Agent.id == asked))).first()
        if found is None:
            raise _Refused(_error(400, f"agent = {asked!r}: no such agent"))
    return asked


def _today(request: web.Request) -> date:
    return request.app[STATS_KEY].now().astimezone(UTC).date()


@requires(*ANY_ROLE)
async def stats_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(request.app[STATS_KEY].page)


@requires(*ANY_ROLE)
async def get_figures(request: web.Request) -> web.Response:
    try:
        query = parse_query(request.query, today=_today(request))
        agent = await _agent_filter(request, query.agent)
    except BadRequest as bad:
        return _error(400, str(bad))
    except _Refused as refused:
        return refused.response
    query = StatsQuery(
        since=query.since,
        until=query.until,
        group_by=query.group_by,
        agent=agent,
        did=query.did,
        min_talk_s=query.min_talk_s,
    )
    rows = await request.app[STATS_KEY].rollup.figures(query)
    whole = Figures(key="")
    for row in rows:
        whole.add_scripts(row.scripts)
    return web.json_response(
        {
            "query": query.as_json(),
            "rows": [row.as_json() for row in rows],
            # Per script, version and variant over the whole period (pre-aggregated per
            # closed day like the other figures; each row carries its own too).
            "scripts": [v.as_json() for v in whole.variants()],
        }
    )


@requires("admin")
async def post_refresh(request: web.Request) -> web.Response:
    """Recompute the stored per-day figures of closed days since..until (e.g. after
    outcomes older than the automatically refreshed days were corrected)."""
    try:
        query = parse_query(request.query, today=_today(request), max_days=366)
    except BadRequest as bad:
        return _error(400, str(bad))
    first = query.since.date()
    days = (query.until - query.since).days
    refreshed = await request.app[STATS_KEY].rollup.refresh(
        first + timedelta(days=n) for n in range(days)
    )
    return web.json_response({"refreshed_days": refreshed})


@requires(*ANY_ROLE)
async def get_agents(request: web.Request) -> web.Response:
    session = current_session(request)
    stmt = select(Agent.id, Agent.name).order_by(Agent.id)
    if session.role == "agent":
        stmt = stmt.where(Agent.id == (session.agent_id or ""))
    async with request.app[STATS_KEY].engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return web.json_response({"agents": [{"id": r.id, "name": r.name} for r in rows]})


def _months(request: web.Request) -> tuple[str, str]:
    today = _today(request)
    this = f"{today.year}-{today.month:02d}"
    try:
        last = check_month("until", request.query.get("until", this))
        first = check_month("since", request.query.get("since", last))
    except ValueError as error:
        raise BadRequest(str(error)) from None
    if first > last:
        raise BadRequest(f"since = {first} is after until = {last}: since must come first")
    count = (int(last[:4]) - int(first[:4])) * 12 + int(last[5:]) - int(first[5:]) + 1
    if count > MAX_MONTHS:
        raise BadRequest(f"{first} to {last} is {count} months: at most {MAX_MONTHS} at once")
    return first, last


@requires("supervisor", "admin")
async def get_costs(request: web.Request) -> web.Response:
    try:
        first, last = _months(request)
    except BadRequest as bad:
        return _error(400, str(bad))
    access = request.app[STATS_KEY]
    spends = await access.spend.months(first, last)
    rows = await source_costs(access.engine, first, last, spends)
    history = await access.audit.history(AUDIT_KIND, limit=20)
    return web.json_response(
        {
            "since": first,
            "until": last,
            "rows": [row.as_json() for row in rows],
            "history": [
                {"who": h.who, "at": h.at.isoformat(), "old": h.old, "new": h.new} for h in history
            ],
        }
    )


@requires("admin")
async def put_spend(request: web.Request) -> web.Response:
    try:
        body = await json_object(request, max_bytes=_MAX_BODY, what="the ad spend object")
    except BadBody as bad:
        return bad.response
    try:
        spend = await request.app[STATS_KEY].spend.put(body, current_session(request).username)
    except SpendRejected as rejected:
        return web.json_response({"errors": rejected.problems}, status=422)
    return web.json_response({"spend": spend.as_json()})


@requires(*ANY_ROLE)
async def get_scores(request: web.Request) -> web.Response:
    params = dict(request.query)
    unit = params.pop("group_by", "week")
    try:
        if unit not in _UNITS:
            raise BadRequest(f"group_by = {unit!r}: must be one of {', '.join(_UNITS)}")
        query = parse_query(params, today=_today(request), max_days=366)
        agent = await _agent_filter(request, query.agent)
    except BadRequest as bad:
        return _error(400, str(bad))
    except _Refused as refused:
        return refused.response
    rows = await request.app[STATS_KEY].grading.scores(
        since=query.since,
        until=query.until,
        unit=unit,
        agent=agent,
    )
    return web.json_response({"query": query.as_json(), "rows": rows})


@requires("supervisor", "admin")
async def get_form(request: web.Request) -> web.Response:
    form = await request.app[STATS_KEY].grading.form()
    return web.json_response({"form": form.as_json()})


@requires("admin")
async def put_form(request: web.Request) -> web.Response:
    try:
        body = await json_object(request, max_bytes=_MAX_BODY, what="the grading form object")
    except BadBody as bad:
        return bad.response
    if set(body) != {"questions"}:
        return web.json_response({"errors": ['the body must be {"questions": [...]}']}, status=422)
    try:
        form = await request.app[STATS_KEY].grading.save_form(
            body["questions"], current_session(request).username
        )
    except GradeRejected as rejected:
        return web.json_response({"errors": rejected.problems}, status=422)
    return web.json_response({"form": form.as_json()})


async def _call_agent(request: web.Request, call_id: str) -> tuple[bool, str | None]:
    async with request.app[STATS_KEY].engine.connect() as conn:
        row = (await conn.execute(select(Call.agent_id).where(Call.id == call_id))).first()
    return (row is not None, row.agent_id if row is not None else None)


@requires(*ANY_ROLE)
async def get_call_grades(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    exists, agent = await _call_agent(request, call_id)
    session = current_session(request)
    mine = session.role != "agent" or (agent is not None and agent == session.agent_id)
    if not exists or not mine:  # not there or not yours: the same answer
        return _error(404, "no such call")
    grades = await request.app[STATS_KEY].grading.of_call(call_id)
    return web.json_response({"call_id": call_id, "grades": [g.as_json() for g in grades]})


@requires("supervisor", "admin")
async def post_call_grade(request: web.Request) -> web.Response:
    try:
        body = await json_object(request, max_bytes=_MAX_BODY, what="the grade object")
    except BadBody as bad:
        return bad.response
    call_id = request.match_info["call_id"]
    try:
        grade = await request.app[STATS_KEY].grading.grade(
            call_id, body, current_session(request).username
        )
    except UnknownCall:
        return _error(404, "no such call")
    except GradeRejected as rejected:
        return web.json_response({"errors": rejected.problems}, status=422)
    return web.json_response({"grade": grade.as_json()}, status=201)
