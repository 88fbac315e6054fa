"""The script panel in a real Chromium, fed by a simulated pop (no PBX): an agent walks a
call through the default inbound sale stage by stage; typed answers fill the words and
the summary; hostile answers stay literal text; the price counter advises; the outcome is
refused until a next step with date and time is given; a reload restores the panel. And
the pop of a returning caller with an open deal carries the rule's script and why."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Page, expect
from pytest_aiohttp import AiohttpServer

from telephony.config import AgentConfig
from telephony.push.state import Push
from telephony.scripts.guidance import summary
from telephony.scripts.model import CallScript
from telephony.store.notes import Notes
from telephony.store.repo import CallStore
from telephony.store.scripts import ScriptStore

from ..browser import Seen, open_page
from .conftest import PASSWORD, World, add_user
from .test_call_script import DID, open_deal_before, scripted_app, scripted_push, talked_call
from .test_push_ws import call_snapshot

pytestmark = pytest.mark.browser

UI_TIMEOUT = 5000
HOSTILE_NAME = '<img src=x onerror="window.__xss=1"> {caller.name} \u202eAli'
SHOWN_NAME = '<img src=x onerror="window.__xss=1"> {caller.name} Ali'  # bidi override dropped


async def serve(
    aiohttp_server: AiohttpServer, store: CallStore, world: World, language: Any
) -> tuple[str, Push, ScriptStore]:
    await store.upsert_agents([AgentConfig(id="alice", name="Alice Kaya", endpoint="PJSIP/a")])
    push, scripts, _ = await scripted_push(store, world, language=language)
    app: web.Application = scripted_app(store, world, push, scripts)
    await add_user(app, "alice", agent_id="alice")
    server = await aiohttp_server(app)
    return str(server.make_url("/workspace")), push, scripts


async def next_stage(page: Page, title: str) -> None:
    await page.locator("#script-panel .stage-next").click()
    await expect(page.locator("#script-panel .stages li.current")).to_have_text(
        re.compile(re.escape(title)), timeout=UI_TIMEOUT
    )
    await expect(page.locator("#script-panel .stage-title")).to_have_text(title)


async def test_an_agent_walks_a_call_through_the_inbound_sale(
    aiohttp_server: AiohttpServer, store: CallStore, world: World
) -> None:
    url, push, scripts = await serve(aiohttp_server, store, world, "en")
    await talked_call(store, "walk-1")
    seen = Seen()
    async with open_page(url, seen=seen, login=("alice", PASSWORD)) as page:
        await expect(page.locator("#agent-status")).to_have_attribute(
            "data-status", "available", timeout=UI_TIMEOUT
        )
        # Offered: the pop says which script and why; then answered.
        push.pops.on_snapshot(call_snapshot("walk-1"))
        card = page.locator("#pops .pop[data-call-id='walk-1']")
        await expect(card.locator(".script")).to_contain_text(
            "Inbound sale — stretch ceilings v1 A", timeout=UI_TIMEOUT
        )
        await expect(card.locator(".script-reason")).to_contain_text("the campaign's script")
        await expect(card.locator(".source")).to_contain_text(f"Demo advert {DID} (en)")
        talking = call_snapshot("walk-1", phase="talking", offered_to=(), agent_id="alice")
        push.pops.on_snapshot({**talking, "answered_at": "2026-11-27T09:09:00+00:00"})
        panel = page.locator("#script-panel")
        await expect(panel).to_be_visible(timeout=UI_TIMEOUT)
        await expect(page.locator("#no-next-step-row")).to_be_visible()  # the script asks
        await expect(page.locator("#lost-row")).to_be_hidden()  # no outcome "lost" yet

        # 1. Greeting: the company and the agent's first name in the script's words
        # (English), the panel's own labels in the agent's language (Turkish).
        await expect(panel.locator(".stages li")).to_have_count(9)
        await expect(panel.locator(".stages li.current")).to_have_text(re.compile("Greeting"))
        await expect(panel.locator(".say-line").first).to_have_text(
            "Good afternoon! gergi tavan, Usta Tavan, this is Alice. How can I help?"
        )
        await expect(panel.locator(".stage-next")).to_have_text("Sonraki aşama (Alt+N)")
        await expect(panel.locator(".script-reason")).to_contain_text(
            f"DID {DID} → campaign 'Demo advert {DID} (en)'"
        )

        # 2. The caller's question: typed answers (a choice, a number with limits).
        await next_stage(page, "The caller's question")
        await panel.locator("[data-capture=request]").select_option("Price")
        area = panel.locator("[data-capture=area_m2]")
        await area.fill("99999")  # above max 5000: refused by the page, not saved
        await expect(area).to_have_attribute("aria-invalid", "true")
        await area.fill("35")
        await expect(area).not_to_have_attribute("aria-invalid", "true")

        # 3. The name: a hostile one. Contacts before price: the price stage warns
        # while the phone number is missing.
        await next_stage(page, "Agree to help, ask the name")
        await panel.locator("[data-capture=caller_name]").fill(HOSTILE_NAME)
        await panel.locator(".stage-link[data-stage=presentation]").click()
        await expect(panel.locator(".contacts-first")).to_contain_text("Phone number")
        await panel.locator(".stage-link[data-stage=name]").click()
        phone = panel.locator("[data-capture=phone]")
        await phone.fill("call me <maybe>")
        await expect(phone).to_have_attribute("aria-invalid", "true")
        await phone.fill("+90 532 111 22 33")
        await expect(phone).not_to_have_attribute("aria-invalid", "true")
        await panel.locator(".stage-link[data-stage=presentation]").click()
        await expect(panel.locator(".stage-title")).to_have_text(
            "Presentation — benefits, price at the end"
        )
        await expect(panel.locator(".contacts-first")).to_have_count(0)
        await panel.locator(".stage-link[data-stage=name]").click()

        # 4. The first answer names the caller — the hostile name as literal text.
        await next_stage(page, "First answer — a price range")
        await expect(panel.locator(".say-line").first).to_have_text(
            f"{SHOWN_NAME}, a flat like yours usually comes to between 1,500 and 2,800 euros. "
            "It depends on the material, the number of corners and the lighting."
        )

        # 5. Needs: questions ticked, counted by kind against the limit of 7.
        await next_stage(page, "Needs — at most seven questions")
        await expect(panel.locator(".q-total")).to_have_text("0 / 7")
        for key in ("q_rooms", "q_finish", "q_deadline"):
            await panel.locator(f"[data-question={key}]").check()
        await expect(panel.locator(".q-total")).to_have_text("3 / 7")
        await expect(panel.locator(".q-counter")).to_contain_text(
            "teknik 2 · uzmanlık 0 · motivasyon 1"
        )
        await panel.locator("[data-capture=rooms]").fill("3")
        await panel.locator("[data-capture=finish]").select_option("Matte")
        await panel.locator("[data-capture=deadline]").fill("before {{ New Year }}")

        # 6. The summary, pre-filled from the answers, exactly as the server's guidance.
        await next_stage(page, 'Summary — get a "yes, correct"')
        lines = panel.locator(".summary-line")
        await expect(lines.first).to_have_text(f"So, {SHOWN_NAME}, you need:")
        _, script_body = await scripts.version("inbound_sale_en", 1)
        answers = {
            "request": "Price",
            "area_m2": "35",
            "caller_name": HOSTILE_NAME,
            "rooms": "3",
            "finish": "Matte",
            "deadline": "before {{ New Year }}",
        }
        expected = summary(script_body, answers, {"caller.name": HOSTILE_NAME})
        await expect(lines).to_have_text(expected)
        assert "Rooms: 3" in expected and "When it is needed: before {{ New Year }}" in expected
        await expect(panel.locator(".say-line").first).to_contain_text(
            "ceilings in 3 rooms, Matte finish"
        )
        # A branch: "No" leads back to the needs, "Yes" on to the presentation.
        await panel.locator("[data-capture=confirmed]").select_option("No")
        await expect(panel.locator(".stage-next-target")).to_have_text(
            "→ Needs — at most seven questions"
        )
        await panel.locator("[data-capture=confirmed]").select_option("Yes")
        await next_stage(page, "Presentation — benefits, price at the end")

        # 7. The price: deflect twice, answer on the third ask, or at once if insisted.
        ask = panel.locator(".price-ask")
        await ask.click()
        await expect(panel.locator(".price-advice")).to_have_attribute("data-advice", "deflect")
        await panel.locator(".price-insists").check()
        await expect(panel.locator(".price-advice")).to_have_attribute("data-advice", "answer")
        await panel.locator(".price-insists").uncheck()
        await ask.click()
        await expect(panel.locator(".price-advice")).to_have_attribute("data-advice", "deflect")
        await ask.click()
        await expect(panel.locator(".price-advice")).to_have_attribute("data-advice", "answer")
        await expect(ask).to_contain_text("(3)")

        # The objection library, from any stage.
        await panel.locator("details.objections > summary").click()
        await panel.locator(".objection-link[data-objection=too_expensive]").click()
        await expect(panel.locator(".objection-view")).to_contain_text(
            f"Expensive compared with what, {SHOWN_NAME}?"
        )

        # 8-9. Aside, then the close: no outcome before a concrete next step.
        await next_stage(page, "A question aside")
        await page.keyboard.press("Alt+n")
        await expect(panel.locator(".stage-title")).to_have_text(
            "Close — agree the next step", timeout=UI_TIMEOUT
        )
        await expect(panel.locator(".close-check")).to_have_attribute("data-problem", "missing")
        await page.locator("#f-outcome").select_option("sale")
        await expect(page.locator("#outcome-problem")).to_be_visible()
        await expect(page.locator("#f-outcome")).to_have_value("")
        assert (await Notes(store.engine).get("walk-1")).outcome is None
        await page.locator("#f-next-step").fill("measurement visit")
        await page.locator("#f-outcome").select_option("sale")  # still no date and time
        await expect(page.locator("#f-outcome")).to_have_value("")
        await expect(panel.locator(".close-check")).to_have_attribute("data-problem", "incomplete")
        await page.locator("#f-next-step-at").fill("2026-11-30T10:00")
        await expect(panel.locator(".close-check")).to_have_attribute("data-problem", "")
        await page.locator("#f-outcome").select_option("sale")
        await expect(page.locator("#save-state")).to_have_text("Kaydedildi", timeout=UI_TIMEOUT)
        await expect(page.locator("#outcome-problem")).to_be_hidden()
        note = await Notes(store.engine).get("walk-1")
        assert note.outcome == "sale" and note.next_step == "measurement visit"
        assert note.answers == answers | {
            "caller_name": SHOWN_NAME,  # stored cleaned of the bidi override
            "phone": "+90 532 111 22 33",
            "confirmed": "Yes",
        }
        # The marks go to the server a moment after the agent's last one.
        progress: dict[str, Any] = {}
        for _ in range(50):
            progress = await scripts.progress("walk-1") or {}
            if progress.get("stage") == "close":
                break
            await asyncio.sleep(0.1)
        assert progress["stage"] == "close" and progress["price_asks"] == 3
        assert sorted(progress["questions"]) == ["q_deadline", "q_finish", "q_rooms"]

        # A reload: the panel comes back where the agent left it.
        await page.reload()
        await expect(panel.locator(".stages li.current")).to_have_text(
            re.compile("Close"), timeout=UI_TIMEOUT
        )
        await expect(panel.locator(".price-ask")).to_contain_text("(3)")
        await expect(panel.locator(".q-total")).to_have_text("3 / 7")
        await panel.locator(".stage-link[data-stage=needs]").click()
        await expect(panel.locator("[data-capture=rooms]")).to_have_value("3")
        await expect(panel.locator("[data-question=q_finish]")).to_be_checked()

        # Nothing hostile ran or became markup.
        assert await page.locator("#script-panel img, #script-panel b").count() == 0
        assert await page.evaluate("window.__xss === undefined")
        assert seen.dialogs == []
        assert seen.console_errors == []


async def test_a_returning_caller_with_an_open_deal_pops_with_the_matching_script(
    aiohttp_server: AiohttpServer, store: CallStore, world: World
) -> None:
    url, push, scripts = await serve(aiohttp_server, store, world, "tr")
    await open_deal_before(store)
    seen = Seen()
    async with open_page(url, seen=seen, login=("alice", PASSWORD)) as page:
        await expect(page.locator("#agent-status")).to_have_attribute(
            "data-status", "available", timeout=UI_TIMEOUT
        )
        push.pops.on_snapshot(call_snapshot("deal-1"))
        card = page.locator("#pops .pop[data-call-id='deal-1']")
        await expect(card.locator(".returning")).to_be_visible(timeout=UI_TIMEOUT)
        _, meeting = await scripts.version("meeting_tr", 1)
        await expect(card.locator(".script")).to_have_text(f"Senaryo: {meeting.name} v1 A")
        await expect(card.locator(".script-reason")).to_have_text(
            f"Neden: DID {DID} → campaign 'Demo advert {DID} (tr)' → rule 'Returning caller "
            f"with an open deal on {DID}' → script '{meeting.name}' v1 → variant A (100%)"
        )
        assert seen.console_errors == []


async def test_a_hostile_caller_id_name_is_spoken_as_literal_text(
    aiohttp_server: AiohttpServer, store: CallStore, world: World
) -> None:
    url, push, _ = await serve(aiohttp_server, store, world, "en")
    await talked_call(store, "hostile-1")
    hostile = "{agent.first_name} <script>window.__xss=3</script> \u202eVural"
    seen = Seen()
    async with open_page(url, seen=seen, login=("alice", PASSWORD)) as page:
        await expect(page.locator("#agent-status")).to_have_attribute(
            "data-status", "available", timeout=UI_TIMEOUT
        )
        talking = call_snapshot("hostile-1", phase="talking", offered_to=(), agent_id="alice")
        push.pops.on_snapshot({**talking, "caller_name": hostile})
        panel = page.locator("#script-panel")
        await expect(panel).to_be_visible(timeout=UI_TIMEOUT)
        await panel.locator(".stage-link[data-stage=first_answer]").click()
        line = panel.locator(".say-line").first
        await expect(line).to_have_text(
            re.compile(r"^\{agent\.first_name\} <script>window\.__xss=3</script> Vural, a flat")
        )
        # The panel's labels follow the agent's language; the script's words stay English.
        await expect(panel.locator(".stage-next")).to_have_text("Sonraki aşama (Alt+N)")
        await page.locator("#lang").select_option("en")
        await expect(panel.locator(".stage-next")).to_have_text("Next stage (Alt+N)")
        await expect(panel.locator(".stages li.current")).to_have_text(re.compile("First answer"))
        await expect(panel.locator(".say-line").first).to_contain_text(", a flat like yours")
        assert await page.locator("#script-panel script").count() == 0
        assert await page.evaluate("window.__xss === undefined")
        assert seen.dialogs == [] and seen.console_errors == []


async def test_the_panel_follows_the_script_the_store_kept_for_the_call(
    aiohttp_server: AiohttpServer, store: CallStore, world: World
) -> None:
    """E.g. after a restart: the call had a script already; the panel switches to it."""
    url, push, scripts = await serve(aiohttp_server, store, world, "en")
    await talked_call(store, "kept-1")
    _, phone_sale = await scripts.version("phone_sale_en", 1)
    earlier = CallScript(
        key="phone_sale_en",
        version=1,
        variant="A",
        name=phone_sale.name,
        language="en",
        reason=["assigned before the restart"],
        body=phone_sale,
    )
    await scripts.assign("kept-1", earlier)
    seen = Seen()
    async with open_page(url, seen=seen, login=("alice", PASSWORD)) as page:
        await expect(page.locator("#agent-status")).to_have_attribute(
            "data-status", "available", timeout=UI_TIMEOUT
        )
        push.pops.on_snapshot(call_snapshot("kept-1"))
        card = page.locator("#pops .pop[data-call-id='kept-1']")
        await expect(card.locator(".script")).to_contain_text("Inbound sale", timeout=UI_TIMEOUT)
        talking = call_snapshot("kept-1", phase="talking", offered_to=(), agent_id="alice")
        push.pops.on_snapshot({**talking, "answered_at": "2026-11-27T09:09:00+00:00"})
        panel = page.locator("#script-panel")
        await expect(panel.locator(".script-name")).to_have_text(
            f"Senaryo: {phone_sale.name}", timeout=UI_TIMEOUT
        )
        await expect(panel.locator(".script-reason")).to_have_text(
            "Neden bu senaryo: assigned before the restart"
        )
        assert seen.console_errors == []


async def test_a_reason_for_no_next_step_typed_then_the_outcome_at_once(
    aiohttp_server: AiohttpServer, store: CallStore, world: World
) -> None:
    url, push, scripts = await serve(aiohttp_server, store, world, "en")
    await talked_call(store, "none-1")
    seen = Seen()
    async with open_page(url, seen=seen, login=("alice", PASSWORD)) as page:
        await expect(page.locator("#agent-status")).to_have_attribute(
            "data-status", "available", timeout=UI_TIMEOUT
        )
        talking = call_snapshot("none-1", phase="talking", offered_to=(), agent_id="alice")
        push.pops.on_snapshot({**talking, "answered_at": "2026-11-27T09:09:00+00:00"})
        panel = page.locator("#script-panel")
        await panel.locator(".stage-link[data-stage=close]").click(timeout=UI_TIMEOUT)
        await expect(panel.locator(".close-check")).to_have_attribute("data-problem", "missing")
        # The reason, then the outcome straight away: the marks go first, the server agrees.
        await page.locator("#f-no-next-step").fill("wrong number")
        await page.locator("#f-outcome").select_option("lost")
        await expect(page.locator("#save-state")).to_have_text("Kaydedildi", timeout=UI_TIMEOUT)
        await expect(panel.locator(".close-check")).to_have_attribute("data-problem", "")
        await expect(panel.locator(".close-state")).to_contain_text("wrong number")
        assert (await Notes(store.engine).get("none-1")).outcome == "lost"
        progress = await scripts.progress("none-1")
        assert progress is not None and progress["no_next_step_reason"] == "wrong number"
        await expect(page.locator("#outcome-problem")).to_be_hidden()
        assert seen.console_errors == []
