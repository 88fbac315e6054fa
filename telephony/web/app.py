"""HTTP side: health probe, calls API and the agent page, behind a login.

Every route declares who may use it (`@public` or `@requires(...)`, see
telephony.web.access); /login, /static/* and /healthz are the only public ones.

`live_calls()` is owned by the call engine (CallSession.snapshot). The page
reads these keys of each dict and tolerates missing ones: id, did,
caller_number (E.164 or None = anonymous), caller_name, phase ("talking" shows
as talking, any other phase as ringing), agent_id, arrived_at, answered_at
(ISO 8601). /api/calls adds agent_name from the agents table. Durations are
counted against the "now" that /api/calls returns, so a browser with a wrong
clock still shows them right.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from telephony.auth.accounts import Accounts
from telephony.auth.options import AuthOptions
from telephony.auth.passwords import Passwords
from telephony.auth.ratelimit import LoginRateLimiter
from telephony.auth.roles import ANY_ROLE
from telephony.calls.presence import AgentPresence
from telephony.push.state import Push
from telephony.store.notes import Notes
from telephony.store.repo import CallRecord, CallStore
from telephony.store.users import UserStore
from telephony.web.access import (
    ACCOUNTS_KEY,
    auth_middleware,
    check_routes,
    current_session,
    public,
    requires,
)
from telephony.web.agents import add_agent_routes
from telephony.web.demo import add_demo_routes
from telephony.web.login import LIMITER_KEY, add_login_routes
from telephony.web.recordings import add_recording_status
from telephony.web.workspace import add_workspace_routes
from telephony.web.ws import add_push_routes

LiveCalls = Callable[[], list[dict[str, Any]]]
AriState = Callable[[], str]
DbOk = Callable[[], Awaitable[bool]]
Clock = Callable[[], datetime]

STORE_KEY = web.AppKey("store", CallStore)
LIVE_CALLS_KEY: web.AppKey[LiveCalls] = web.AppKey("live_calls")
ARI_STATE_KEY: web.AppKey[AriState] = web.AppKey("ari_state")
DB_OK_KEY: web.AppKey[DbOk] = web.AppKey("db_ok")
CLOCK_KEY: web.AppKey[Clock] = web.AppKey("clock")

AGENT_UI_DIR = Path(__file__).resolve().parents[2] / "agent_ui"
RECENT_LIMIT = 50

# 'self' only: no inline script or style, so injected markup could not run
# even if some renderer ever failed to treat caller data as text.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

NO_STORE_PATHS = frozenset({"/healthz", "/login", "/logout"})

log = structlog.get_logger(__name__)


def create_web_app(
    *,
    store: CallStore,
    live_calls: LiveCalls,
    ari_state: AriState,
    db_ok: DbOk,
    now: Clock = lambda: datetime.now(UTC),
    auth: AuthOptions | None = None,
    passwords: Passwords | None = None,
    presence: AgentPresence | None = None,
    push: Push | None = None,
) -> web.Application:
    """The web app. `now` is its one clock: the calls' "now", session expiry and the
    login rate limits. Users and sessions live in `store`'s database."""
    auth = auth or AuthOptions()
    app = web.Application(middlewares=[auth_middleware])
    app[STORE_KEY] = store
    app[LIVE_CALLS_KEY] = live_calls
    app[ARI_STATE_KEY] = ari_state
    app[DB_OK_KEY] = db_ok
    app[CLOCK_KEY] = now
    app[ACCOUNTS_KEY] = Accounts(
        UserStore(store.engine), passwords=passwords, limits=auth.sessions, clock=now
    )
    app[LIMITER_KEY] = LoginRateLimiter(auth.per_user, auth.per_ip, clock=now)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/api/calls", api_calls)
    app.router.add_get("/", index)
    add_login_routes(app, AGENT_UI_DIR / "login.html")
    presence = presence or AgentPresence.empty()
    add_agent_routes(app, presence)
    add_push_routes(app, push or Push.empty(now))
    add_demo_routes(app)
    add_workspace_routes(
        app,
        notes=Notes(store.engine, now=now),
        presence=presence,
        page=AGENT_UI_DIR / "workspace.html",
    )
    app.router.add_static("/static/", AGENT_UI_DIR, show_index=False, follow_symlinks=False)
    app.on_startup.append(check_routes)
    app.on_startup.append(_warm_passwords)
    # A signal, not a middleware: it also covers static files and error pages.
    app.on_response_prepare.append(_add_headers)
    return app


