"""The calls page in a real Chromium: hostile Caller ID stays text, layout holds.

Needs Debian's Chromium at /usr/bin/chromium (`apt-get install -y chromium`).
Without it this test fails on purpose: a skipped browser test proves nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import web
from playwright.async_api import Page, expect
from pytest_aiohttp import AiohttpServer

from telephony.store.repo import CallStore

from ..browser import VIEWPORT, Seen, open_page
from .conftest import PASSWORD, T0, World, add_user, finished_call, live_call

XSS = "<img src=x onerror=alert(1)><b>Bold</b>"
LONG = "Ş" + "x" * 199

pytestmark = pytest.mark.browser


@pytest.fixture
async def page_url(
    aiohttp_server: AiohttpServer, app: web.Application, store: CallStore, world: World
) -> str:
    await finished_call(store, "xss", name=XSS)
    await finished_call(store, "long", name=LONG, start=T0 + timedelta(minutes=1))
    await finished_call(
        store,
        "anon",
        number="anonymous",
        name="",
        start=T0 + timedelta(minutes=2),
        answered_after=None,
        ended_after=9,
        outcome="abandoned",
    )
    # The app's clock says 09:10:00 (World.now).
    world.live = [
        live_call(
            "live-long",
            phase="talking",
            name=LONG,  # not capped by the store: the page must cope anyway
            arrived_at=T0 + timedelta(minutes=9),
            answered_at=T0 + timedelta(minutes=9, seconds=17.6),
            agent_id="alice",
        ),
        live_call(
            "live-anon",
            phase="offering",
            number=None,
            name=XSS,
            arrived_at=T0 + timedelta(minutes=9, seconds=57),
        ),
    ]
    await add_user(app, "sue", role="supervisor")  # the calls page: everyone's calls
    server = await aiohttp_server(app)
    return str(server.make_url("/"))


@pytest.fixture
async def page(page_url: str) -> AsyncIterator[tuple[Page, Seen]]:
    seen = Seen()
    async with open_page(page_url, seen=seen, login=("sue", PASSWORD)) as page:
        # Wait for the first render of both tables.
        await expect(page.locator("#recent-calls tr[data-call-id]")).to_have_count(3)
        await expect(page.locator("#live-calls tr[data-call-id]")).to_have_count(2)
        yield page, seen


async def test_markup_in_caller_name_is_shown_as_text(page: tuple[Page, Seen]) -> None:
    view, seen = page
    await expect(view.locator("tr[data-call-id='xss'] .caller-name")).to_have_text(XSS)
    await expect(view.locator("tr[data-call-id='live-anon'] .caller-name")).to_have_text(XSS)
    await asyncio.sleep(2.5)  # a few more polls: re-renders must stay inert too
    assert await view.locator("img").count() == 0
    assert await view.locator("table b").count() == 0
    assert seen.dialogs == []
    assert seen.console_errors == []


async def test_long_name_is_cut_without_breaking_the_layout(page: tuple[Page, Seen]) -> None:
    view, _ = page
    for call_id, full in (("long", LONG[:80]), ("live-long", LONG)):
        name = view.locator(f"tr[data-call-id='{call_id}'] .caller-name")
        await expect(name).to_have_text(full)  # all there, just clipped on screen
        clipped = await name.evaluate(
            "e => [getComputedStyle(e).textOverflow, e.scrollWidth > e.clientWidth]"
        )
        assert clipped == ["ellipsis", True]
        row = await view.locator(f"tr[data-call-id='{call_id}']").bounding_box()
        assert row is not None and row.get("height", 0) < 80  # two short lines, no wrapping
    page_width = await view.evaluate("document.documentElement.scrollWidth")
    assert page_width <= VIEWPORT["width"]
    for table in ("#live-calls", "#recent-calls"):
        box = await view.locator(table).bounding_box()
        assert box is not None and box["x"] + box["width"] <= VIEWPORT["width"]


async def test_anonymous_caller_shows_anonymous(page: tuple[Page, Seen]) -> None:
    view, _ = page
    await expect(view.locator("tr[data-call-id='anon'] td.caller")).to_have_text("anonymous")
    await expect(view.locator("tr[data-call-id='live-anon'] .caller-number")).to_have_text(
        "anonymous"
    )
    await expect(view.locator("tr[data-call-id='xss'] .caller-number")).to_have_text(
        "+905551112233"
    )


async def test_live_and_recent_columns(page: tuple[Page, Seen]) -> None:
    view, _ = page
    live = view.locator("tr[data-call-id='live-long'] td")
    await expect(live).to_have_count(6)
    await expect(live.nth(0)).to_have_text("talking")
    await expect(live.nth(3)).to_have_text("Alice")  # name added by /api/calls
    await expect(live.nth(4)).to_have_text("talking for 42 s")
    ringing = view.locator("tr[data-call-id='live-anon'] td")
    await expect(ringing.nth(0)).to_have_text("ringing")  # phase "offering", caller's view
    await expect(ringing.nth(3)).to_have_text("—")
    await expect(ringing.nth(4)).to_have_text("ringing for 3 s")
    recent = view.locator("tr[data-call-id='xss'] td")
    await expect(recent).to_have_count(9)
    await expect(recent.nth(3)).to_have_text("Alice")
    await expect(recent.nth(4)).to_have_text("4")
    await expect(recent.nth(5)).to_have_text("—")  # no ring data for this call
    await expect(recent.nth(6)).to_have_text("60")
    await expect(recent.nth(7)).to_have_text("answered")
    await expect(view.locator("#live-count")).to_have_text("(2)")


async def test_ari_badge_follows_healthz(page: tuple[Page, Seen], world: World) -> None:
    view, _ = page
    badge = view.locator("#ari-state")
    await expect(badge).to_have_text("ARI connected")
    await expect(badge).to_have_class("badge badge-ok")
    assert await badge.evaluate("e => getComputedStyle(e).color") == "rgb(6, 118, 71)"

    world.ari = "disconnected"
    await expect(badge).to_have_text("ARI disconnected", timeout=5000)
    await expect(badge).to_have_class("badge badge-bad")
    assert await badge.evaluate("e => getComputedStyle(e).color") == "rgb(180, 35, 24)"
    await expect(view.locator("#db-state")).to_be_hidden()

    world.db = False
    await expect(view.locator("#db-state")).to_be_visible(timeout=5000)
