"""`GET /metrics` for Prometheus: a bearer token (`metrics_token`) for the scraper, or a
logged-in supervisor's or admin's session for a person. Declared public so the session
middleware lets a token through; the handler itself refuses everyone else."""

from __future__ import annotations

import hmac

from aiohttp import hdrs, web
from pydantic import SecretStr

from telephony.metrics import CONTENT_TYPE, Metrics
from telephony.web.access import ACCOUNTS_KEY, COOKIE_NAME, public
from telephony.web.ws import SOCKETS_KEY

METRICS_KEY = web.AppKey("metrics", Metrics)
_TOKEN_KEY = web.AppKey("metrics_token", str)
ROLES = ("supervisor", "admin")


def add_metrics_routes(app: web.Application, metrics: Metrics, token: SecretStr | None) -> None:
    app[METRICS_KEY] = metrics
    app[_TOKEN_KEY] = token.get_secret_value() if token is not None else ""
    app.router.add_get("/metrics", metrics_page)
    metrics.count_sockets(lambda: len(app.get(SOCKETS_KEY, ())))


@public
async def metrics_page(request: web.Request) -> web.Response:
    expected = request.app[_TOKEN_KEY]
    sent = request.headers.get(hdrs.AUTHORIZATION, "")
    if sent.startswith("Bearer "):
        if expected and hmac.compare_digest(sent[7:].encode(), expected.encode()):
            return _page(request)
        return web.json_response({"error": "wrong bearer token"}, status=401)
    session = await request.app[ACCOUNTS_KEY].resolve(request.cookies.get(COOKIE_NAME))
    if session is None:
        how = "a bearer token (metrics_token) or " if expected else ""
        return web.json_response({"error": f"needs {how}a supervisor's session"}, status=401)
    if session.role not in ROLES:
        return web.json_response({"error": "your role may not do this"}, status=403)
    return _page(request)


def _page(request: web.Request) -> web.Response:
    response = web.Response(body=request.app[METRICS_KEY].render())
    response.headers[hdrs.CONTENT_TYPE] = CONTENT_TYPE
    return response
