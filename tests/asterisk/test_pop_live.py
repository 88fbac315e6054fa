"""The screen pop on a real PBX, in a real Chromium: a returning caller rings, the
agent's workspace shows the caller's name and previous call before the desk phone is
answered; typed fields survive a reload; hangup → wrap-up → outcome → available. A
frozen supervisor tab connected meanwhile delays nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from playwright.async_api import expect

from telephony.auth import ensure_user
from telephony.calls.agents import AgentStatus
from telephony.store.notes import Notes
from telephony.world.controller import Leg, PhoneBehaviour, World

from ..browser import Seen, open_page
from .conftest import RunningService, StartService, eventually

pytestmark = [pytest.mark.asterisk, pytest.mark.browser]

DID = "908502220001"
NUMBER = "+905321112233"
NAME = "Ali Vural"
AGENT_USER = "ayse-user"
PASSWORD = "pop test pass phrase"
UI_TIMEOUT = 10_000


async def _previous_call(service: RunningService) -> None:
    store = service.runtime.store
    start = datetime.now(UTC) - timedelta(days=2)
    await store.call_arrived(
        call_id="prev-1",
        did=DID,
        caller_number_raw=NUMBER,
        caller_name_raw=NAME,
        caller_channel_id="gone",
        arrived_at=start,
    )
    await store.update_call(
        "prev-1",
        agent_id="ayse",
        ringing_at=start + timedelta(seconds=1),
        answered_at=start + timedelta(seconds=5),
        ended_at=start + timedelta(seconds=125),
        outcome="answered",
        hangup_by="caller",
    )
    await Notes(store.engine).save(
        "prev-1",
        {"notes": "wants 3 offices", "next_step": "send the price list", "outcome": "offer_made"},
        agent_id="ayse",
        by="ayse-user",
        caller_number=NUMBER,
    )


async def _frozen_supervisor(service: RunningService) -> aiohttp.ClientSession:
    """A supervisor's tab that connected, then stopped reading."""
    await ensure_user(service.runtime.store, "sup", PASSWORD, "supervisor")
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # 127.0.0.1
    login = await http.post(f"{service.url}/login", json={"username": "sup", "password": PASSWORD})
    assert login.status == 200
    ws = await http.ws_connect(f"{service.url}/ws", origin=service.url)
    assert ws._response.connection is not None
    ws._response.connection.transport.pause_reading()  # type: ignore[union-attr]
    return http


async def test_pop_with_history_before_answer_fields_survive_reload_and_wrapup(
    world: World, start_service: StartService
) -> None:
    service = await start_service(wrapup_s=60.0)
    await _previous_call(service)
    await ensure_user(service.runtime.store, AGENT_USER, PASSWORD, "agent", "ayse")
    # Only Ayşe is offered calls; her desk phone rings until the test answers it.
    await service.runtime.presence.pause("mehmet", "training", "test")
    world.set_phone("2001", PhoneBehaviour(answer_after=None))
    seen = Seen()
    frozen = await _frozen_supervisor(service)
    try:
        async with open_page(
            f"{service.url}/workspace", seen=seen, login=(AGENT_USER, PASSWORD)
        ) as page:
            status = page.locator("#agent-status")
            await expect(status).to_have_attribute("data-status", "available", timeout=UI_TIMEOUT)

            caller = await world.call(DID, NUMBER, NAME)
            pop = page.locator("#pops .pop")
            await expect(pop).to_have_count(1, timeout=UI_TIMEOUT)
            await expect(pop.locator(".caller-name")).to_have_text(NAME)
            await expect(pop.locator(".caller-number")).to_have_text("+90 532 111 22 33")
            await expect(pop.locator(".returning")).to_be_visible()
            await expect(pop.locator(".past-notes")).to_have_text("wants 3 offices")
            await expect(pop.locator(".past-next")).to_contain_text("send the price list")
            await expect(pop.locator(".past-agent")).to_have_text("Ayşe Yılmaz")
            await expect(pop.locator(".countdown")).to_contain_text(" ")
            # All of it is on screen while the desk phone has not been answered.
            legs = world.phone_legs.get("2001", [])
            assert not any(leg.answered.is_set() for leg in legs)

            async def ringing_leg() -> Leg | None:
                legs = world.phone_legs.get("2001", [])
                return legs[-1] if legs and legs[-1].rang.is_set() else None

            leg: Leg = await eventually(ringing_leg, 10, "Ayşe's desk phone to ring")
            await world.rest.answer(leg.channel_id)

            # Talking: the call panel with the fields; the pop has become the call.
            await expect(page.locator("#call")).to_be_visible(timeout=UI_TIMEOUT)
            await expect(pop).to_have_count(0)
            await expect(page.locator("#call-name")).to_have_text(NAME)
            await expect(page.locator("#call-timer")).to_have_text(
                re.compile(r"^\d+:\d\d$"), timeout=UI_TIMEOUT
            )
            await page.locator("#f-needs").fill("a quote for 3 offices")
            await page.locator("#f-q-budget").fill("50 000 TL")
            await expect(page.locator("#save-state")).to_have_attribute(
                "data-saved", "yes", timeout=UI_TIMEOUT
            )
            await expect(page.locator("#save-state")).to_have_text("Kaydedildi")
            # "I'll call you back in 15 minutes": a callback task of Ayşe's for this caller.
            await page.locator("#promise-callback").click()
            await expect(page.locator("#promise-state")).to_have_attribute(
                "data-task-id", re.compile(r"^\d+$"), timeout=UI_TIMEOUT
            )
            [task] = await service.runtime.callbacks.list_tasks(agent_id="ayse")
            assert task.number == NUMBER and task.did == DID and task.status == "pending"

            # A reload: the typed answers come back from the store.
            await page.reload()
            await expect(page.locator("#f-needs")).to_have_value(
                "a quote for 3 offices", timeout=UI_TIMEOUT
            )
            await expect(page.locator("#f-q-budget")).to_have_value("50 000 TL")

            # The caller hangs up: wrap-up (no offers) until the outcome is set.
            await world.hangup(caller)
            await expect(status).to_have_attribute("data-status", "wrapup", timeout=UI_TIMEOUT)
            await expect(page.locator("#wrapup")).to_be_visible()
            slot = service.runtime.presence.pool.get("ayse")
            assert slot is not None and slot.status is AgentStatus.WRAPUP
            # The call's script (the shipped default) wants a concrete next step first.
            await page.locator("#f-next-step").fill("measurement visit")
            await page.locator("#f-next-step-at").fill("2026-12-01T10:00")
            await page.locator("#f-outcome").select_option("sale")
            await expect(status).to_have_attribute("data-status", "available", timeout=UI_TIMEOUT)
            assert service.runtime.presence.snapshot()[0]["status"] == "available"
            record = await service.ended_call()
            note = await Notes(service.runtime.store.engine).get(record.id)
            assert note.outcome == "sale" and note.needs == "a quote for 3 offices"
            assert note.answers == {"budget": "50 000 TL"}
            assert seen.dialogs == []
            assert seen.console_errors == []
    finally:
        await frozen.close()
