"""Accounts and roles over HTTP: every rule of telephony.web.access and .login."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select, text
from structlog.testing import capture_logs

from telephony.auth import AuthOptions, Passwords, ensure_user, token_hash
from telephony.auth.roles import ANY_ROLE
from telephony.config import load_settings
from telephony.store.models import User, UserSession
from telephony.store.repo import CallStore
from telephony.web.access import (
    ACCOUNTS_KEY,
    COOKIE_NAME,
    current_session,
    origin_allowed,
    requires,
)
from telephony.web.app import STORE_KEY

from .conftest import CHEAP_HASHER, PASSWORD, Client, World, add_user, log_in

MakeClient = Callable[[], Awaitable[Client]]


@requires("admin")
async def admin_only(request: web.Request) -> web.Response:
    return web.json_response({"hello": current_session(request).username})


@requires(*ANY_ROLE)
async def change_something(request: web.Request) -> web.Response:
    return web.json_response({"changed": request.method})


@pytest.fixture
def app_with_test_routes(app: web.Application) -> web.Application:
    """The app plus two routes a later feature would add: admin-only, and one that changes state."""
    app.router.add_get("/api/test/admin", admin_only)
    app.router.add_route("*", "/api/test/change", change_something)
    return app


@pytest.fixture
async def make_client(
    aiohttp_client: AiohttpClient, app_with_test_routes: web.Application
) -> MakeClient:
    """Each call: a new browser (its own cookie jar) on the same app."""

    async def make() -> Client:
        return await aiohttp_client(app_with_test_routes)

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    return await make_client()


def cookie_attributes(response: Any) -> dict[str, str]:
    header = response.headers.getall("Set-Cookie")
    assert len(header) == 1, header
    parsed = SimpleCookie()
    parsed.load(header[0])
    morsel = parsed[COOKIE_NAME]
    attributes = {key: str(value) for key, value in morsel.items() if value}
    return {"value": morsel.value, "raw": header[0], **attributes}


async def sessions_in_db(app: web.Application) -> list[Any]:
    async with app[STORE_KEY].engine.connect() as conn:
        return list(await conn.execute(select(UserSession)))


# -- no session --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/static/../", "/nope", "/index.html"])
async def test_pages_without_session_redirect_to_login(client: Client, path: str) -> None:
    response = await client.get(path, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/login"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/calls"),
        ("GET", "/api/me"),
        ("GET", "/api/nope"),
        ("GET", "/api/test/admin"),
        ("POST", "/logout"),
        ("POST", "/api/test/change"),
        ("DELETE", "/api/test/change"),
        ("POST", "/"),
    ],
)
async def test_api_and_changes_without_session_are_401_json(
    client: Client, method: str, path: str
) -> None:
    response = await client.request(method, path, allow_redirects=False)
    assert response.status == 401
    assert response.content_type == "application/json"
    assert "log in" in (await response.json())["error"]


async def test_websocket_handshake_without_session_is_401_not_a_redirect(client: Client) -> None:
    response = await client.get(
        "/ws", headers={"Upgrade": "websocket", "Connection": "Upgrade"}, allow_redirects=False
    )
    assert response.status == 401


@pytest.mark.parametrize(
    ("path", "marker"),
    [
        ("/login", "<title>ThirdRing — log in</title>"),
        ("/healthz", '"status"'),
        ("/static/login.js", "/login"),
        ("/static/calls.js", "/api/calls"),
        ("/static/style.css", ".login-panel"),
        ("/static/favicon.svg", "<svg"),
    ],
)
async def test_public_paths_need_no_session(client: Client, path: str, marker: str) -> None:
    response = await client.get(path, allow_redirects=False)
    assert response.status == 200
    assert marker in await response.text()


async def test_a_bogus_or_overlong_cookie_is_no_session_and_is_cleared(client: Client) -> None:
    for value in ("not-a-session", "x" * 5000):
        client.session.cookie_jar.update_cookies({COOKIE_NAME: value})
        response = await client.get("/api/calls")
        assert response.status == 401
        assert cookie_attributes(response)["max-age"] == "0"


# -- logging in --------------------------------------------------------------


async def test_login_with_json_sets_a_strict_httponly_session_cookie(
    client: Client, app: web.Application
) -> None:
    await add_user(app, "alice", role="agent", agent_id="alice")
    response = await client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert response.status == 200
    body = await response.json()
    assert body["user"] == "alice" and body["role"] == "agent" and body["agent_id"] == "alice"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", body["csrf_token"])
    cookie = cookie_attributes(response)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie["value"])  # 32 random bytes
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert cookie["max-age"] == str(24 * 3600)  # the absolute lifetime
    assert "secure" not in cookie  # plain http here: a Secure cookie would never come back
    assert response.headers["Cache-Control"] == "no-store"

    me = await client.get("/api/me")
    assert await me.json() == {**body}


async def test_login_with_a_form(client: Client, app: web.Application) -> None:
    await add_user(app, "bob", role="supervisor")
    response = await client.post("/login", data={"username": "bob", "password": PASSWORD})
    assert response.status == 200
    assert (await response.json())["role"] == "supervisor"
    assert (await client.get("/api/calls")).status == 200


async def test_session_cookie_is_secure_over_https(
    aiohttp_client: AiohttpClient, app: web.Application
) -> None:
    @web.middleware
    async def as_if_https(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        return await handler(request.clone(scheme="https"))

    app.middlewares.insert(0, as_if_https)
    await add_user(app, "alice")
    client = await aiohttp_client(app)
    response = await client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert response.status == 200
    assert "secure" in cookie_attributes(response)


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong password!"), ("nobody", PASSWORD), ("ALICE", PASSWORD), ("alice", "")],
)
async def test_wrong_credentials_get_one_generic_answer(
    client: Client, app: web.Application, username: str, password: str
) -> None:
    await add_user(app, "alice")
    response = await client.post("/login", json={"username": username, "password": password})
    assert response.status == 401
    assert await response.json() == {"error": "wrong username or password"}
    assert "Set-Cookie" not in response.headers
    assert (await client.get("/api/calls")).status == 401


class CountingPasswords(Passwords):
    def __init__(self) -> None:
        super().__init__(CHEAP_HASHER)
        self.verified = 0

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verified += 1
        return await super().verify(password_hash, password)


async def test_an_unknown_user_costs_one_argon2_check_like_a_known_one(
    store: CallStore, world: World, aiohttp_client: AiohttpClient
) -> None:
    from telephony.web import create_web_app

    passwords = CountingPasswords()
    app = create_web_app(
        store=store,
        live_calls=world.live_calls,
        ari_state=world.ari_state,
        db_ok=world.db_ok,
        now=world.clock,
        passwords=passwords,
    )
    await add_user(app, "alice")
    client = await aiohttp_client(app)
    counts = []
    for username in ("alice", "nobody", "<not even a valid name>\n"):
        before = passwords.verified
        response = await client.post("/login", json={"username": username, "password": "nope"})
        assert response.status == 401
        counts.append(passwords.verified - before)
    assert counts == [1, 1, 1]


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"data": "not json", "headers": {"Content-Type": "application/json"}}, 400),
        ({"json": ["alice", PASSWORD]}, 400),
        ({"json": {"username": "alice"}}, 400),
        ({"json": {"username": 1, "password": PASSWORD}}, 400),
        ({"data": "alice:" + PASSWORD, "headers": {"Content-Type": "text/plain"}}, 400),
    ],
)
async def test_malformed_login_requests_are_400(
    client: Client, app: web.Application, kwargs: dict[str, Any], status: int
) -> None:
    await add_user(app, "alice")
    response = await client.post("/login", **kwargs)
    assert response.status == status
    assert "username" in (await response.json())["error"]


async def test_login_from_another_origin_is_refused(client: Client, app: web.Application) -> None:
    await add_user(app, "alice")
    credentials = {"username": "alice", "password": PASSWORD}
    evil = await client.post("/login", json=credentials, headers={"Origin": "https://evil.test"})
    assert evil.status == 403
    own = f"http://{client.host}:{client.port}"
    assert (await client.post("/login", json=credentials, headers={"Origin": own})).status == 200


async def test_login_page_sends_a_logged_in_user_to_the_calls_page(
    client: Client, app: web.Application
) -> None:
    await add_user(app, "alice")
    await log_in(client)
    response = await client.get("/login", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/"


async def test_each_login_gets_a_new_session_and_ends_the_browsers_old_one(
    client: Client, app: web.Application
) -> None:
    await add_user(app, "alice")
    await log_in(client)
    first = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE_NAME].value
    await log_in(client)
    second = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE_NAME].value
    assert first != second
    assert [row.token_hash for row in await sessions_in_db(app)] == [token_hash(second)]


# -- rate limits -------------------------------------------------------------


async def test_five_failures_for_one_username_lock_it_for_five_minutes(
    make_client: MakeClient, app: web.Application, world: World
) -> None:
    await add_user(app, "alice")
    await add_user(app, "bob")
    client = await make_client()
    for _ in range(5):
        bad = await client.post("/login", json={"username": "alice", "password": "guess guess"})
        assert bad.status == 401
    world.now += timedelta(seconds=10)
    locked = await client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert locked.status == 429  # even the right password: no oracle while locked
    assert locked.headers["Retry-After"] == "290"
    assert (await locked.json())["retry_after"] == 290
    assert "Set-Cookie" not in locked.headers
    # Another account from the same place is not locked (the IP limit is looser).
    assert (await client.post("/login", json={"username": "bob", "password": PASSWORD})).ok

    world.now += timedelta(seconds=289)
    still = await client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert still.status == 429 and still.headers["Retry-After"] == "1"
    world.now += timedelta(seconds=1)
    assert await log_in(client, "alice")


async def test_many_failures_from_one_ip_lock_every_username(
    client: Client, app: web.Application, world: World
) -> None:
    await add_user(app, "alice")
    for i in range(20):
        bad = await client.post("/login", json={"username": f"user{i}", "password": "guess guess"})
        assert bad.status == 401
        world.now += timedelta(seconds=1)
    locked = await client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert locked.status == 429
    assert locked.headers["Retry-After"] == str(300 - 20)
    world.now += timedelta(seconds=280)
    assert await log_in(client, "alice")


async def test_a_success_clears_the_usernames_failures(
    client: Client, app: web.Application
) -> None:
    await add_user(app, "alice")
    for _ in range(4):
        await client.post("/login", json={"username": "alice", "password": "guess guess"})
    await log_in(client)
    for _ in range(4):
        await client.post("/login", json={"username": "alice", "password": "guess guess"})
    assert await log_in(client)


# -- sessions expire ---------------------------------------------------------


async def test_idle_session_expires_after_eight_hours(
    client: Client, app: web.Application, world: World
) -> None:
    await add_user(app, "alice")
    await log_in(client)
    world.now += timedelta(hours=7, minutes=59)
    assert (await client.get("/api/calls")).status == 200  # in use: idle time starts again
    world.now += timedelta(hours=7, minutes=59)
    assert (await client.get("/api/calls")).status == 200
    world.now += timedelta(hours=8)
    expired = await client.get("/api/calls")
    assert expired.status == 401
    assert cookie_attributes(expired)["max-age"] == "0"
    assert await sessions_in_db(app) == []
    page = await client.get("/", allow_redirects=False)
    assert page.status == 302 and page.headers["Location"] == "/login"


async def test_busy_session_still_ends_after_twenty_four_hours(
    client: Client, app: web.Application, world: World
) -> None:
    await add_user(app, "alice")
    await log_in(client)
    start = world.now
    while world.now - start < timedelta(hours=23, minutes=30):
        world.now += timedelta(minutes=30)
        assert (await client.get("/api/calls")).status == 200
    world.now = start + timedelta(hours=24)
    assert (await client.get("/api/calls")).status == 401
    assert await sessions_in_db(app) == []


async def test_configured_timeouts_apply(
    store: CallStore, world: World, aiohttp_client: AiohttpClient
) -> None:
    from telephony.web import create_web_app

    settings = load_settings(
        ari_username="u",
        ari_password="password",
        session_idle_timeout_s=60,
        session_absolute_timeout_s=600,
        login_max_failures_per_user=2,
        login_failure_window_s=30,
    )
    app = create_web_app(
        store=store,
        live_calls=world.live_calls,
        ari_state=world.ari_state,
        db_ok=world.db_ok,
        now=world.clock,
        passwords=Passwords(CHEAP_HASHER),
        auth=AuthOptions.from_settings(settings),
    )
    await add_user(app, "alice")
    client = await aiohttp_client(app)
    for _ in range(2):
        await client.post("/login", json={"username": "alice", "password": "guess guess"})
    locked = await client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert locked.status == 429 and locked.headers["Retry-After"] == "30"
    world.now += timedelta(seconds=30)
    response = await client.post("/login", json={"username": "alice", "password": PASSWORD})
    assert cookie_attributes(response)["max-age"] == "600"
    world.now += timedelta(seconds=59)
    assert (await client.get("/api/me")).status == 200
    world.now += timedelta(seconds=60)  # touched only once a minute: idle since login
    assert (await client.get("/api/me")).status == 401


# -- CSRF and logout ---------------------------------------------------------


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_state_changes_need_the_sessions_csrf_token(
    client: Client, app: web.Application, method: str
) -> None:
    await add_user(app, "alice")
    csrf = await log_in(client)
    missing = await client.request(method, "/api/test/change")
    assert missing.status == 403
    assert "X-CSRF-Token" in (await missing.json())["error"]
    wrong = await client.request(method, "/api/test/change", headers={"X-CSRF-Token": "x" + csrf})
    assert wrong.status == 403
    other = await client.request(
        method, "/api/test/change", headers={"X-CSRF-Token": "ä" * 43}
    )  # not ASCII: refused, not a crash
    assert other.status == 403
    ok = await client.request(method, "/api/test/change", headers={"X-CSRF-Token": csrf})
    assert ok.status == 200 and await ok.json() == {"changed": method}
    # Reads need no token.
    assert (await client.get("/api/test/change")).status == 200


async def test_csrf_token_is_per_session(make_client: MakeClient, app: web.Application) -> None:
    await add_user(app, "alice")
    first, second = await make_client(), await make_client()
    token_one, token_two = await log_in(first), await log_in(second)
    assert token_one != token_two
    crossed = await first.post("/api/test/change", headers={"X-CSRF-Token": token_two})
    assert crossed.status == 403


async def test_cross_origin_change_is_refused_even_with_the_token(
    client: Client, app: web.Application
) -> None:
    await add_user(app, "alice")
    csrf = await log_in(client)
    response = await client.post(
        "/api/test/change", headers={"X-CSRF-Token": csrf, "Origin": "http://evil.test"}
    )
    assert response.status == 403


async def test_logout_ends_this_session_only(make_client: MakeClient, app: web.Application) -> None:
    await add_user(app, "alice")
    here, elsewhere = await make_client(), await make_client()
    csrf = await log_in(here)
    await log_in(elsewhere)
    assert len(await sessions_in_db(app)) == 2

    assert (await here.post("/logout")).status == 403  # without the CSRF token
    response = await here.post("/logout", headers={"X-CSRF-Token": csrf})
    assert response.status == 204
    cleared = cookie_attributes(response)
    assert cleared["value"] == "" and cleared["max-age"] == "0"
    assert (await here.get("/api/calls")).status == 401
    assert len(await sessions_in_db(app)) == 1
    assert (await elsewhere.get("/api/calls")).status == 200


async def test_a_stolen_cookie_is_useless_after_logout(
    make_client: MakeClient, app: web.Application
) -> None:
    await add_user(app, "alice")
    victim = await make_client()
    csrf = await log_in(victim)
    cookie = victim.session.cookie_jar.filter_cookies(victim.make_url("/"))[COOKIE_NAME].value
    await victim.post("/logout", headers={"X-CSRF-Token": csrf})
    thief = await make_client()
    thief.session.cookie_jar.update_cookies({COOKIE_NAME: cookie})
    assert (await thief.get("/api/calls")).status == 401


async def test_password_change_and_removal_end_sessions(
    client: Client, app: web.Application
) -> None:
    accounts = app[ACCOUNTS_KEY]
    await add_user(app, "alice")
    await log_in(client)
    await accounts.set_password("alice", "a brand new password")
    assert (await client.get("/api/calls")).status == 401
    await log_in(client, "alice", "a brand new password")
    await accounts.remove_user("alice")
    assert (await client.get("/api/calls")).status == 401
    assert await sessions_in_db(app) == []


# -- roles -------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [("agent", 403), ("supervisor", 403), ("admin", 200)])
async def test_a_route_refuses_roles_it_does_not_name(
    client: Client, app: web.Application, role: str, status: int
) -> None:
    await add_user(app, "someone", role=role)
    await log_in(client, "someone")
    response = await client.get("/api/test/admin")
    assert response.status == status
    if status == 403:
        assert (await response.json())["error"] == "your role may not do this"
    else:
        assert await response.json() == {"hello": "someone"}


@pytest.mark.parametrize("role", ["agent", "supervisor", "admin"])
async def test_calls_page_and_api_are_open_to_every_role(
    client: Client, app: web.Application, role: str
) -> None:
    await add_user(app, "someone", role=role)
    await log_in(client, "someone")
    assert (await client.get("/")).status == 200
    assert (await client.get("/api/calls")).status == 200
    me = await (await client.get("/api/me")).json()
    assert (me["user"], me["role"], me["agent_id"]) == ("someone", role, None)


async def test_a_route_without_a_declaration_stops_the_app(app: web.Application) -> None:
    async def forgotten(request: web.Request) -> web.Response:
        return web.Response(text="secret")

    app.router.add_get("/api/forgotten", forgotten)
    runner = web.AppRunner(app)
    try:
        with pytest.raises(RuntimeError, match="GET /api/forgotten"):
            await runner.setup()
    finally:
        await runner.cleanup()


def test_requires_needs_a_role() -> None:
    with pytest.raises(ValueError):
        requires()


# -- hostile names, secrets --------------------------------------------------

HOSTILE_NAMES = [
    "Robert'); DROP TABLE users;--",
    "' OR '1'='1",
    "<img src=x onerror=alert(1)>",
    '"><script>alert(1)</script>',
    "Ayşe Yılmaz 📞",
]


@pytest.mark.parametrize("username", HOSTILE_NAMES)
async def test_sql_and_html_usernames_are_plain_text(
    client: Client, app: web.Application, username: str
) -> None:
    await add_user(app, username, role="admin")
    await add_user(app, "admin")
    await log_in(client, username)
    me = await (await client.get("/api/me")).json()
    assert me["user"] == username
    assert me["role"] == "admin"
    # The SQL did nothing: both users are there, and a quote trick logs nobody in.
    users = [u.username for u in await app[ACCOUNTS_KEY].users.list_users()]
    assert sorted(users) == sorted([username, "admin"])
    trick = await client.post("/login", json={"username": "admin' --", "password": "x" * 12})
    assert trick.status == 401


@pytest.mark.parametrize("username", ["", " alice", "alice ", "a\nb", "a\u202eb", "x" * 65])
async def test_unusable_usernames_are_refused_when_adding(
    app: web.Application, username: str
) -> None:
    with pytest.raises(ValueError, match="username"):
        await add_user(app, username)


async def test_short_passwords_are_refused_without_echoing_them(app: web.Application) -> None:
    with pytest.raises(ValueError) as refused:
        await add_user(app, "alice", password="Short1234")
    assert "Short1234" not in str(refused.value)
    assert "10" in str(refused.value)


async def test_passwords_and_tokens_are_never_logged_or_stored_in_clear(
    make_client: MakeClient, app: web.Application
) -> None:
    secret = "Sup3r secret pass phrase"
    with capture_logs() as logs:
        await add_user(app, "alice", password=secret)
        client = await make_client()
        wrong = await client.post("/login", json={"username": "alice", "password": secret + "!"})
        assert wrong.status == 401
        unknown = await client.post("/login", json={"username": secret, "password": secret})
        assert unknown.status == 401
        csrf = await log_in(client, "alice", secret)
        token = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE_NAME].value
        await client.post("/logout", headers={"X-CSRF-Token": csrf})
        await log_in(client, "alice", secret)
    assert {entry["event"] for entry in logs} >= {
        "auth.user_added",
        "auth.login_failed",
        "auth.login",
        "auth.logout",
    }
    logged = repr(logs)
    assert secret + "!" not in logged and token not in logged and csrf not in logged
    # The one place the secret shows is as a mistyped *username* (cut to 64 characters).
    assert all(secret not in repr(e) for e in logs if e["event"] != "auth.login_failed")

    async with app[STORE_KEY].engine.connect() as conn:
        dump = ""
        for table in ("users", "user_sessions"):
            dump += repr(list(await conn.execute(text(f"SELECT * FROM {table}"))))
        stored_hash = (await conn.execute(select(User.password_hash))).scalar_one()
    assert secret not in dump and token not in dump
    assert (
        token_hash(
            client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE_NAME].value
        )
        in dump
    )  # sessions are found by the token's SHA-256 only
    assert stored_hash.startswith("$argon2id$")


async def test_old_hash_parameters_are_upgraded_at_login(
    client: Client, app: web.Application, store: CallStore
) -> None:
    # Made with the library's default (stronger) parameters; the app uses cheap ones.
    await ensure_user(store, "alice", PASSWORD, "agent")
    before = await app[ACCOUNTS_KEY].users.get_user("alice")
    assert before is not None and "m=65536,t=3,p=4" in before.password_hash
    await log_in(client)
    after = await app[ACCOUNTS_KEY].users.get_user("alice")
    assert after is not None and "m=8,t=1,p=1" in after.password_hash
    assert after.password_changed_at == before.password_changed_at
    assert (await client.get("/api/calls")).status == 200
    await log_in(client)  # and the new hash verifies


# -- origin helper -----------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "origin", "allowed"),
    [
        ("127.0.0.1:8080", "http://127.0.0.1:8080", True),
        ("example.com", "https://example.com", True),
        ("example.com:443", "https://example.com", True),
        ("Example.COM", "https://example.com", True),
        ("example.com", "http://example.com:80", True),
        ("127.0.0.1:8080", "http://127.0.0.1:8081", False),
        ("127.0.0.1:8080", "http://localhost:8080", False),
        ("example.com", "https://evil.example.com", False),
        ("example.com", "https://example.com.evil.test", False),
        ("example.com", "null", False),
        ("example.com", "", False),
        ("example.com", "ws://example.com", False),
        ("example.com", "https://user@example.com", False),
        ("example.com", "https://example.com:99999", False),
        ("example.com:x", "https://example.com", False),
    ],
)
def test_origin_allowed(host: str, origin: str, allowed: bool) -> None:
    headers = {"Host": host}
    if origin:
        headers["Origin"] = origin
    request = make_mocked_request("GET", "/ws", headers=headers)
    assert origin_allowed(request) is allowed


# -- programmatic users (the demo) ------------------------------------------


async def test_ensure_user_creates_updates_and_keeps_sessions_when_unchanged(
    client: Client, app: web.Application, store: CallStore
) -> None:
    created = await ensure_user(store, "demo", PASSWORD, "agent", hasher=CHEAP_HASHER)
    assert (created.role, created.agent_id) == ("agent", None)
    await log_in(client, "demo")
    again = await ensure_user(
        store, "demo", PASSWORD, "agent", agent_id="alice", hasher=CHEAP_HASHER
    )
    assert again.agent_id == "alice" and again.id == created.id
    assert (await client.get("/api/calls")).status == 200  # same password: still logged in
    await ensure_user(store, "demo", "another password", "supervisor", hasher=CHEAP_HASHER)
    assert (await client.get("/api/calls")).status == 401  # new password: logged out
    csrf = await log_in(client, "demo", "another password")
    assert csrf
    me = await (await client.get("/api/me")).json()
    assert (me["role"], me["agent_id"]) == ("supervisor", None)
