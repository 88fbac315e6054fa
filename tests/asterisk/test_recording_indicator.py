"""The recording indicator on the agent's page, on a real PBX in a real Chromium: the
call is shown as recording once answered; the agent pauses it (a caller reads out card
details) and resumes it; the recording's row has the pause, and the file is complete."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from telephony.auth import ensure_user
from telephony.world.controller import Leg, PhoneBehaviour, World

from ..browser import Seen, open_page
from .conftest import AGENT_TONE, CALLER_TONE, StartService, eventually

pytestmark = [pytest.mark.asterisk, pytest.mark.browser]

DID = "908501234567"
PASSWORD = "recording indicator pass"
UI_TIMEOUT = 10_000


async def test_the_agent_sees_the_recording_and_pauses_it(
    world: World, start_service: StartService
) -> None:
    service = await start_service()
    await ensure_user(service.runtime.store, "ayse-rec", PASSWORD, "agent", "ayse")
    await service.runtime.presence.pause("mehmet", "training", "test")
    world.set_phone("2001", PhoneBehaviour(answer_after=None, tone_hz=AGENT_TONE))
    seen = Seen()
    async with open_page(
        f"{service.url}/workspace", seen=seen, login=("ayse-rec", PASSWORD)
    ) as page:
        status = page.locator("#agent-status")
        await expect(status).to_have_attribute("data-status", "available", timeout=UI_TIMEOUT)
        caller = await world.call(DID, "+905551116677", "Kart", tone_hz=CALLER_TONE)

        async def ringing_leg() -> Leg | None:
            legs = world.phone_legs.get("2001", [])
            return legs[-1] if legs and legs[-1].rang.is_set() else None

        leg: Leg = await eventually(ringing_leg, 10, "the desk phone to ring")
        await world.rest.answer(leg.channel_id)
        state = page.locator("#rec-state")
        await expect(state).to_have_attribute("data-state", "on", timeout=UI_TIMEOUT)
        await page.locator("#rec-toggle").click()
        await expect(state).to_have_attribute("data-state", "paused", timeout=UI_TIMEOUT)
        await asyncio.sleep(1.0)
        await page.locator("#rec-toggle").click()
        await expect(state).to_have_attribute("data-state", "on", timeout=UI_TIMEOUT)
        await asyncio.sleep(1.0)
        await world.hangup(caller)
    record = await service.ended_call(number="+905551116677")
    kept = await service.checked_recording(record.id, timeout=30)
    assert kept.status == "complete", kept.detail
    assert len(kept.pauses) == 1 and kept.pauses[0]["until"] is not None
    assert seen.console_errors == [] and seen.dialogs == []
