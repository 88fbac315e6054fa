"""Logging in and out: GET/POST /login, POST /logout, GET /api/me.

POST /login takes JSON `{"username": ..., "password": ...}` or the same as a form
and answers JSON. Wrong username and wrong password get the same 401 and message,
in about the same time. Failures are counted per client IP and per username;
over the limit the answer is 429 with Retry-After, without checking the password.
The session cookie is HttpOnly, SameSite=Strict, Path=/, Secure over https.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import hdrs, web

from telephony.auth.accounts import AuthSession
from telephony.auth.passwords import MAX_USERNAME_LENGTH
from telephony.auth.ratelimit import LoginRateLimiter
from telephony.auth.roles import ANY_ROLE
from telephony.web.access import (
    ACCOUNTS_KEY,
    COOKIE_NAME,
    current_session,
    origin_allowed,
    public,
    requires,
)

LIMITER_KEY = web.AppKey("login_limiter", LoginRateLimiter)
LOGIN_FAILED = "wrong username or password"
BAD_REQUEST = 'send JSON {"username": "...", "password": "..."} or a form with those fields'


def add_login_routes(app: web.Application, login_page: Path) -> None:
    @public
    async def login_form(request: web.Request) -> web.StreamResponse:
        session = await request.app[ACCOUNTS_KEY].resolve(request.cookies.get(COOKIE_NAME))
        if session is not None:
            return web.Response(status=302, headers={hdrs.LOCATION: "/"})
        return web.FileResponse(login_page)

    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/api/me", me)


@public
async def login(request: web.Request) -> web.Response:
    # Login CSRF: a browser always sends Origin on a POST; another site's is refused.
    if hdrs.ORIGIN in request.headers and not origin_allowed(request):
        return web.json_response({"error": "cross-origin login refused"}, status=403)
    credentials = await _credentials(request)
    if credentials is None:
        return web.json_response({"error": BAD_REQUEST}, status=400)
    username, password = credentials
    limiter = request.app[LIMITER_KEY]
    ip = request.remote or "unknown"
    # Longer names are invalid anyway; the cap keeps limiter keys small.
    user_key = username[: MAX_USERNAME_LENGTH + 1]
    wait = limiter.retry_after(ip=ip, username=user_key)
    if wait:
        return web.json_response(
            {"error": "too many failed logins: try again later", "retry_after": wait},
            status=429,
            headers={hdrs.RETRY_AFTER: str(wait)},
        )
    accounts = request.app[ACCOUNTS_KEY]
    user = await accounts.authenticate(username, password)
    if user is None:
        limiter.failed(ip=ip, username=user_key)
        return web.json_response({"error": LOGIN_FAILED}, status=401)
    limiter.succeeded(username=user_key)
    # A new token at every login (no fixation); the browser's old session ends.
    previous = await accounts.resolve(request.cookies.get(COOKIE_NAME))
    if previous is not None:
        await accounts.end_session(previous)
    new = await accounts.start_session(user)
    response = web.json_response(me_json(new.session))
    response.set_cookie(
        COOKIE_NAME,
        new.token,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        max_age=int(accounts.limits.absolute_lifetime.total_seconds()),
    )
    return response


@requires(*ANY_ROLE)
async def logout(request: web.Request) -> web.Response:
    await request.app[ACCOUNTS_KEY].end_session(current_session(request))
    response = web.Response(status=204)
    response.del_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="Strict", secure=request.secure
    )
    return response


@requires(*ANY_ROLE)
async def me(request: web.Request) -> web.Response:
    return web.json_response(me_json(current_session(request)))


def me_json(session: AuthSession) -> dict[str, Any]:
    return {
        "user": session.username,
        "role": session.role,
        "agent_id": session.agent_id,
        "csrf_token": session.csrf_token,
    }


async def _credentials(request: web.Request) -> tuple[str, str] | None:
    data: Any
    try:
        if request.content_type == "application/json":
            data = await request.json()
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            data = dict(await request.post())
        else:
            return None
    except (ValueError, RecursionError):  # not JSON (or nested too deep), a malformed form
        return None
    if not isinstance(data, dict):
        return None
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        return None
    return username, password
