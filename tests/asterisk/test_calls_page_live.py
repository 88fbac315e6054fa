"""The calls page in a real Chromium, fed by the service on a real PBX: a call rings, is
talked and ends on screen; the ARI badge follows the socket to Asterisk."""

from __future__ import annotations

import math
import re

import pytest
from playwright.async_api import Page, expect

from telephony.auth import ensure_user
from telephony.world.controller import PhoneBehaviour, World

from ..browser import Seen, open_page
from .conftest import AGENTS, RunningService, StartService
from .proxy import CuttableProxy

pytestmark = [pytest.mark.asterisk, pytest.mark.browser]

DID = "908501234567"
NUMBER = "+905551112233"
NAME = "<b>Ayşe</b> & co"
AGENT_NAMES = {str(a["id"]): str(a["name"]) for a in AGENTS}
# Real Asterisk, a page polling once a second: generous, but each wait ends as soon as it holds.
MS = 1000
UI_TIMEOUT = 10 * MS
RECONNECT_TIMEOUT = 30 * MS  # the ARI stream backs off (jittered, growing) while cut

# Every state pill the live table ever rendered, in order: a poll can fall between two
# of them, but the page must never show a talking call as ringing again.
RECORD_STATES = """() => {
  window.__states = [];
  const body = document.querySelector("#live-calls tbody");
  const note = () => {
    for (const pill of body.querySelectorAll("tr[data-call-id] .state")) {
      window.__states.push(pill.textContent);
    }
  };
  note();
  new MutationObserver(note).observe(body, { childList: true, subtree: true });
}"""


# The page needs a login: a supervisor made in the service's own database.
WEB_USER = "supervisor"
WEB_PASSWORD = "live page pass phrase"


async def web_login(service: RunningService) -> tuple[str, str]:
    await ensure_user(service.runtime.store, WEB_USER, WEB_PASSWORD, "supervisor")
    return WEB_USER, WEB_PASSWORD


