"""The pop's dates in a real Chromium: the workspace formats them through one formatter
made at page load (the first `toLocaleString()` of a page is slow), and they must read
exactly as `Date.prototype.toLocaleString()` writes them, in the browser's locale
(emulated here, then the page reloaded so that its formatter is made in it)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp import web
from playwright.async_api import expect

from telephony.push.state import Push
from telephony.store.notes import Notes
from telephony.store.repo import CallStore

from ..browser import Seen, open_page
from .conftest import PASSWORD, T0, finished_call
from .test_push_ws import NUMBER, call_snapshot
from .test_workspace_browser import served  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser

UI_TIMEOUT = 5000
AS_THE_BROWSER_WRITES_IT = "(iso) => new Date(iso).toLocaleString()"


@pytest.mark.parametrize("locale", ["tr-TR", "en-US", "de-DE"])
async def test_pop_dates_read_as_to_locale_string(
    served: tuple[str, Push, web.Application],  # noqa: F811
    store: CallStore,
    locale: str,
) -> None:
    url, push, _ = served
    await finished_call(store, "old", number=NUMBER, agent_id="bob")
    next_at = T0 + timedelta(days=2, hours=3, minutes=4, seconds=5)
    await Notes(store.engine).save(
        "old",
        {"next_step": "send the price list", "next_step_at": next_at},
        agent_id="bob",
        by="bob-user",
        caller_number=NUMBER,
    )
    seen = Seen()
    async with open_page(url, seen=seen, login=("alice", PASSWORD)) as page:
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("Emulation.setLocaleOverride", {"locale": locale})
        await page.reload()
        assert await page.evaluate("Intl.DateTimeFormat().resolvedOptions().locale") == locale
        await expect(page.locator("#agent-status")).to_have_attribute(
            "data-status", "available", timeout=UI_TIMEOUT
        )
        push.pops.on_snapshot(call_snapshot("c1"))
        card = page.locator("#pops .pop[data-call-id='c1']")
        arrived = await page.evaluate(AS_THE_BROWSER_WRITES_IT, T0.isoformat())
        await expect(card.locator(".past-date")).to_have_text(arrived, timeout=UI_TIMEOUT)
        due = await page.evaluate(AS_THE_BROWSER_WRITES_IT, next_at.isoformat())
        await expect(card.locator(".past-next")).to_have_text(f"send the price list {due}")
        assert seen.console_errors == []
