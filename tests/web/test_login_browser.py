"""Logging in and out in a real Chromium: login page → calls page → logout.

Needs Debian's Chromium at /usr/bin/chromium (see tests/browser.py); fails without it.
"""

from __future__ import annotations

import re

import pytest
from aiohttp import web
from playwright.async_api import Page, expect
from pytest_aiohttp import AiohttpServer

from ..browser import Seen, open_page
from .conftest import PASSWORD, World, add_user

pytestmark = pytest.mark.browser

# The user's name is shown in the header: markup in it must stay text.
NAME = "<b>Ayşe</b> <img src=x onerror=alert(1)>"


@pytest.fixture
async def base_url(aiohttp_server: AiohttpServer, app: web.Application) -> str:
    await add_user(app, NAME, role="supervisor")
    server = await aiohttp_server(app)
    return str(server.make_url("/")).rstrip("/")


async def _submit(page: Page, username: str, password: str) -> None:
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(password)
    await page.locator("#login-submit").click()


def _unexpected(errors: list[str]) -> list[str]:
    # A refused login is a 401 response, which Chromium reports as a failed load.
    return [e for e in errors if "status of 401" not in e and "status of 429" not in e]


async def test_login_calls_page_and_logout(base_url: str) -> None:
    seen = Seen()
    async with open_page(f"{base_url}/", seen=seen) as page:
        # Not logged in: the calls page sends the browser to the login page.
        await expect(page).to_have_url(f"{base_url}/login")
        await expect(page.locator("#login-error")).to_be_hidden()

        await _submit(page, NAME, "not the password")
        await expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
        await expect(page).to_have_url(f"{base_url}/login")

        await _submit(page, NAME, PASSWORD)
        await expect(page).to_have_url(f"{base_url}/")
        await expect(page.locator("#user-name")).to_have_text(NAME)
        await expect(page.locator("#user-role")).to_have_text("supervisor")
        await expect(page.locator("#live-calls tbody")).to_have_text("No live calls")
        await expect(page.locator("#ari-state")).to_have_text("ARI connected")
        assert await page.locator("header b, header img").count() == 0
        cookies = await page.context.cookies()
        assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [
            ("thirdring_session", True, "Strict")
        ]
        assert await page.evaluate("document.cookie") == ""  # HttpOnly: scripts cannot read it

        await page.locator("#logout").click()
        await expect(page).to_have_url(f"{base_url}/login")
        assert await page.context.cookies() == []
        await page.goto(f"{base_url}/")
        await expect(page).to_have_url(f"{base_url}/login")
        assert (await page.request.get(f"{base_url}/api/calls")).status == 401

    assert seen.dialogs == []
    assert _unexpected(seen.console_errors) == []


async def test_too_many_failures_say_when_to_try_again(base_url: str) -> None:
    seen = Seen()
    async with open_page(f"{base_url}/login", seen=seen) as page:
        for _ in range(5):
            await _submit(page, NAME, "not the password")
            await expect(page.locator("#login-error")).to_have_text("Wrong username or password.")
            await expect(page.locator("#login-submit")).to_be_enabled()
        await _submit(page, NAME, PASSWORD)
        await expect(page.locator("#login-error")).to_have_text(
            re.compile(r"^Too many failed attempts\. Try again in 5 minutes\.$")
        )
        await expect(page).to_have_url(f"{base_url}/login")
    assert _unexpected(seen.console_errors) == []


async def test_an_expired_session_sends_the_page_back_to_login(
    base_url: str, app: web.Application, world: World
) -> None:
    from telephony.web.access import ACCOUNTS_KEY

    async with open_page(f"{base_url}/", login=(NAME, PASSWORD)) as page:
        await expect(page.locator("#user-name")).to_have_text(NAME)
        # The server forgets every session (as at expiry): the next poll goes to /login.
        await app[ACCOUNTS_KEY].users.update_user(
            NAME, role="supervisor", now=world.now, end_sessions=True
        )
        await expect(page).to_have_url(f"{base_url}/login", timeout=5000)
