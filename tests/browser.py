"""A real Chromium for page tests: Debian's /usr/bin/chromium driven by Playwright.

Without it a browser test fails on purpose (`apt-get install -y chromium`):
a skipped browser test proves nothing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.async_api import ConsoleMessage, Dialog, Page, ViewportSize, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}


class Seen:
    """What the page did besides rendering: dialogs it opened, errors it logged."""

    def __init__(self) -> None:
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []

    async def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        await dialog.dismiss()

    def on_console(self, message: ConsoleMessage) -> None:
        # A CSP violation or a script error shows up here.
        if message.type == "error":
            self.console_errors.append(f"{message.text} at {message.location.get('url')}")


def chromium_path() -> str:
    """The browser binary; fails (never skips) the calling test when it is missing."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    return str(CHROMIUM)


@asynccontextmanager
async def open_page(
    url: str,
    *,
    seen: Seen | None = None,
    viewport: ViewportSize = VIEWPORT,
    login: tuple[str, str] | None = None,
) -> AsyncIterator[Page]:
    """`url` loaded in a fresh headless Chromium, closed on exit.

    Pass `seen` to collect dialogs and console errors from the very first script run,
    and `login=(username, password)` to log in through the login page first.
    """
    executable = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport=viewport)
            if seen is not None:
                page.on("dialog", seen.on_dialog)
                page.on("console", seen.on_console)
            if login is not None:
                await log_in(page, urljoin(url, "/login"), *login)
                if urlsplit(page.url).path != urlsplit(url).path:
                    await page.goto(url)
            else:
                await page.goto(url)
            yield page
        finally:
            await browser.close()


async def log_in(page: Page, login_url: str, username: str, password: str) -> None:
    """Fill in and send the login page's form; returns once the calls page is open."""
    await page.goto(login_url)
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(password)
    await page.locator("#login-submit").click()
    # Agents land on their workspace, the others on the calls page.
    await page.wait_for_url(re.compile(re.escape(urljoin(login_url, "/")) + r"(workspace)?$"))
