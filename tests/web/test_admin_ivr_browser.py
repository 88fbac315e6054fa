"""The call-flow admin page in a real Chromium: a new DID gets the example menu, a bad
flow shows every problem by field and changes nothing, a good one is in force at once.

Needs Debian's Chromium at /usr/bin/chromium (see tests/browser.py); fails without it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Page, expect
from pytest_aiohttp import AiohttpServer

from telephony.calls.ivr_runtime import IvrRuntime
from telephony.store.callbacks import CallbackStore
from telephony.store.repo import CallStore
from telephony.web.admin_ivr import add_ivr_routes
from telephony.web.app import AGENT_UI_DIR

from ..browser import Seen, open_page
from .conftest import PASSWORD, T0, add_user

pytestmark = pytest.mark.browser


@pytest.fixture
async def ivr(store: CallStore, tmp_path: Path) -> AsyncIterator[IvrRuntime]:
    runtime = IvrRuntime(
        engine=store.engine,
        callbacks=CallbackStore(store.engine),
        sounds_dir=tmp_path / "sounds",
        pbx_sounds_dir=None,
        default_region="TR",
        app="thirdring",
        clock=lambda: T0,
    )
    yield runtime
    await runtime.close()


@pytest.fixture
async def base_url(aiohttp_server: AiohttpServer, app: web.Application, ivr: IvrRuntime) -> str:
    add_ivr_routes(app, ivr=ivr, page=AGENT_UI_DIR / "admin_ivr.html")
    await add_user(app, "root", role="admin")
    server = await aiohttp_server(app)
    return str(server.make_url("/")).rstrip("/")


async def _log_in(page: Page, base_url: str) -> None:
    await page.locator("#username").fill("root")
    await page.locator("#password").fill(PASSWORD)
    await page.locator("#login-submit").click()
    await expect(page).to_have_url(f"{base_url}/")
    await page.goto(f"{base_url}/admin/ivr")


async def test_an_admin_adds_a_menu_to_a_did(base_url: str, ivr: IvrRuntime) -> None:
    seen = Seen()
    async with open_page(f"{base_url}/admin/ivr", seen=seen) as page:
        await _log_in(page, base_url)
        await expect(page.locator("#history tbody")).to_contain_text("No flows yet")
        await page.locator("#new-did").fill("908502220001")
        example = json.loads(await page.locator("#flow").input_value())
        assert example["nodes"]["menu"]["kind"] == "menu"

        broken = {**example, "start": "nowhere"}
        await page.locator("#flow").fill(json.dumps(broken))
        await page.locator("#save").click()
        await expect(page.locator("#status")).to_have_text(
            "Not saved: the flow in force is unchanged."
        )
        await expect(page.locator("#errors li").first).to_contain_text(
            "start = 'nowhere': no such node"
        )
        assert ivr.flows.flow_for("908502220001") is None

        await page.locator("#flow").fill(json.dumps(example))
        await page.locator("#save").click()
        await expect(page.locator("#status")).to_have_text(
            "Saved as version 1: the next call uses it."
        )
        await expect(page.locator("#history tbody tr")).to_have_count(1)
        await expect(page.locator("#did")).to_have_value("908502220001")
        in_force = ivr.flows.flow_for("908502220001")
        assert in_force is not None and "menu" in in_force.flow.nodes

    assert seen.dialogs == []
    assert [e for e in seen.console_errors if "status of 422" not in e] == []
