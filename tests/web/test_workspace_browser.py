"""The workspace in a real Chromium: hostile Caller ID names in pops stay inert text;
a dropped socket reconnects and re-syncs from the snapshot (a pop sent meanwhile is
shown)."""

from __future__ import annotations

import re

import pytest
from aiohttp import web
from playwright.async_api import expect
from pytest_aiohttp import AiohttpServer

from telephony.auth import Passwords
from telephony.config import AgentConfig
from telephony.numbers import clean_caller_name
from telephony.push.hub import Hub
from telephony.push.live import LiveView
from telephony.push.pops import Pops
from telephony.push.state import Push
from telephony.store.history import CallerContext, History
from telephony.store.notes import Notes
from telephony.store.repo import CallStore
from telephony.web import create_web_app
from telephony.web.ws import SOCKETS_KEY

from ..browser import Seen, open_page
from .conftest import CHEAP_HASHER, PASSWORD, World, add_user, finished_call
from .test_push_ws import NUMBER, call_snapshot

pytestmark = pytest.mark.browser

PAYLOADS = [
    "<script>window.__xss = 1</script>",
    '"><img src=x onerror="window.__xss = 2">',
    "\u202eevil\u202c Ali",
    "Ş" + "x" * 499,
    "Ayşe 🙂📞 <b>bold</b>",
    "'; DROP TABLE calls; --",
]
UI_TIMEOUT = 5000


@pytest.fixture
async def served(
    aiohttp_server: AiohttpServer, store: CallStore, world: World
) -> tuple[str, Push, web.Application]:
    await store.upsert_agents([AgentConfig(id="bob", name="Bob", endpoint="PJSIP/b")])
    hub = Hub()
    history = History(store.engine)

    async def look_up(number: str | None, call_id: str) -> CallerContext:
        return await history.caller_context(number, exclude_call=call_id)

    push = Push(
        hub=hub,
        pops=Pops(hub, look_up, clock=world.clock),
        live=LiveView(hub, live_calls=world.live_calls, agents=list, clock=world.clock),
        agent_state=lambda agent_id: {"id": agent_id, "status": "available"},
    )
    app = create_web_app(
        store=store,
        live_calls=world.live_calls,
        ari_state=world.ari_state,
        db_ok=world.db_ok,
        now=world.clock,
        passwords=Passwords(CHEAP_HASHER),
        push=push,
    )
    await add_user(app, "alice", agent_id="alice")
    server = await aiohttp_server(app)
    return str(server.make_url("/workspace")), push, app


async def test_hostile_caller_names_in_pops_stay_text(
    served: tuple[str, Push, web.Application], store: CallStore
) -> None:
    url, push, _ = served
    await finished_call(store, "old", number=NUMBER, name=PAYLOADS[1], agent_id="bob")
    seen = Seen()
    async with open_page(url, seen=seen, login=("alice", PASSWORD)) as page:
        await expect(page.locator("#pops .empty")).to_be_visible(timeout=UI_TIMEOUT)
        for n, payload in enumerate(PAYLOADS):
            push.pops.on_snapshot(call_snapshot(f"x{n}", name=payload))
        cards = page.locator("#pops .pop")
        await expect(cards).to_have_count(len(PAYLOADS), timeout=UI_TIMEOUT)
        for n, payload in enumerate(PAYLOADS):
            card = page.locator(f"#pops .pop[data-call-id='x{n}'] .caller-name")
            # The contact's remembered name (the old call's Caller ID) or this Caller ID.
            shown = await card.text_content()
            assert shown in (clean_caller_name(payload), clean_caller_name(PAYLOADS[1]))
            assert "\u202e" not in (shown or "")
        assert await page.locator("#pops img, #pops script, #pops b").count() == 0
        assert await page.evaluate("window.__xss === undefined")
        await expect(page.locator("#pops .past-agent").first).to_have_text("Bob")
        assert seen.dialogs == []
        assert seen.console_errors == []


async def test_a_dropped_socket_reconnects_and_resyncs(
    served: tuple[str, Push, web.Application],
) -> None:
    url, push, app = served
    seen = Seen()
    async with open_page(url, seen=seen, login=("alice", PASSWORD)) as page:
        await expect(page.locator("#agent-status")).to_have_attribute(
            "data-status", "available", timeout=UI_TIMEOUT
        )
        # The network drops: the server side of every socket goes away at once.
        sockets: set[web.WebSocketResponse] = app[SOCKETS_KEY]
        for ws in list(sockets):
            await ws.close()
        # A call is offered while the page is disconnected ...
        push.pops.on_snapshot(call_snapshot("while-away", name="Missed Meanwhile"))
        # ... and shows once the page has reconnected and received its snapshot.
        card = page.locator("#pops .pop[data-call-id='while-away'] .caller-name")
        await expect(card).to_have_text("Missed Meanwhile", timeout=UI_TIMEOUT)
        await expect(page.locator("#link-state")).to_be_hidden()
        assert seen.dialogs == []


