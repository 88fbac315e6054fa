"""The external CRM on a real PBX, in a real Chromium: a SIP caller rings, the pop is on
the agent's screen, then the CRM's fields (slowed down by the CRM) join it — as text,
whatever markup the CRM sends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from telephony.auth import ensure_user
from telephony.world.controller import PhoneBehaviour, World

from ..browser import Seen, open_page
from .conftest import StartService

pytestmark = [pytest.mark.asterisk, pytest.mark.browser]

DID = "908502220001"
NUMBER = "+905321114455"
PASSWORD = "crm test pass phrase"
HOSTILE = '<img src=x onerror="window.__crm_xss=1">'
UI_TIMEOUT = 10_000


@pytest.fixture
async def crm_url() -> AsyncIterator[tuple[str, list[str]]]:
    asked: list[str] = []

    async def lookup(request: web.Request) -> web.Response:
        asked.append(request.query.get("phone", ""))
        await asyncio.sleep(0.5)  # slower than the pop: the fields come as an update
        return web.json_response({"Customer": HOSTILE, "Segment": "VIP"})

    app = web.Application()
    app.router.add_get("/lookup", lookup)
    server = TestServer(app)
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}/lookup?phone={{e164}}", asked
    await server.close()


async def test_crm_fields_follow_the_pop_as_text(
    world: World, start_service: StartService, crm_url: tuple[str, list[str]]
) -> None:
    url, asked = crm_url
    service = await start_service(crm_lookup_url=url, crm_timeout_s=2.0)
    await ensure_user(service.runtime.store, "ayse-crm", PASSWORD, "agent", "ayse")
    await service.runtime.presence.pause("mehmet", "training", "test")
    world.set_phone("2001", PhoneBehaviour(answer_after=None))
    seen = Seen()
    async with open_page(
        f"{service.url}/workspace", seen=seen, login=("ayse-crm", PASSWORD)
    ) as page:
        status = page.locator("#agent-status")
        await expect(status).to_have_attribute("data-status", "available", timeout=UI_TIMEOUT)
        caller = await world.call(DID, NUMBER, "CRM Caller")
        pop = page.locator("#pops .pop")
        await expect(pop).to_have_count(1, timeout=UI_TIMEOUT)
        await expect(pop.locator(".crm-box")).to_have_count(0)  # the pop did not wait
        await expect(pop.locator(".crm-box dd").first).to_have_text(HOSTILE, timeout=UI_TIMEOUT)
        await expect(pop.locator(".crm-box dd").nth(1)).to_have_text("VIP")
        assert await page.evaluate("window.__crm_xss") is None
        assert asked == [NUMBER]
        await world.hangup(caller)
    assert seen.console_errors == [] and seen.dialogs == []
