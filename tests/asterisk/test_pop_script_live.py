"""A real call's pop carries its matched script and why (issue 7), on a real PBX, in a
real Chromium: the DID belongs to a campaign, the caller (Caller ID over SIP) has an
open deal from an earlier call, so the campaign's open-deal rule picks the follow-up
script; the pop says so before the desk phone is answered, and once answered the call
keeps it (stored with its reason) and the agent's script panel shows it."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from telephony.auth import ensure_user
from telephony.world.controller import Leg, PhoneBehaviour, World

from ..browser import Seen, open_page
from .conftest import StartService, eventually
from .test_pop_live import AGENT_USER, DID, NAME, NUMBER, PASSWORD, UI_TIMEOUT, _previous_call

pytestmark = [pytest.mark.asterisk, pytest.mark.browser]

CAMPAIGN = "Ceilings — search ads"


async def test_a_real_call_pops_with_the_script_its_campaign_rule_matched(
    world: World, start_service: StartService
) -> None:
    service = await start_service()
    runtime = service.runtime
    await _previous_call(service)  # an offer made two days ago: an open deal
    scripts = runtime.scripts
    await scripts.save_campaign(
        {
            "key": "ceilings",
            "name": CAMPAIGN,
            "source": "search ads",
            "dids": [DID],
            "script": "inbound_sale_en",
        },
        who="test",
    )
    await scripts.set_rules(
        [
            {
                "name": "Open deal: follow up",
                "when": {"campaign": "ceilings", "history": ["open_deal"]},
                "script": "meeting_en",
            }
        ],
        who="test",
    )
    await runtime.push.prepare()
    _, meeting = await scripts.version("meeting_en", 1)
    await ensure_user(runtime.store, AGENT_USER, PASSWORD, "agent", "ayse")
    await runtime.presence.pause("mehmet", "training", "test")
    world.set_phone("2001", PhoneBehaviour(answer_after=None))  # rings until hung up
    seen = Seen()
    async with open_page(
        f"{service.url}/workspace", seen=seen, login=(AGENT_USER, PASSWORD)
    ) as page:
        await expect(page.locator("#agent-status")).to_have_attribute(
            "data-status", "available", timeout=UI_TIMEOUT
        )
        caller = await world.call(DID, NUMBER, NAME)
        card = page.locator("#pops .pop")
        await expect(card).to_have_count(1, timeout=UI_TIMEOUT)
        await expect(card.locator(".caller-name")).to_have_text(NAME)
        await expect(card.locator(".script")).to_have_text(f"Senaryo: {meeting.name} v1 A")
        await expect(card.locator(".source")).to_have_text(f"Kaynak: {CAMPAIGN}")
        await expect(card.locator(".script-reason")).to_have_text(
            f"Neden: DID {DID} → campaign '{CAMPAIGN}' → rule 'Open deal: follow up' → "
            f"script '{meeting.name}' v1 → variant A (100%)"
        )
        legs = world.phone_legs.get("2001", [])
        assert not any(leg.answered.is_set() for leg in legs)  # before the answer

        # Ayşe answers: the call keeps that script, stored with its reason; the panel shows it.
        async def ringing_leg() -> Leg | None:
            legs = world.phone_legs.get("2001", [])
            return legs[-1] if legs and legs[-1].rang.is_set() else None

        leg: Leg = await eventually(ringing_leg, 10, "Ayşe's desk phone to ring")
        [live] = [c for c in runtime.live_calls() if c.get("caller_number") == NUMBER]
        await world.rest.answer(leg.channel_id)
        panel = page.locator("#script-panel")
        await expect(panel.locator(".script-name")).to_have_text(
            f"Senaryo: {meeting.name}", timeout=UI_TIMEOUT
        )

        async def assigned() -> object:
            return await scripts.for_call(str(live["id"]))

        stored = await eventually(assigned, 5, "the call's script to be stored")
        assert stored.key == "meeting_en" and stored.campaign == "ceilings"
        assert stored.reason[2] == "rule 'Open deal: follow up'"
        await world.hangup(caller)
        await expect(page.locator("#agent-status")).not_to_have_attribute(
            "data-status", "busy", timeout=UI_TIMEOUT
        )
        assert seen.console_errors == []