async def test_live_call_rings_talks_and_ends_on_the_page(
    world: World, start_service: StartService
) -> None:
    service = await start_service()
    world.set_phone("2001", PhoneBehaviour(answer_after=1.0))
    world.set_phone("2002", PhoneBehaviour(answer_after=1.0))
    seen = Seen()
    async with open_page(f"{service.url}/", seen=seen, login=await web_login(service)) as page:
        badge = page.locator("#ari-state")
        await expect(badge).to_have_text("ARI connected", timeout=UI_TIMEOUT)
        await expect(page.locator("#live-calls tbody")).to_have_text("No live calls")
        await page.evaluate(RECORD_STATES)

        caller = await world.call(DID, NUMBER, NAME)

        # Live: the call shows up (ringing, or already talking if a poll fell in between).
        live_rows = page.locator("#live-calls tr[data-call-id]")
        await expect(live_rows).to_have_count(1, timeout=UI_TIMEOUT)
        call_id = await live_rows.first.get_attribute("data-call-id")
        assert call_id, "the live row carries the call's id"
        live = page.locator(f"#live-calls tr[data-call-id='{call_id}']")
        cells = live.locator("td")
        await expect(cells).to_have_count(6)
        await expect(cells.nth(0)).to_have_text(re.compile(r"^(ringing|talking)$"))
        await expect(live.locator(".caller-name")).to_have_text(NAME)
        await expect(live.locator(".caller-number")).to_have_text(NUMBER)
        await _assert_caller_name_is_text(page)
        await expect(page.locator("#live-count")).to_have_text("(1)")

        # Talking: bridged with an agent, named on the page, the clock running.
        await expect(cells.nth(0)).to_have_text("talking", timeout=UI_TIMEOUT)
        live_calls = service.runtime.live_calls()
        assert [c["id"] for c in live_calls] == [call_id]
        agent_name = AGENT_NAMES[str(live_calls[0]["agent_id"])]
        await expect(cells.nth(3)).to_have_text(agent_name)
        await expect(cells.nth(4)).to_have_text(
            re.compile(r"^talking for [1-9]\d* s$"), timeout=UI_TIMEOUT
        )
        await expect(live.locator(".caller-name")).to_have_text(NAME)
        await _assert_caller_name_is_text(page)
        await expect(badge).to_have_text("ARI connected")
        await expect(badge).to_have_class("badge badge-ok")

        # The caller hangs up: the row leaves Live and lands in Recent.
        await world.hangup(caller)
        record = await service.ended_call()
        assert record.id == call_id and record.outcome == "answered"
        assert record.answered_at is not None and record.ended_at is not None
        await expect(live_rows).to_have_count(0, timeout=UI_TIMEOUT)
        await expect(page.locator("#live-calls tbody")).to_have_text("No live calls")
        await expect(page.locator("#live-count")).to_have_text("")

        recent = page.locator(f"#recent-calls tr[data-call-id='{call_id}']")
        await expect(recent).to_have_count(1, timeout=UI_TIMEOUT)
        row = recent.locator("td")
        await expect(row).to_have_count(9)
        await expect(row.nth(1)).to_have_text(record.did)
        await expect(recent.locator(".caller-name")).to_have_text(NAME)
        await expect(recent.locator(".caller-number")).to_have_text(NUMBER)
        await expect(row.nth(3)).to_have_text(agent_name)
        await expect(row.nth(4)).to_have_text(re.compile(r"^\d+$"))  # rang
        talk = round((record.ended_at - record.answered_at).total_seconds(), 1)
        assert talk >= 1.0
        # Answered by a human before the deadline: "ring r of 6".
        await expect(row.nth(5)).to_have_text(re.compile(r"^ring \d+\.\d of 6$"))
        await expect(row.nth(6)).to_have_text(str(math.floor(talk)))
        await expect(row.nth(7)).to_have_text("answered")
        # The recording, once checked after the call: its status, length and a player.
        await expect(row.nth(8).locator(".rec")).to_have_text("complete", timeout=UI_TIMEOUT)
        await expect(row.nth(8).locator("audio")).to_have_count(1)
        await _assert_caller_name_is_text(page)

        states: list[str] = await page.evaluate("window.__states")
        assert states and states[-1] == "talking", states
        assert "ringing" not in states[states.index("talking") :], states
        await expect(page.locator("#link-state")).to_be_hidden()
        assert seen.dialogs == []
        assert seen.console_errors == []


async def test_ari_badge_follows_the_socket_to_asterisk(
    start_service: StartService, proxy: CuttableProxy
) -> None:
    service = await start_service(ari_url=f"http://127.0.0.1:{proxy.port}")
    seen = Seen()
    async with open_page(f"{service.url}/", seen=seen, login=await web_login(service)) as page:
        badge = page.locator("#ari-state")
        await expect(badge).to_have_text("ARI connected", timeout=UI_TIMEOUT)
        await expect(badge).to_have_class("badge badge-ok")

        await proxy.cut()
        await expect(badge).to_have_text("ARI disconnected", timeout=UI_TIMEOUT)
        await expect(badge).to_have_class("badge badge-bad")
        # The service itself still answers: only ARI is down, not the page's link.
        await expect(page.locator("#link-state")).to_be_hidden()
        await expect(page.locator("#db-state")).to_be_hidden()

        proxy.restore()
        await expect(badge).to_have_text("ARI connected", timeout=RECONNECT_TIMEOUT)
        await expect(badge).to_have_class("badge badge-ok")
        await service.wait_connected()
        await expect(page.locator("#link-state")).to_be_hidden()
        assert seen.dialogs == []
        assert seen.console_errors == []


async def _assert_caller_name_is_text(page: Page) -> None:
    """The markup in the Caller ID name made no elements anywhere in the tables."""
    assert await page.locator("table b").count() == 0
    assert await page.locator("table .caller-name *").count() == 0
