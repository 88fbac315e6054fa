"""`screen_pop_latency`: from Asterisk's StasisStart of a caller to the pop on the
agent's screen, with the raw ARI event delivery of the same run as the reference.

Setup: one PBX and one world Asterisk; the service in its own process with N agents
(default 50) whose desk phones ring and never answer; its database a copy of the
history_lookup database (1 million calls, 200 000 contacts), so every caller is a
returning one with history; N-1 agents connected as WebSocket clients and one as a
real Chromium on /workspace (its render time is taken by a MutationObserver on the pop
list). Callers (distinct numbers from the contacts) dial in at R per second (default
20) for S seconds (default 10) and hang up 1.5 s later, which frees their agent.

- **pop (ws)**: per call, the first `pop` any WebSocket client received for the caller's
  number (local clock) - the StasisStart `timestamp` (Asterisk's clock, same host, ms).
- **pop (browser)**: the same to the moment the pop's card was added to the page.
- **reference, ari_delivery**: an observer ARI application (`subscribeAll`) receiving the
  caller channel's events: receipt time - the event's `timestamp`. StasisStart is sent
  only to the application the channel enters, so the observer times the
  `ChannelDialplan` event that announces `Stasis(thirdring, ...)` (published in the same
  millisecond); the pop is measured from the same event when no StasisStart reached
  the observer.
`added_p99_ms` = pop p99 - ari_delivery p99.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import websockets

from bench import history_lookup
from bench.harness import BenchError, ServiceProcess, until_idle
from bench.results import BenchResult, Reference, percentile
from telephony.ari.transport import basic_auth
from telephony.auth import ensure_user
from telephony.sandbox.pair import Sandbox, agent_endpoint
from telephony.store.db import create_engine
from telephony.store.repo import CallStore
from telephony.world.controller import Leg, PhoneBehaviour, World

NAME = "screen_pop_latency"
COLUMNS = ("p99_ms", "p50_ms", "max_ms", "added_p99_ms", "n")
DID = "908502220001"
PASSWORD = "bench pop pass phrase"
HOLD_S = 1.5
FIRST_PHONE = 2001
OBSERVER_APP = "thirdring-bench-pop-observer"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Run in the page: when a pop card is added, note when and for which number.
RECORD_RENDERS = """() => {
  window.__rendered = {};
  const note = () => {
    for (const card of document.querySelectorAll('#pops .pop')) {
      const shown = card.querySelector('.caller-number')?.textContent || '';
      const number = shown.replace(/[^0-9]/g, '');
      if (number && !(number in window.__rendered)) {
        window.__rendered[number] = performance.timeOrigin + performance.now();
      }
    }
  };
  const pops = document.getElementById('pops');
  new MutationObserver(note).observe(pops, {childList: true, subtree: true});
}"""


@dataclass(frozen=True)
class Options:
    agents: int = 50
    rate: float = 20.0
    seconds: float = 10.0


def options_from_env() -> Options:
    env = os.environ
    return Options(
        agents=int(env.get("BENCH_POP_AGENTS", "50")),
        rate=float(env.get("BENCH_POP_RATE", "20")),
        seconds=float(env.get("BENCH_POP_SECONDS", "10")),
    )


def _say(text: str) -> None:
    print(f"[bench] {NAME}: {text}", file=sys.stderr, flush=True)


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def _ts(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


class Observer:
    """Per caller number: Asterisk's StasisStart (or ChannelDialplan→Stasis) timestamp
    and when this process received it."""

    def __init__(self, ari_url: str, username: str, password: str) -> None:
        root = ari_url.replace("http://", "ws://", 1)
        query = urlencode({"app": OBSERVER_APP, "subscribeAll": "true"}, quote_via=quote)
        self._url = f"{root.rstrip('/')}/ari/events?{query}"
        self._headers = {"Authorization": basic_auth(username, password)}
        self.start: dict[str, tuple[float, float, str]] = {}  # number -> (ts, received, kind)
        self._ws: Any = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Observer:
        self._ws = await websockets.connect(
            self._url, additional_headers=self._headers, proxy=None, max_size=None
        )
        self._task = asyncio.get_running_loop().create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._ws.close()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self._ws:
                received = time.time()
                event = json.loads(raw)
                kind = event.get("type")
                stasis = kind == "StasisStart" and (event.get("args") or [""])[0] == "inbound"
                entering = (
                    kind == "ChannelDialplan"
                    and event.get("dialplan_app") == "Stasis"
                    and "inbound" in str(event.get("dialplan_app_data"))
                )
                if not (stasis or entering):
                    continue
                number = _digits(event["channel"]["caller"]["number"])
                known = self.start.get(number)
                if known is None or (stasis and known[2] != "StasisStart"):
                    self.start[number] = (_ts(event["timestamp"]), received, kind)


class Agents:
    """The WebSocket clients: the first pop each caller number got, and when."""

    def __init__(self) -> None:
        self.first_pop: dict[str, float] = {}
        self.messages = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._sessions: list[aiohttp.ClientSession] = []

    async def connect(self, url: str, usernames: Sequence[str]) -> None:
        for username in usernames:
            http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            self._sessions.append(http)
            login = await http.post(
                f"{url}/login", json={"username": username, "password": PASSWORD}
            )
            if login.status != 200:
                raise BenchError(f"login {username}: {login.status} {await login.text()}")
            ws = await http.ws_connect(f"{url}/ws", origin=url)
            self._tasks.append(asyncio.get_running_loop().create_task(self._read(ws)))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            received = time.time()
            self.messages += 1
            data = json.loads(message.data)
            if data.get("type") == "pop":
                number = _digits(data["pop"]["caller"]["number"] or "")
                self.first_pop.setdefault(number, received)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for http in self._sessions:
            await http.close()


def run(options: Options | None = None) -> list[BenchResult]:
    options = options or options_from_env()
    history = history_lookup.CACHE / "history-1000000-200000.db"
    _say("the 1M-call history database (made once, cached)")
    history_lookup.build(history, 1_000_000, 200_000)
    phones = tuple(str(FIRST_PHONE + i) for i in range(options.agents))
    box = Sandbox(phone_extensions=phones)
    _say(f"starting PBX + world with {len(phones)} desk phones")
    box.start()
    workdir = Path(tempfile.mkdtemp(prefix="bench-pop-"))
    try:
        return asyncio.run(_run(box, options, history, workdir, phones))
    finally:
        box.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def _prepare_db(path: Path, agents: Sequence[str]) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        store = CallStore(engine, "TR")
        for agent in agents:
            await ensure_user(store, f"u-{agent}", PASSWORD, "agent", agent)
    finally:
        await engine.dispose()


async def _run(
    box: Sandbox, options: Options, history: Path, workdir: Path, phones: Sequence[str]
) -> list[BenchResult]:
    agent_ids = [f"a{i}" for i in range(options.agents)]
    db = workdir / "calls.db"
    await asyncio.to_thread(shutil.copyfile, history, db)
    await _prepare_db(db, agent_ids)
    agents = [
        {"id": agent, "name": f"Agent {i}", "endpoint": agent_endpoint(phone)}
        for i, (agent, phone) in enumerate(zip(agent_ids, phones, strict=True))
    ]
    service = ServiceProcess(
        box.pbx,
        {
            "log_level": "warning",
            "max_wait_s": 60,
            "rings": {
                "default": {
                    "cadence": "tr",
                    "max_rings": 6,
                    "agent_rings": 5,
                    "auto_pause_on_miss": False,
                }
            },
        },
        agents,
        workdir,
    )
    world = World.of(box.world)
    await world.start()
    for phone in phones:
        world.set_phone(phone, PhoneBehaviour(answer_after=None, tone_hz=None, listen=False))
    clients = Agents()
    try:
        await service.start(within_s=60)
        url = f"http://127.0.0.1:{service.port}"
        await clients.connect(url, [f"u-{a}" for a in agent_ids[1:]])
        async with Observer(box.pbx.ari_url, box.pbx.ari_username, box.pbx.ari_password) as obs:
            rendered = await _with_browser(url, f"u-{agent_ids[0]}", world, options, obs)
        await asyncio.sleep(1.0)
    except Exception:
        _say("failed; the service's log ends:\n" + service.log_tail(40))
        raise
    finally:
        await clients.close()
        for leg in list(world.legs.values()):
            await world.hangup(leg)
        await until_idle(world.rest)
        await world.stop()
        problems = service.log_problems()
        await service.stop()
    return _results(options, obs, clients, rendered, problems)


async def _with_browser(
    url: str, username: str, world: World, options: Options, obs: Observer
) -> dict[str, float]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            await page.goto(f"{url}/login")
            await page.locator("#username").fill(username)
            await page.locator("#password").fill(PASSWORD)
            await page.locator("#login-submit").click()
            await page.wait_for_url(f"{url}/workspace")  # where agents land after login
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            try:
                await page.wait_for_selector("#agent-status[data-status='available']")
            except Exception:
                badge = await page.evaluate("document.getElementById('agent-status').outerHTML")
                raise BenchError(f"the workspace did not come up: {badge} {console}") from None
            await page.evaluate(RECORD_RENDERS)
            await _call_stream(world, options)
            rendered: dict[str, float] = await page.evaluate("window.__rendered")
            return {number: at / 1000 for number, at in rendered.items()}
        finally:
            await browser.close()


async def _call_stream(world: World, options: Options) -> None:
    total = int(options.rate * options.seconds)
    loop = asyncio.get_running_loop()
    started = loop.time()
    tasks = []
    _say(f"{total} callers at {options.rate}/s")
    for k in range(total):
        await asyncio.sleep(max(0.0, started + k / options.rate - loop.time()))
        # A different returning caller each time (the pop is matched by number).
        number = history_lookup.contact_number(k * 37 % 200_000)
        tasks.append(loop.create_task(_one_caller(world, number, k)))
    await asyncio.gather(*tasks, return_exceptions=True)


async def _one_caller(world: World, number: str, k: int) -> None:
    leg: Leg | None = None
    try:
        leg = await world.call(DID, number, f"Bench caller {k}", tone_hz=None, listen=False)
        await asyncio.sleep(HOLD_S)
    finally:
        if leg is not None:
            await world.hangup(leg)


def _results(
    options: Options,
    obs: Observer,
    clients: Agents,
    rendered: dict[str, float],
    problems: Any,
) -> list[BenchResult]:
    ws_ms, browser_ms, ari_ms = [], [], []
    kinds = set()
    for number, (ts, received, kind) in obs.start.items():
        kinds.add(kind)
        ari_ms.append((received - ts) * 1000)
        if number in clients.first_pop:
            ws_ms.append((clients.first_pop[number] - ts) * 1000)
        if number in rendered:
            browser_ms.append((rendered[number] - ts) * 1000)
    ari = {
        "p99_ms": round(percentile(ari_ms, 99), 1),
        "p50_ms": round(percentile(ari_ms, 50), 1),
        "max_ms": round(max(ari_ms), 1) if ari_ms else float("nan"),
        "n": len(ari_ms),
    }
    params = {"agents": options.agents, "rate": options.rate, "seconds": options.seconds}
    notes = [
        f"measured from {', '.join(sorted(kinds)) or 'nothing'} (Asterisk timestamps, ms)",
        f"{len(obs.start)} callers seen by the observer; {len(clients.first_pop)} popped on a "
        f"WebSocket client, {len(rendered)} rendered in Chromium",
    ]
    if problems:
        notes.append(f"service warnings/errors: {dict(problems)}")
    results = []
    for what, values in (("ws", ws_ms), ("browser", browser_ms)):
        p99 = round(percentile(values, 99), 1)
        results.append(
            BenchResult(
                NAME,
                {**params, "measured": what},
                {
                    "p99_ms": p99,
                    "p50_ms": round(percentile(values, 50), 1),
                    "max_ms": round(max(values), 1) if values else float("nan"),
                    "added_p99_ms": round(p99 - ari["p99_ms"], 1),
                    "n": len(values),
                },
                Reference("ari_delivery", ari),
                notes=notes if what == "ws" else [],
            )
        )
    return results
