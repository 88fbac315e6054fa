"""Who may reach which route: every route declares it, one middleware enforces it.

- `@public`: no session needed (the login page and POST, /healthz). Static files
  under /static/ are public too (they hold no data).
- `@requires("supervisor", "admin")`, `@requires(*ANY_ROLE)`: a live session whose
  user has one of these roles. Others get 403.

A route without a declaration stops the app at start-up (`check_routes`), and is
refused at run time should one slip through: nothing is reachable by omission.

Without a session, a browser GET of a page is redirected to /login; anything else
(API, WebSocket, POST) gets 401 JSON. With a session, every state-changing request
(POST, PUT, PATCH, DELETE) must carry the session's CSRF token in `X-CSRF-Token`
(compared in constant time) and, when the browser sends an Origin, come from this
host. A WebSocket handshake is a GET: its handler must call `origin_allowed`.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import hdrs, web
from aiohttp.web_urldispatcher import AbstractRoute, StaticResource, SystemRoute

from telephony.auth.accounts import Accounts, AuthSession
from telephony.auth.roles import Role

COOKIE_NAME = "thirdring_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PATH = "/login"

ACCOUNTS_KEY = web.AppKey("accounts", Accounts)
SESSION_KEY = web.RequestKey("session", AuthSession)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_H = TypeVar("_H", bound=Handler)
_ATTRIBUTE = "__thirdring_access__"


@dataclass(frozen=True)
class Access:
    """None: public. Otherwise the roles allowed (a session is needed)."""

    roles: frozenset[Role] | None


def public(handler: _H) -> _H:
    setattr(handler, _ATTRIBUTE, Access(None))
    return handler


def requires(*roles: Role) -> Callable[[_H], _H]:
    if not roles:
        raise ValueError("requires(): name at least one role (ANY_ROLE for every user)")

    def declare(handler: _H) -> _H:
        setattr(handler, _ATTRIBUTE, Access(frozenset(roles)))
        return handler

    return declare


def access_of(route: AbstractRoute) -> Access | None:
    if isinstance(route.resource, StaticResource):
        return Access(None)
    access: Any = getattr(route.handler, _ATTRIBUTE, None)
    return access if isinstance(access, Access) else None


def routes_without_access(app: web.Application) -> list[str]:
    return [
        f"{route.method} {route.resource.canonical if route.resource else '?'}"
        for route in app.router.routes()
        if access_of(route) is None
    ]


async def check_routes(app: web.Application) -> None:
    """on_startup: refuse to serve when a route has not said who may use it."""
    missing = routes_without_access(app)
    if missing:
        raise RuntimeError(f"routes without @public or @requires(...): {', '.join(missing)}")


def current_session(request: web.Request) -> AuthSession:
    """The logged-in user of a request that passed the middleware."""
    return request[SESSION_KEY]


def origin_allowed(request: web.Request) -> bool:
    """True when the Origin header names this very host (scheme http/https, same host
    and port as the Host header). A missing or opaque ("null") Origin is refused."""
    origin = request.headers.get(hdrs.ORIGIN, "")
    try:
        parts = urlsplit(origin)
        origin_port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.path or parts.query or parts.fragment or parts.username is not None:
        return False
    default = 443 if parts.scheme == "https" else 80
    host = urlsplit(f"//{request.host}")
    try:
        host_port = host.port
    except ValueError:
        return False
    if not host.hostname or host.hostname != parts.hostname:  # urlsplit lowercases both
        return False
    return (origin_port or default) == (host_port or default)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route
    access = access_of(route)
    if access is not None and access.roles is None:
        return await handler(request)
    cookie = request.cookies.get(COOKIE_NAME)
    session = await request.app[ACCOUNTS_KEY].resolve(cookie)
    if session is None:
        response = _unauthenticated(request)
        if cookie is not None:
            response.del_cookie(COOKIE_NAME, path="/")
        return response
    request[SESSION_KEY] = session
    if isinstance(route, SystemRoute):
        return await handler(request)  # 404 / 405, for logged-in users only
    if request.method not in SAFE_METHODS:
        if hdrs.ORIGIN in request.headers and not origin_allowed(request):
            return _error(403, "cross-origin request refused")
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
            return _error(403, f"missing or wrong {CSRF_HEADER} header (see GET /api/me)")
    if access is None or access.roles is None or session.role not in access.roles:
        return _error(403, "your role may not do this")
    return await handler(request)


def _unauthenticated(request: web.Request) -> web.Response:
    page = (
        request.method in ("GET", "HEAD")
        and not request.path.startswith("/api/")
        and hdrs.UPGRADE not in request.headers
    )
    if page:
        return web.Response(status=302, headers={hdrs.LOCATION: LOGIN_PATH})
    return _error(401, "log in first (POST /login)")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