async def test_shortcut_sets_the_outcome_and_the_language_sticks(
    served: tuple[str, Push, web.Application], store: CallStore
) -> None:
    url, push, _ = served
    await finished_call(store, "talk-1", number=NUMBER, name="Ali Vural", agent_id="alice")
    seen = Seen()
    async with open_page(url, seen=seen, login=("alice", PASSWORD)) as page:
        await expect(page.locator("#agent-status")).to_have_attribute(
            "data-status", "available", timeout=UI_TIMEOUT
        )
        # English, stored for this user: still English after a reload.
        async with page.expect_response(
            lambda r: r.url.endswith("/api/me/prefs") and r.request.method == "PUT"
        ):
            await page.locator("#lang").select_option("en")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await page.reload()
        # The page starts as Turkish markup; the stored choice turns it English.
        await expect(page.locator("html")).to_have_attribute("lang", "en", timeout=UI_TIMEOUT)
        await expect(page.locator("#pops-title")).to_have_text("Incoming")
        talking = call_snapshot("talk-1", phase="talking", offered_to=(), agent_id="alice")
        push.pops.on_snapshot({**talking, "answered_at": "2026-11-27T09:09:00+00:00"})
        await expect(page.locator("#call")).to_be_visible(timeout=UI_TIMEOUT)
        await expect(page.locator("#call-name")).to_have_text("Ali Vural")
        await page.keyboard.press("Alt+2")
        await expect(page.locator("#f-outcome")).to_have_value("pending_purchase")
        await expect(page.locator("#save-state")).to_have_text("Saved", timeout=UI_TIMEOUT)
        notes = await Notes(store.engine).get("talk-1")
        assert notes.outcome == "pending_purchase"
        assert seen.dialogs == []
        assert seen.console_errors == []


async def test_hold_from_the_call_snapshot_timer_warning_and_thanks(
    served: tuple[str, Push, web.Application], store: CallStore, world: World
) -> None:
    """Rendered from the hold issue's snapshot contract: `hold` = {since, source, warned}
    or null, `hold_retrieved` after a retrieve."""
    url, push, _ = served
    await finished_call(store, "held-1", number=NUMBER, name="Ali Vural", agent_id="alice")
    seen = Seen()
    async with open_page(url, seen=seen, login=("alice", PASSWORD)) as page:
        await expect(page.locator("#agent-status")).to_have_attribute(
            "data-status", "available", timeout=UI_TIMEOUT
        )
        talking = {
            **call_snapshot("held-1", phase="talking", offered_to=(), agent_id="alice"),
            "answered_at": "2026-11-27T09:08:00+00:00",
        }
        push.pops.on_snapshot({**talking, "hold": None})
        await expect(page.locator("#hold")).to_be_visible(timeout=UI_TIMEOUT)
        await expect(page.locator("#retrieve")).to_be_hidden()
        # On hold for 12 s (the server's clock says 09:10:00): timer, no warning yet.
        since = "2026-11-27T09:09:48+00:00"
        push.pops.on_snapshot(
            {**talking, "hold": {"since": since, "source": "phone", "warned": False}}
        )
        await expect(page.locator("#hold-timer")).to_have_text(
            re.compile(r"^Beklemede 1[2-9] s$"), timeout=UI_TIMEOUT
        )
        await expect(page.locator("#retrieve")).to_be_visible()
        await expect(page.locator("#hold")).to_be_hidden()
        await expect(page.locator("#hold-warning")).to_be_hidden()
        # The service says the hold is too long: the loud warning.
        push.pops.on_snapshot(
            {**talking, "hold": {"since": since, "source": "phone", "warned": True}}
        )
        await expect(page.locator("#hold-warning")).to_be_visible(timeout=UI_TIMEOUT)
        await expect(page.locator("#hold-offering")).to_be_hidden()
        # At the limit the caller hears a callback offer: said, and no retrieve meanwhile.
        offering = {"since": since, "source": "phone", "warned": True, "offering": True}
        push.pops.on_snapshot({**talking, "hold": offering})
        await expect(page.locator("#hold-offering")).to_have_text(
            re.compile(r"^Arayana geri arama teklifi"), timeout=UI_TIMEOUT
        )
        await expect(page.locator("#retrieve")).to_be_disabled()
        # Retrieved: the reminder to thank the caller.
        push.pops.on_snapshot({**talking, "hold": None, "hold_retrieved": True})
        await expect(page.locator("#thank-reminder")).to_be_visible(timeout=UI_TIMEOUT)
        await expect(page.locator("#hold-warning")).to_be_hidden()
        await expect(page.locator("#hold-offering")).to_be_hidden()
        await expect(page.locator("#hold-timer")).to_be_hidden()
        assert seen.console_errors == []
