"""Grading round trip in a real Chromium: the supervisor opens a call on the statistics
page, its recording plays in the page's own <audio> (seekable), the grade is saved
and listed; an agent's page shows only the agent's figures and no grading form."""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import expect
from pytest_aiohttp import AiohttpServer

from telephony.alarms import Alarms
from telephony.config import AgentConfig
from telephony.store.policy_audit import PolicyAudit
from telephony.store.recordings import RecordingStore
from telephony.store.repo import CallStore
from telephony.web.app import AGENT_UI_DIR
from telephony.web.recordings import RecordingsAccess, add_recording_routes
from telephony.web.stats import add_stats_routes

from ..browser import Seen, open_page
from .conftest import PASSWORD, T0, World, add_user, finished_call

pytestmark = pytest.mark.browser
SECONDS = 3.0


def tone_wav(seconds: float, rate: int = 8000) -> bytes:
    """A 440 Hz tone, mono 16-bit: a real file for the browser to decode."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
        for n in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(frames)
    return out.getvalue()


@pytest.fixture
async def server_url(
    aiohttp_server: AiohttpServer,
    app: web.Application,
    store: CallStore,
    world: World,
    tmp_path: Path,
) -> AsyncIterator[str]:
    await store.upsert_agents([AgentConfig(id="bob", name="Bob", endpoint="PJSIP/b")])
    await finished_call(store, "c-alice", agent_id="alice", recording_name="c-alice")
    await finished_call(store, "c-bob", agent_id="bob")
    kept = RecordingStore(store.engine, lambda: T0)
    await kept.started("c-alice", "c-alice", "wav", 1, T0)
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "c-alice.wav").write_bytes(tone_wav(SECONDS))
    await kept.update("c-alice", status="complete", path="c-alice.wav", duration_s=SECONDS)

    async def agent_of(call_id: str) -> str | None:
        call = await store.get_call(call_id)
        return call.agent_id if call else None

    add_recording_routes(
        app,
        RecordingsAccess(
            store=kept,
            root=tmp_path / "rec",
            alarms=Alarms(lambda: T0),
            pause_allowed=False,
            mute=None,
            agent_of=agent_of,
            live=lambda call_id: False,
            clock=world.clock,
        ),
    )
    add_stats_routes(
        app,
        engine=store.engine,
        audit=PolicyAudit(store.engine),
        page=AGENT_UI_DIR / "stats.html",
        now=world.clock,
        refresh_every_s=None,
    )
    await add_user(app, "sup", role="supervisor")
    await add_user(app, "alice", role="agent", agent_id="alice")
    server = await aiohttp_server(app)
    yield str(server.make_url("/"))


async def test_supervisor_plays_the_recording_seeks_and_grades(server_url: str) -> None:
    seen = Seen()
    url = server_url + "stats?call=c-alice"
    async with open_page(url, seen=seen, login=("sup", PASSWORD)) as page:
        audio = page.locator("#audio")
        await expect(audio).to_be_visible()
        played = await audio.evaluate(
            """async (audio) => {
                if (audio.readyState < 1) {
                  await new Promise((ok, fail) => {
                    audio.onloadedmetadata = ok; audio.onerror = () => fail(audio.error);
                  });
                }
                audio.currentTime = 2;
                await new Promise((ok) => { audio.onseeked = ok; });
                return {duration: audio.duration, at: audio.currentTime};
            }"""
        )
        assert abs(played["duration"] - SECONDS) < 0.1
        assert played["at"] >= 1.9
        await page.locator("input[name='q-greeted'][value='true']").check()
        await page.locator("input[name='q-next_step'][value='false']").check()
        await page.locator("#mystery").check()
        await page.locator("#scenario").select_option("price_first")
        await expect(page.locator("#scenario-text")).to_contain_text("Asks the price")
        await page.locator("#grade button[type=submit]").click()
        row = page.locator("#revisions tbody tr").first.locator("td")
        await expect(row.nth(2)).to_have_text("50.0%")
        await expect(row.nth(3)).to_have_text("price_first")
        assert seen.dialogs == []
        assert seen.console_errors == []


async def test_an_agent_sees_only_her_figures_and_no_grading(server_url: str) -> None:
    seen = Seen()
    async with open_page(server_url + "stats", seen=seen, login=("alice", PASSWORD)) as page:
        await expect(page.locator("#agent")).to_be_disabled()
        await expect(page.locator("#agent")).to_have_value("alice")
        await page.locator("#since").fill("2026-11-27")
        await page.locator("#until").fill("2026-11-27")
        await page.locator("#group_by").select_option("agent")
        await page.locator("#filters button[type=submit]").click()
        await expect(page.locator("#figures tbody tr td").first).to_have_text("alice")
        await expect(page.locator("#figures tbody tr")).to_have_count(1)
        await expect(page.locator("#grading-section")).to_be_hidden()
        await expect(page.locator("#costs-section")).to_be_hidden()
        assert seen.console_errors == []


async def test_admin_edits_the_form_and_enters_spend(server_url: str, app: web.Application) -> None:
    await add_user(app, "boss", role="admin")
    seen = Seen()
    async with open_page(server_url + "stats", seen=seen, login=("boss", PASSWORD)) as page:
        await expect(page.locator("#form-version")).to_have_text("version 0")
        hostile = "<img src=x onerror=alert(1)> smiled"
        questions = f'[{{"id": "smiled", "text": "{hostile}", "group": "tone"}}]'
        await page.locator("#form-json").fill(questions)
        await page.locator("#form-editor button[type=submit]").click()
        await expect(page.locator("#form-version")).to_have_text("version 1")
        await expect(page.locator("#questions legend")).to_have_text([f"tone: {hostile}"])
        await page.locator("#form-json").fill('[{"id": "Bad id", "text": "x"}]')
        await page.locator("#form-editor button[type=submit]").click()
        await expect(page.locator("#status")).to_contain_text("questions[0].id = 'Bad id'")
        await page.locator("#since").fill("2026-11-27")
        await page.locator("#until").fill("2026-11-27")
        spend = page.locator("#spend")
        await spend.locator("input[name=did]").fill("+902120000000")
        await spend.locator("input[name=month]").fill("2026-11")
        await spend.locator("input[name=amount]").fill("200")
        await spend.locator("button[type=submit]").click()
        cells = page.locator("#costs tbody tr").first.locator("td")
        await expect(cells.nth(2)).to_have_text("200 TRY")
        await expect(cells.nth(5)).to_have_text("100")  # 200 over the 2 calls
        assert await page.locator("img").count() == 0
        assert seen.dialogs == []
