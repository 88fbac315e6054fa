"""Admins edit, publish, release, retire, import and export scripts and say which calls
get which; supervisors and admins read conversion per variant; agents do neither. Every
bad request is refused with the problem named, and nothing changes."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from telephony.config import AgentConfig, load_settings
from telephony.demo import DIDS, SCRIPT_LANGUAGES
from telephony.scripts.library import default_library
from telephony.scripts.matching import choose
from telephony.scripts.model import CallFacts, CallScript, Script
from telephony.service import RUNTIME_KEY, build_app
from telephony.store.notes import Notes
from telephony.store.policy_audit import PolicyAudit
from telephony.store.repo import CallStore
from telephony.store.scripts import ScriptStore
from telephony.web.admin_scripts import add_script_routes
from telephony.web.app import AGENT_UI_DIR
from telephony.web.stats import add_stats_routes

from .conftest import T0, Client, add_user, finished_call, log_in

LoggedIn = Callable[[str], Awaitable[tuple[Client, str]]]

ROUTES: list[tuple[str, str, frozenset[str]]] = [
    ("GET", "/admin/scripts", frozenset({"admin"})),
    ("GET", "/api/admin/scripts", frozenset({"admin"})),
    ("POST", "/api/admin/scripts/preview", frozenset({"admin"})),
    ("POST", "/api/admin/scripts/import", frozenset({"admin"})),
    ("GET", "/api/admin/scripts/ceilings", frozenset({"admin"})),
    ("GET", "/api/admin/scripts/ceilings/export", frozenset({"admin"})),
    ("PUT", "/api/admin/scripts/ceilings/draft", frozenset({"admin"})),
    ("POST", "/api/admin/scripts/ceilings/publish", frozenset({"admin"})),
    ("POST", "/api/admin/scripts/ceilings/retire", frozenset({"admin"})),
    ("PUT", "/api/admin/scripts/ceilings/release", frozenset({"admin"})),
    ("PUT", "/api/admin/campaigns/ads", frozenset({"admin"})),
    ("DELETE", "/api/admin/campaigns/ads", frozenset({"admin"})),
    ("PUT", "/api/admin/script-rules", frozenset({"admin"})),
    ("PUT", "/api/admin/script-default", frozenset({"admin"})),
    ("GET", "/api/scripts/conversion", frozenset({"supervisor", "admin"})),
]


def body(key: str = "ceilings", *, say: str = "Good day, {company.name}.") -> dict[str, Any]:
    return {
        "key": key,
        "name": f"Script {key}",
        "language": "en",
        "stages": [
            {"id": "greeting", "kind": "greeting", "title": "Greeting", "say": [say]},
            {
                "id": "needs",
                "kind": "needs",
                "title": "Needs",
                "captures": [{"key": "budget", "label": "Budget", "type": "number"}],
                "questions": [{"key": "q1", "text": "What area?", "kind": "technical"}],
            },
            {"id": "close", "kind": "close", "title": "Close", "say": ["So, {captured.budget}?"]},
        ],
    }


@pytest.fixture
def scripts(store: CallStore) -> ScriptStore:
    return ScriptStore(store.engine, lambda: T0)


@pytest.fixture
def logged_in(
    aiohttp_client: AiohttpClient, app: web.Application, scripts: ScriptStore
) -> LoggedIn:
    add_script_routes(app, scripts=scripts, page=AGENT_UI_DIR / "admin_scripts.html")

    async def as_role(role: str) -> tuple[Client, str]:
        await add_user(app, role, role=role, agent_id="alice" if role == "agent" else None)
        client = await aiohttp_client(app)
        return client, await log_in(client, role)

    return as_role


async def call(
    client: Client, csrf: str | None, method: str, path: str, payload: Any = None
) -> tuple[int, Any]:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    response = await client.request(method, path, json=payload, headers=headers)
    text = await response.text()
    try:
        return response.status, json.loads(text)
    except ValueError:
        return response.status, text


async def published(client: Client, csrf: str, key: str = "ceilings", **kw: Any) -> None:
    status, _ = await call(client, csrf, "PUT", f"/api/admin/scripts/{key}/draft", body(key, **kw))
    assert status == 200
    status, _ = await call(client, csrf, "POST", f"/api/admin/scripts/{key}/publish", {})
    assert status == 200


async def test_every_route_needs_a_session(
    aiohttp_client: AiohttpClient, app: web.Application, scripts: ScriptStore
) -> None:
    add_script_routes(app, scripts=scripts, page=AGENT_UI_DIR / "admin_scripts.html")
    client = await aiohttp_client(app)
    for method, path, _ in ROUTES:
        response = await client.request(method, path, json={}, allow_redirects=False)
        if method == "GET" and not path.startswith("/api/"):
            assert response.status == 302 and response.headers["Location"] == "/login", path
        else:
            assert response.status == 401, (method, path, response.status)


@pytest.mark.parametrize("role", ["agent", "supervisor"])
async def test_every_route_refuses_roles_it_does_not_name(logged_in: LoggedIn, role: str) -> None:
    client, csrf = await logged_in(role)
    for method, path, roles in ROUTES:
        status, _ = await call(client, csrf, method, path, {})
        if role in roles:
            assert status == 200, (method, path, status)
        else:
            assert status == 403, (role, method, path, status)


async def test_a_change_without_the_csrf_token_is_refused(
    logged_in: LoggedIn, scripts: ScriptStore
) -> None:
    client, _ = await logged_in("admin")
    for method, path, _ in ROUTES:
        if method in ("GET",):
            continue
        status, result = await call(client, None, method, path, body())
        assert status == 403 and "X-CSRF-Token" in result["error"], (method, path)
    assert await scripts.scripts() == []


async def test_an_admin_publishes_a_version_and_splits_calls_between_variants(
    logged_in: LoggedIn, scripts: ScriptStore
) -> None:
    client, csrf = await logged_in("admin")
    status, saved = await call(client, csrf, "PUT", "/api/admin/scripts/ceilings/draft", body())
    assert status == 200 and saved["version"]["version"] == 1
    assert saved["version"]["status"] == "draft" and saved["warnings"]  # no summary stage
    status, result = await call(client, csrf, "POST", "/api/admin/scripts/ceilings/publish", {})
    assert status == 200 and result["version"]["published_by"] == "admin"
    assert result["release"]["variants"] == [{"label": "A", "version": 1, "weight": 100}]
    changed = body(say="Hello, {caller.name}! {company.name} here.")
    status, saved = await call(client, csrf, "PUT", "/api/admin/scripts/ceilings/draft", changed)
    assert saved["version"]["version"] == 2
    status, _ = await call(
        client, csrf, "POST", "/api/admin/scripts/ceilings/publish", {"version": 2}
    )
    assert status == 200
    split = [{"label": "A", "version": 1, "weight": 50}, {"label": "B", "version": 2, "weight": 50}]
    status, result = await call(
        client, csrf, "PUT", "/api/admin/scripts/ceilings/release", {"variants": split}
    )
    assert status == 200 and result["release"]["variants"] == split
    setup = await scripts.setup()
    assert [(v.label, v.version, v.weight) for v in setup.releases["ceilings"].variants] == [
        ("A", 1, 50),
        ("B", 2, 50),
    ]
    status, listing = await call(client, csrf, "GET", "/api/admin/scripts")
    assert status == 200
    (info,) = listing["scripts"]
    assert [v["status"] for v in info["versions"]] == ["published", "published"]
    assert [h["new"]["action"] for h in listing["history"]][:2] == ["set_release", "publish"]
    status, one = await call(client, csrf, "GET", "/api/admin/scripts/ceilings?version=1")
    assert status == 200 and one["body"]["stages"][0]["say"] == ["Good day, {company.name}."]
    # Campaign, rules and fallback.
    campaign = {"name": "Ceilings — search ads", "dids": ["908502220001"], "script": "ceilings"}
    status, result = await call(client, csrf, "PUT", "/api/admin/campaigns/ads", campaign)
    assert status == 200 and result["campaign"]["key"] == "ads"
    rules = [{"name": "Open deal", "when": {"history": ["open_deal"]}, "script": "ceilings"}]
    status, result = await call(client, csrf, "PUT", "/api/admin/script-rules", {"rules": rules})
    assert status == 200 and result["rules"][0]["name"] == "Open deal"
    status, _ = await call(client, csrf, "PUT", "/api/admin/script-default", {"script": "ceilings"})
    assert status == 200
    setup = await scripts.setup()
    assert setup.default_script == "ceilings" and setup.campaigns[0].dids == ["908502220001"]
    assert setup.rules[0].name == "Open deal"
    # Retire: refused while in use, then allowed.
    status, result = await call(client, csrf, "POST", "/api/admin/scripts/ceilings/retire", {})
    assert status == 422 and "in use by campaign 'ads'" in result["errors"][0]
    await call(client, csrf, "PUT", "/api/admin/script-rules", {"rules": []})
    await call(client, csrf, "PUT", "/api/admin/script-default", {"script": None})
    status, _ = await call(client, csrf, "DELETE", "/api/admin/campaigns/ads")
    assert status == 200
    status, _ = await call(client, csrf, "POST", "/api/admin/scripts/ceilings/retire", {})
    assert status == 200
    assert "ceilings" not in (await scripts.setup()).releases


def too_many_questions() -> dict[str, Any]:
    script = body()
    script["stages"][1]["questions"] = [
        {"key": f"q{i}", "text": "Why?", "kind": "technical"} for i in range(8)
    ]
    return script


def branch_to_nowhere() -> dict[str, Any]:
    script = body()
    script["stages"][0]["branches"] = [{"field": "budget", "equals": "1", "to": "nowhere"}]
    return script


@pytest.mark.parametrize(
    ("payload", "status", "expected"),
    [
        (branch_to_nowhere(), 422, "branches[0].to = 'nowhere': no such stage"),
        (body(say="Hi {captured.nope}"), 422, "{captured.nope} names no field"),
        (too_many_questions(), 422, "8 questions, the limit is 7"),
        ({**body(), "colour": "red"}, 422, "colour: unknown field"),
        ({**body(), "key": "other"}, 400, "must be 'ceilings'"),
        ({**body(), "stages": "x" * 300_000}, 413, "at most 262144 bytes"),
    ],
)
async def test_a_bad_draft_is_refused_precisely_and_nothing_changes(
    logged_in: LoggedIn, scripts: ScriptStore, payload: Any, status: int, expected: str
) -> None:
    client, csrf = await logged_in("admin")
    got, result = await call(client, csrf, "PUT", "/api/admin/scripts/ceilings/draft", payload)
    assert got == status, result
    shown = result["errors"] if "errors" in result else [result["error"]]
    assert any(expected in p for p in shown), shown
    assert await scripts.scripts() == []


async def test_bad_releases_rules_and_bodies_are_refused_and_nothing_changes(
    logged_in: LoggedIn, scripts: ScriptStore
) -> None:
    client, csrf = await logged_in("admin")
    await published(client, csrf)
    await published(client, csrf, "old")
    await call(client, csrf, "POST", "/api/admin/scripts/old/retire", {})
    await call(client, csrf, "PUT", "/api/admin/scripts/ceilings/draft", body(say="v2"))  # draft
    before = await scripts.setup()
    release = "/api/admin/scripts/ceilings/release"
    cases: list[tuple[str, str, Any, int, str]] = [
        (
            "PUT",
            release,
            {"variants": [{"label": "A", "version": 1, "weight": 0}]},
            422,
            "weight 0",
        ),
        (
            "PUT",
            release,
            {"variants": [{"label": "B", "version": 2, "weight": 50}]},
            422,
            "version 2 is not published",
        ),
        ("PUT", release, {"variants": [], "extra": 1}, 400, "extra: unknown field"),
        ("PUT", release, {}, 400, "variants: required"),
        ("PUT", release, {"variants": [{"label": "A", "version": "x"}]}, 422, "variants.0.version"),
        (
            "PUT",
            "/api/admin/script-rules",
            {"rules": [{"name": "Old", "script": "old"}]},
            422,
            "rules.0.script = 'old': the script is retired",
        ),
        (
            "PUT",
            "/api/admin/script-rules",
            {"rules": [{"name": "X", "script": "ceilings", "bogus": 1}]},
            422,
            "rules.0.bogus",
        ),
        ("PUT", "/api/admin/script-rules", {"rules": "all"}, 422, "must be a list"),
        (
            "PUT",
            "/api/admin/campaigns/ads",
            {"name": "Ads", "script": "old"},
            422,
            "script = 'old': the script is retired",
        ),
        (
            "PUT",
            "/api/admin/campaigns/ads",
            {"name": "Ads", "dids": ["not a number"]},
            422,
            "dids.0",
        ),
        ("PUT", "/api/admin/campaigns/Bad-Key", {"name": "Ads"}, 400, "key = 'Bad-Key'"),
        ("PUT", "/api/admin/script-default", {"script": "ghost"}, 422, "no such script"),
        ("POST", "/api/admin/scripts/ceilings/publish", {"version": 1}, 422, "only the draft"),
        ("POST", "/api/admin/scripts/ceilings/publish", {"version": "two"}, 400, "version = 'two'"),
        ("POST", "/api/admin/scripts/ceilings/publish", {"when": "now"}, 400, "when: unknown"),
        ("POST", "/api/admin/scripts/ghost/publish", {}, 404, "no such script"),
        ("POST", "/api/admin/scripts/ceilings/retire", {"version": 1}, 422, "is released"),
        ("DELETE", "/api/admin/campaigns/ghost", None, 404, "no such campaign"),
        ("POST", "/api/admin/scripts/preview", {"script": branch_to_nowhere()}, 422, "nowhere"),
        ("POST", "/api/admin/scripts/preview", {"script": body(), "sample": [1]}, 400, "sample"),
        ("POST", "/api/admin/scripts/import", {"format": "xml", "text": ""}, 400, "format = 'xml'"),
        ("POST", "/api/admin/scripts/import", {"format": "yaml", "text": "a: [1"}, 422, "YAML"),
        ("POST", "/api/admin/scripts/import", {"format": "json", "text": "[]"}, 422, "one script"),
    ]
    for method, path, payload, status, expected in cases:
        got, result = await call(client, csrf, method, path, payload)
        shown = result["errors"] if "errors" in result else [result["error"]]
        assert got == status, (path, payload, got, shown)
        assert any(expected in p for p in shown), (path, expected, shown)
    after = await scripts.setup()
    assert after == before
    info = await scripts.script("ceilings")
    assert [v.status for v in info.versions] == ["published", "draft"]
    # A body that is not JSON, or too big.
    response = await client.put(
        release,
        data=b"{not json",
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
    )
    assert response.status == 400 and "must be JSON" in (await response.json())["errors"][0]
    response = await client.put(
        "/api/admin/script-rules",
        data=b"[" + b"1," * 70_000 + b"1]",
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 413


async def test_import_and_export_round_trip_through_the_api(
    logged_in: LoggedIn, scripts: ScriptStore
) -> None:
    client, csrf = await logged_in("admin")
    await published(client, csrf)
    for fmt in ("yaml", "json"):
        response = await client.get(f"/api/admin/scripts/ceilings/export?format={fmt}&version=1")
        assert response.status == 200
        assert f'filename="ceilings-v1.{fmt}"' in response.headers["Content-Disposition"]
        exported = await response.text()
        status, result = await call(
            client, csrf, "POST", "/api/admin/scripts/import", {"format": fmt, "text": exported}
        )
        assert status == 200 and result["version"]["version"] == 2  # the draft after v1
        again = await client.get(f"/api/admin/scripts/ceilings/export?format={fmt}")
        assert await again.text() == exported  # the draft holds exactly what was exported
    _, v1 = await scripts.version("ceilings", 1)
    _, draft = await scripts.version("ceilings", 2)
    assert draft == v1
    response = await client.get("/api/admin/scripts/ceilings/export?format=xml")
    assert response.status == 400
    response = await client.get("/api/admin/scripts/ceilings/export?version=9")
    assert response.status == 404


async def test_preview_renders_sample_values_as_text(logged_in: LoggedIn) -> None:
    client, csrf = await logged_in("admin")
    script = body(say="Hello {caller.name}, {company.name} here. Budget {captured.budget}.")
    hostile = "<img src=x onerror=alert(1)>{company.name}"
    status, result = await call(
        client,
        csrf,
        "POST",
        "/api/admin/scripts/preview",
        {"script": script, "sample": {"caller.name": hostile}},
    )
    assert status == 200
    (say,) = result["preview"]["stages"][0]["say"]
    # The value is inserted once, as text: never scanned again, never markup.
    assert say == f"Hello {hostile}, Usta Ahşap here. Budget [Budget]."


async def test_conversion_per_variant_for_supervisors(
    logged_in: LoggedIn, scripts: ScriptStore
) -> None:
    client, csrf = await logged_in("admin")
    await published(client, csrf)
    supervisor, _ = await logged_in("supervisor")
    status, result = await call(
        supervisor,
        None,
        "GET",
        "/api/scripts/conversion?key=ceilings&since=2026-11-01&until=2026-12-01",
    )
    assert status == 200 and result["key"] == "ceilings" and result["variants"] == []
    setup = await scripts.setup()
    setup = setup.model_copy(update={"default_script": "ceilings"})
    picked = choose(setup, CallFacts(call_id="c1"))
    assert picked is not None
    await scripts.assign("c1", picked)
    status, result = await call(
        supervisor, None, "GET", "/api/scripts/conversion?since=2026-11-01&until=2026-12-01"
    )
    assert status == 200
    (row,) = result["variants"]
    assert (row["key"], row["variant"], row["calls"], row["sales"]) == ("ceilings", "A", 1, 0)
    assert row["conversion"] == 0 and row["ci95"][0] == 0
    for query, expected in [
        ("since=yesterday", "since = 'yesterday'"),
        ("key=Bad!", "key = 'Bad!'"),
        ("colour=red", "colour: unknown parameter"),
        ("since=2026-12-01&until=2026-11-01", "since before until"),
    ]:
        status, result = await call(supervisor, None, "GET", f"/api/scripts/conversion?{query}")
        assert status == 400 and expected in result["errors"][0], (query, result)


async def test_the_statistics_figures_carry_conversion_per_script_and_variant(
    aiohttp_client: AiohttpClient, app: web.Application, store: CallStore, scripts: ScriptStore
) -> None:

    await store.upsert_agents([AgentConfig(id="bob", name="Bob", endpoint="PJSIP/b")])
    await scripts.save_draft(body(), who="admin")
    await scripts.publish("ceilings", who="admin")
    script = Script.model_validate(body())
    for call_id, agent in (("c-alice", "alice"), ("c-bob", "bob")):
        await finished_call(store, call_id, agent_id=agent)
        chosen = CallScript(
            key="ceilings", version=1, variant="A", name=script.name, language="en",
            reason=["test"], body=script,
        )  # fmt: skip
        await scripts.assign(call_id, chosen)
    await Notes(store.engine).save("c-alice", {"outcome": "sale"}, agent_id="alice", by="alice")
    add_script_routes(app, scripts=scripts, page=AGENT_UI_DIR / "admin_scripts.html")
    add_stats_routes(
        app,
        engine=store.engine,
        audit=PolicyAudit(store.engine),
        page=AGENT_UI_DIR / "stats.html",
        now=lambda: T0,
        refresh_every_s=None,
    )
    for role, agent_id, expected in (("supervisor", None, (2, 1)), ("agent", "alice", (1, 1))):
        await add_user(app, role, role=role, agent_id=agent_id)
        client = await aiohttp_client(app)
        await log_in(client, role)
        response = await client.get("/api/stats/figures?since=2026-11-27&until=2026-11-28")
        assert response.status == 200
        (row,) = (await response.json())["scripts"]
        assert (row["key"], row["variant"], row["calls"], row["sales"]) == (
            "ceilings",
            "A",
            *expected,
        )
        # An agent reads only her own calls' figures.
        await client.close()


async def test_the_service_loads_the_library_on_first_start_and_the_demo_numbers_match(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    settings = load_settings(
        ari_url="http://127.0.0.1:9",  # nothing listens: the web app works without ARI
        ari_username="u",
        ari_password="password",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'first.db'}",
        recordings_dir=str(tmp_path / "recordings"),
        ivr_sounds_dir=str(tmp_path / "sounds"),
        agents=[{"id": "ayse", "name": "Ayşe", "endpoint": "PJSIP/agent2001"}],
        log_json=False,
    )
    app = build_app(settings)
    await aiohttp_client(app)  # start-up: migrations, then the default library
    scripts = app[RUNTIME_KEY].scripts
    shipped = default_library()
    assert {s.key for s in await scripts.scripts()} == {s.key for s in shipped}
    added = await scripts.load_defaults(shipped, SCRIPT_LANGUAGES)  # what make demo adds
    assert added.scripts == [] and len(added.campaigns) == 2
    setup = await scripts.setup()
    assert setup.default_script is not None
    languages = set()
    for n, did in enumerate(DIDS):
        picked = choose(setup, CallFacts(call_id=f"demo-{n}", did=did))
        assert picked is not None and picked.campaign == f"demo_{did}", picked
        languages.add(picked.language)
        back = choose(setup, CallFacts(call_id=f"back-{n}", did=did, history="open_deal"))
        assert back is not None and "open deal" in " ".join(back.reason)
    assert languages == {"tr", "en"}
