"""The statistics page in a real Chromium: hostile names stay text, the figures, the
funnel and the ring histogram are drawn, a supervisor grades a call on the form."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Page, expect
from pytest_aiohttp import AiohttpServer

from telephony.config import AgentConfig
from telephony.store.policy_audit import PolicyAudit
from telephony.store.repo import CallStore
from telephony.web.app import AGENT_UI_DIR
from telephony.web.stats import add_stats_routes

from ..browser import Seen, open_page
from .conftest import PASSWORD, World, add_user, finished_call

XSS = "<img src=x onerror=alert(1)><b>Bold</b>"

pytestmark = pytest.mark.browser


@pytest.fixture
async def page(
    aiohttp_server: AiohttpServer, app: web.Application, store: CallStore, world: World
) -> AsyncIterator[tuple[Page, Seen]]:
    await store.upsert_agents([AgentConfig(id="evil", name=XSS, endpoint="PJSIP/e")])
    await finished_call(store, "c-alice", agent_id="alice")
    await finished_call(store, "c-evil", agent_id="evil", name=XSS)
    await finished_call(store, "c-lost", answered_after=None, outcome="abandoned")
    await store.update_call("c-lost", abandoned_ring=1.5)
    add_stats_routes(
        app,
        engine=store.engine,
        audit=PolicyAudit(store.engine),
        page=AGENT_UI_DIR / "stats.html",
        now=world.clock,
        refresh_every_s=None,
    )
    await add_user(app, "sup", role="supervisor")
    server = await aiohttp_server(app)
    seen = Seen()
    async with open_page(
        str(server.make_url("/stats")), seen=seen, login=("sup", PASSWORD)
    ) as view:
        await view.locator("#since").fill("2026-11-27")
        await view.locator("#until").fill("2026-11-27")
        await view.locator("#group_by").select_option("agent")
        await view.locator("#filters button[type=submit]").click()
        await expect(view.locator("#figures tbody tr")).to_have_count(3)
        yield view, seen


async def test_figures_funnel_and_rings_drawn_names_as_text(page: tuple[Page, Seen]) -> None:
    view, seen = page
    keys = view.locator("#figures tbody tr td:first-child")
    await expect(keys).to_have_text(["", "alice", "evil"])
    await expect(view.locator("#agent option", has_text=XSS)).to_have_count(1)
    await expect(view.locator("#funnel .bar")).to_have_count(4)
    await expect(view.locator("#funnel > span").nth(1)).to_have_text("3")  # incoming
    await expect(view.locator("#rings > span").first).to_have_text("ring 1")
    width = await view.locator("#funnel .bar").first.evaluate("e => e.style.width")
    assert width == "100%"
    assert await view.locator("img").count() == 0
    assert await view.locator("b").count() == 0
    assert seen.dialogs == []
    assert seen.console_errors == []


async def test_bad_range_shows_the_servers_message(page: tuple[Page, Seen]) -> None:
    view, _ = page
    await view.locator("#since").fill("2026-12-01")
    await view.locator("#filters button[type=submit]").click()
    await expect(view.locator("#status")).to_contain_text("since must come first")


async def test_supervisor_grades_a_call(page: tuple[Page, Seen]) -> None:
    view, seen = page
    await view.locator("#call-id").fill("c-evil")
    await view.locator("#open-call button").click()
    await expect(view.locator("#grade")).to_be_visible()
    await view.locator("input[name='q-greeted'][value='true']").check()
    await view.locator("input[name='q-asked_name'][value='false']").check()
    await view.locator("#comment").fill(XSS)
    await view.locator("#grade button[type=submit]").click()
    revisions = view.locator("#revisions tbody tr")
    await expect(revisions).to_have_count(1)
    await expect(revisions.first.locator("td").nth(2)).to_have_text("50.0%")
    await expect(revisions.first.locator("td").nth(6)).to_have_text(XSS)
    await expect(view.locator("#scores tbody tr td").first).to_have_text("evil")
    assert await view.locator("img").count() == 0
    assert seen.dialogs == []


async def test_csv_export_matches_the_api(page: tuple[Page, Seen]) -> None:
    view, _ = page
    async with view.expect_download() as download_info:
        await view.locator("#csv").click()
    download = await download_info.value
    path = await download.path()
    rows = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    api = await view.evaluate(
        """async () => (await (await fetch(
            "/api/stats/figures?since=2026-11-27&until=2026-11-27&group_by=agent"
        )).json()).rows"""
    )
    assert rows[0][:3] == ["Group", "Incoming", "Answered"]
    assert [(r[0], int(r[1]), int(r[2])) for r in rows[1:]] == [
        (a["key"], a["calls"]["incoming"], a["calls"]["answered_by_human"]) for a in api
    ]


async def test_a_time_series_when_grouped_by_period(page: tuple[Page, Seen]) -> None:
    view, _ = page
    await expect(view.locator("#series-section")).to_be_hidden()  # grouped by agent
    await view.locator("#group_by").select_option("day")
    await view.locator("#filters button[type=submit]").click()
    await expect(view.locator("#series-section")).to_be_visible()
    await expect(view.locator("#series > span").first).to_have_text("2026-11-27 · 0 sold")
    await expect(view.locator("#series .bar")).to_have_count(1)
