"""The scripts admin page in a real Chromium: an admin edits a script, publishes the
change as version 2 and releases it as variant B to half the calls; the setup matching
reads carries the split at once; the advert's numbers are given the script. A bad
draft shows its problems and changes nothing.

Needs Debian's Chromium at /usr/bin/chromium (see tests/browser.py); fails without it.
"""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from playwright.async_api import expect
from pytest_aiohttp import AiohttpServer

from telephony.scripts.matching import choose
from telephony.scripts.model import CallFacts
from telephony.store.repo import CallStore
from telephony.store.scripts import ScriptStore
from telephony.web.admin_scripts import add_script_routes
from telephony.web.app import AGENT_UI_DIR

from ..browser import Seen, open_page
from .conftest import PASSWORD, T0, add_user
from .test_admin_scripts import body

pytestmark = pytest.mark.browser


@pytest.fixture
async def scripts(store: CallStore) -> ScriptStore:
    scripts = ScriptStore(store.engine, lambda: T0)
    await scripts.save_draft(body(), who="setup")
    await scripts.publish("ceilings", who="setup")
    await scripts.set_default("ceilings", who="setup")
    return scripts


@pytest.fixture
async def base_url(
    aiohttp_server: AiohttpServer, app: web.Application, scripts: ScriptStore
) -> str:
    add_script_routes(app, scripts=scripts, page=AGENT_UI_DIR / "admin_scripts.html")
    await add_user(app, "root", role="admin")
    server = await aiohttp_server(app)
    return str(server.make_url("/")).rstrip("/")


async def test_an_admin_publishes_version_2_as_variant_b_at_half(
    base_url: str, scripts: ScriptStore
) -> None:
    seen = Seen()
    async with open_page(f"{base_url}/admin/scripts", seen=seen, login=("root", PASSWORD)) as page:
        await expect(page.locator("#scripts tbody")).to_contain_text("Script ceilings")
        await expect(page.locator("#script")).to_have_value("ceilings")
        await expect(page.locator("#stages li")).to_have_count(3)
        current = json.loads(await page.locator("#body").input_value())
        assert current["stages"][0]["say"] == ["Good day, {company.name}."]

        # A broken change: refused with the problem named, nothing saved.
        broken = json.loads(json.dumps(current))
        broken["stages"][0]["branches"] = [{"field": "budget", "equals": "1", "to": "nowhere"}]
        await page.locator("#body").fill(json.dumps(broken))
        await page.locator("#save-draft").click()
        await expect(page.locator("#status")).to_have_text("Not saved (422): nothing changed.")
        await expect(page.locator("#errors li").first).to_contain_text(
            "branches[0].to = 'nowhere': no such stage"
        )
        assert [v.version for v in (await scripts.script("ceilings")).versions] == [1]

        # The changed sentence, previewed with sample data (as text), saved and published.
        changed = json.loads(json.dumps(current))
        changed["stages"][0]["say"] = ["Hello {caller.name}, <b>{company.name}</b> here."]
        await page.locator("#body").fill(json.dumps(changed))
        await page.locator("#preview-button").click()
        await expect(page.locator("#preview .preview-say").first).to_have_text(
            "Hello Ali Vural, <b>Usta Ahşap</b> here."
        )
        assert await page.locator("#preview b").count() == 0  # markup stays text
        await page.locator("#save-draft").click()
        await expect(page.locator("#status")).to_have_text("Saved as draft version 2.")
        await page.locator("#publish").click()
        await expect(page.locator("#status")).to_contain_text("Published version 2")
        await expect(page.locator("#published")).to_have_text("v1, v2")

        # Release: A = v1 50, B = v2 50.
        await expect(page.locator("#variants tbody tr")).to_have_count(1)
        await page.locator("#variants tbody tr").nth(0).get_by_label("Weight").fill("50")
        await page.locator("#add-variant").click()
        row_b = page.locator("#variants tbody tr").nth(1)
        await expect(row_b.get_by_label("Variant label")).to_have_value("B")
        await expect(row_b.get_by_label("Version")).to_have_value("2")
        await row_b.get_by_label("Weight").fill("50")
        await page.locator("#save-release").click()
        await expect(page.locator("#release-status")).to_have_text(
            "Release saved: A = v1 (50), B = v2 (50); the next call uses it."
        )
        await expect(page.locator("#scripts tbody")).to_contain_text("A = v1 (50), B = v2 (50)")

        # The advert's number gets the script: a campaign.
        form = page.locator("#campaign-form")
        await form.get_by_label("Key").fill("ceilings_search")
        await form.get_by_label("Name").fill("Ceilings — search ads")
        await form.get_by_label("Source").fill("search ads")
        await form.get_by_label("DIDs (comma-separated)").fill("908502220001, 908502220009")
        await form.get_by_label("Script").select_option("ceilings")
        await page.locator("#save-campaign").click()
        await expect(page.locator("#campaign-status")).to_have_text(
            "Campaign ceilings_search saved."
        )
        await expect(page.locator("#campaigns tbody")).to_contain_text("908502220001, 908502220009")

    setup = await scripts.setup()
    variants = setup.releases["ceilings"].variants
    assert [(v.label, v.version, v.weight) for v in variants] == [("A", 1, 50), ("B", 2, 50)]
    got = {choose(setup, CallFacts(call_id=f"call-{n}")).variant for n in range(40)}  # type: ignore[union-attr]
    assert got == {"A", "B"}  # the next calls split between the variants
    (campaign,) = setup.campaigns
    assert (campaign.key, campaign.script, campaign.dids) == (
        "ceilings_search",
        "ceilings",
        ["908502220001", "908502220009"],
    )
    assert seen.dialogs == []
    assert [e for e in seen.console_errors if "status of 422" not in e] == []