async def _warm_passwords(app: web.Application) -> None:
    await app[ACCOUNTS_KEY].passwords.warm()


@public
async def healthz(request: web.Request) -> web.Response:
    ari = request.app[ARI_STATE_KEY]()
    try:
        db_good = await request.app[DB_OK_KEY]()
    except Exception as exc:  # a failing check is an unhealthy database, not a 500
        log.warning("healthz.db_check_raised", error=repr(exc))
        db_good = False
    status = "ok" if ari == "connected" and db_good else "degraded"
    # Always 200: a probe reads the body to tell which part is down.
    return web.json_response({"status": status, "ari": ari, "db": "ok" if db_good else "error"})


@requires(*ANY_ROLE)
async def api_calls(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    session = current_session(request)
    # An agent sees only their own calls: never another agent's callers or history.
    mine = session.agent_id or "" if session.role == "agent" else None
    recent = await store.recent_calls(RECENT_LIMIT, agent_id=mine)
    # The engine's snapshots carry agent_id only; people read names.
    agent_names: dict[object, str] = {a.id: a.name for a in await store.list_agents()}
    live = [
        {**call, "agent_name": call.get("agent_name") or agent_names.get(call.get("agent_id"))}
        for call in request.app[LIVE_CALLS_KEY]()
        if mine is None or call.get("agent_id") == mine or mine in call.get("offered_to", [])
    ]
    recent_json = [call_json(call) for call in recent]
    await add_recording_status(request, recent_json)
    body = {
        "now": request.app[CLOCK_KEY]().isoformat(),
        "live": live,
        "recent": recent_json,
    }
    return web.json_response(body, dumps=_dumps)


@requires(*ANY_ROLE)
async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(AGENT_UI_DIR / "index.html")


def call_json(call: CallRecord) -> dict[str, Any]:
    """A finished call as the page shows it. Caller text is data: the page escapes it."""
    return {
        "id": call.id,
        "did": call.did,
        "caller_number": call.caller_number,
        "caller_number_raw": call.caller_number_raw,
        "caller_name": call.caller_name,
        "agent_id": call.agent_id,
        "agent_name": call.agent_name,
        "arrived_at": _iso(call.arrived_at),
        "answered_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        "outcome": call.outcome,
        # From the caller's side: waiting until answered (or until giving up).
        "ring_seconds": _seconds(call.arrived_at, call.answered_at or call.ended_at),
        "talk_seconds": _seconds(call.answered_at, call.ended_at),
        "recording_name": call.recording_name,
        # Rings (see telephony.rings): the ring a human answered at, or the caller left at.
        "cadence": call.cadence,
        "max_rings": call.max_rings,
        "answered_ring": call.answered_ring,
        "abandoned_ring": call.abandoned_ring,
        "system_answered": call.system_answered_at is not None,
        "escalations": [str(step.get("step", "")) for step in call.escalations or []],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max((end - start).total_seconds(), 0.0), 1)


def _json_default(value: object) -> str:
    # live_calls() comes from the call engine and may hold datetimes.
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_dumps = functools.partial(json.dumps, default=_json_default)


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)
    if request.path.startswith("/api/") or request.path in NO_STORE_PATHS:
        response.headers["Cache-Control"] = "no-store"
    else:
        # Revalidate (ETag / Last-Modified) so a new release's page is picked up.
        response.headers.setdefault("Cache-Control", "no-cache")
