"""`screen_pop_latency`: from Asterisk's StasisStart of a caller to the pop on the
agent's screen, with the raw ARI event delivery of the same run as the reference.

Setup: one PBX and one world Asterisk; the service in its own process with N agents
(default 50) whose desk phones ring and never answer; its database a copy of the
history_lookup database (1 million calls, 200 000 contacts), so every caller is a
returning one with history; B agents (default 5) are real Chromium pages on /workspace,
one browser context (own cookies, own window) each, and the other N-B are WebSocket
clients. A page's render time is taken by a MutationObserver on its pop list. Callers
(distinct numbers from the contacts) dial in at R per second (default 20) for S seconds
(default 30) and hang up 1.5 s later, which frees their agent. Routing is longest-idle,
so the pages get about B/N of the calls: 5 of 50 over 600 calls is about 60 rendered
pops, enough for a p99 that is not just the slowest of four.

- **pop (ws)**: per call, the first `pop` any WebSocket client received for the caller's
  number (local clock) - the StasisStart `timestamp` (Asterisk's clock, same host, ms).
- **pop (browser)**: the same to the moment the pop's card was added to a page.
- **reference, ari_delivery**: an observer ARI application (`subscribeAll`) receiving the
  caller channel's events: receipt time - the event's `timestamp`. StasisStart is sent
  only to the application the channel enters, so the observer times the
  `ChannelDialplan` event that announces `Stasis(thirdring, ...)` (published in the same
  millisecond); the pop is measured from the same event when no StasisStart reached
  the observer.
`added_p99_ms` = pop p99 - ari_delivery p99.

Where the time goes (p50 of each leg, in the rows' metrics): `service` = the pop's own
`now` (the service's clock when it composed the pop) - StasisStart; `delivery` = received
(a WebSocket client's receipt; in a page, the start of the socket's `message` event,
seen by a listener added before the page's own) - `now`; `page_js` = card added - that
`message` event (parsing, the page's handler, building the card). The CPU each kind of
process used during the calls (Asterisk, the service, this process, Chromium, the
Playwright driver, anything else on the machine) and the load average are noted too.
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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import websockets

from bench import history_lookup
from bench.harness import REPO, BenchError, ServiceProcess, until_idle
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
# The flags of the browser tests (tests/browser.py). Nothing about throttling: every
# page is the only tab of its own window, visible and focused as an agent's workspace
# in front of them (checked at the end of the run, see `_page_state`), so Chromium's
# background-tab throttling does not apply; and the pop is a socket message, not a
# timer, which that throttling would not delay anyway.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
# Added to each page before its own scripts: when the `message` event of every pop
# message starts. The listener is registered before the workspace's own (the page's
# socket is built from this subclass), so it runs first; it only notes the time and keeps
# the text, parsed after the run.
WATCH_SOCKET = """(() => {
  window.__popMessages = [];
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        const at = performance.timeOrigin + performance.now();
        if (typeof event.data === "string" && event.data.startsWith('{"type": "pop"')) {
          window.__popMessages.push([at, event.data]);
        }
      });
    }
  };
})();"""
# Run in the page: when a pop card is added, note when and for which number; and, as a
# diagnostic only, when the frame that shows it has been laid out and painted on the
# main thread (a message posted from that frame's requestAnimationFrame runs after it).
RECORD_RENDERS = """() => {
  window.__rendered = {};
  window.__painted = {};
  const frame = new MessageChannel();
  let waiting = [];
  frame.port1.onmessage = () => {
    const at = performance.timeOrigin + performance.now();
    for (const number of waiting) window.__painted[number] = at;
    waiting = [];
  };
  const note = () => {
    for (const card of document.querySelectorAll('#pops .pop')) {
      const shown = card.querySelector('.caller-number')?.textContent || '';
      const number = shown.replace(/[^0-9]/g, '');
      if (number && !(number in window.__rendered)) {
        window.__rendered[number] = performance.timeOrigin + performance.now();
        if (!waiting.length) requestAnimationFrame(() => frame.port2.postMessage(null));
        waiting.push(number);
      }
    }
  };
  const pops = document.getElementById('pops');
  new MutationObserver(note).observe(pops, {childList: true, subtree: true});
}"""
# What a page tells at the end: its clocks against ours, whether it was in front.
PAGE_STATE = """() => ({
  perf: performance.timeOrigin + performance.now(),
  date: Date.now(),
  visibility: document.visibilityState,
  focused: document.hasFocus(),
})"""


@dataclass(frozen=True)
class Options:
    agents: int = 50
    browsers: int = 5
    rate: float = 20.0
    seconds: float = 30.0
    service_src: Path = REPO  # run the service from another checkout (an A/B)


def options_from_env() -> Options:
    env = os.environ
    return Options(
        agents=int(env.get("BENCH_POP_AGENTS", "50")),
        browsers=int(env.get("BENCH_POP_BROWSERS", "5")),
        rate=float(env.get("BENCH_POP_RATE", "20")),
        seconds=float(env.get("BENCH_POP_SECONDS", "30")),
        service_src=Path(env.get("BENCH_SERVICE_SRC") or REPO),
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
    """The WebSocket clients: the first pop each caller number got, when, and the pop's
    own `now` (when the service composed it)."""

    def __init__(self) -> None:
        self.first_pop: dict[str, float] = {}
        self.composed: dict[str, float] = {}
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
                if number not in self.first_pop:
                    self.first_pop[number] = received
                    self.composed[number] = _iso(data["pop"]["now"])

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for http in self._sessions:
            await http.close()


def _iso(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@dataclass
class Pages:
    """What the Chromium pages saw, per caller number (epoch seconds, this host's clock)."""

    rendered: dict[str, float] = field(default_factory=dict)  # the card added
    painted: dict[str, float] = field(default_factory=dict)  # its frame laid out, painted
    message: dict[str, float] = field(default_factory=dict)  # the pop's `message` event
    composed: dict[str, float] = field(default_factory=dict)  # the pop's `now`
    page: dict[str, int] = field(default_factory=dict)  # which page (0..B-1)
    clock_ms: list[float] = field(default_factory=list)  # page clock - ours, per page
    states: list[str] = field(default_factory=list)  # visibility/focus, per page


def _cpu_seconds() -> dict[int, tuple[str, int, float]]:
    """pid -> (command name, parent pid, CPU seconds used so far), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return found


def _cpu_use(
    before: dict[int, tuple[str, int, float]],
    after: dict[int, tuple[str, int, float]],
    service_pid: int | None,
) -> dict[str, float]:
    """CPU seconds used between two `_cpu_seconds()`, by kind of process: this bench's
    own descendants by name, everything else on the machine as `other`."""
    me = os.getpid()

    def kind(pid: int) -> str:
        comm, seen = after[pid][0], set()
        if pid == me:
            return "bench"
        if pid == service_pid:
            return "service"
        parent = after[pid][1]
        while parent not in (0, 1, me) and parent in after and parent not in seen:
            seen.add(parent)
            parent = after[parent][1]
        if parent != me:
            return "other"
        if comm.startswith("asterisk"):
            return "asterisk"
        if comm.startswith(("chrom", "headless")):
            return "chromium"
        return comm

    used: dict[str, float] = {}
    for pid, (_, _, seconds) in after.items():
        spent = seconds - (before[pid][2] if pid in before else 0.0)
        if spent > 0:
            name = kind(pid)
            used[name] = used.get(name, 0.0) + spent
    return dict(sorted(used.items(), key=lambda item: -item[1]))


def run(options: Options | None = None) -> list[BenchResult]:
    options = options or options_from_env()
    if not 0 < options.browsers < options.agents:
        raise BenchError(f"BENCH_POP_BROWSERS={options.browsers}: 1 to {options.agents - 1}")
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


@dataclass
class Stream:
    """The calls' part of the run: load average and CPU used by kind of process."""

    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before, after
    seconds: float = 0.0
    service_up: float = 0.0  # time.monotonic() when the service said it was ready
    since_service_up_s: float = 0.0  # the first call, that long after
    cpu: dict[str, float] = field(default_factory=dict)


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
        src=options.service_src,
    )
    world = World.of(box.world)
    await world.start()
    for phone in phones:
        world.set_phone(phone, PhoneBehaviour(answer_after=None, tone_hz=None, listen=False))
    clients = Agents()
    stream = Stream()
    try:
        await service.start(within_s=60)
        stream.service_up = time.monotonic()
        url = f"http://127.0.0.1:{service.port}"
        in_browser = [f"u-{a}" for a in agent_ids[: options.browsers]]
        await clients.connect(url, [f"u-{a}" for a in agent_ids[options.browsers :]])
        async with Observer(box.pbx.ari_url, box.pbx.ari_username, box.pbx.ari_password) as obs:
            pages = await _with_browser(url, in_browser, world, options, stream, service.pid)
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
    return _results(options, obs, clients, pages, stream, problems)


async def _with_browser(
    url: str,
    usernames: Sequence[str],
    world: World,
    options: Options,
    stream: Stream,
    service_pid: int | None,
) -> Pages:
    from playwright.async_api import Page, async_playwright

    async def open_workspace(username: str) -> Page:
        # A context of its own: its own cookies (one agent each) and its own window.
        context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        await context.add_init_script(WATCH_SOCKET)
        page = await context.new_page()
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
            raise BenchError(f"{username}'s workspace did not come up: {badge} {console}") from None
        await page.evaluate(RECORD_RENDERS)
        return page

    async with async_playwright() as playwright:
        extra = os.environ.get("BENCH_POP_CHROMIUM_FLAGS", "").split()  # for experiments
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=[*CHROMIUM_ARGS, *extra]
        )
        try:
            _say(f"{len(usernames)} Chromium pages on /workspace")
            pages = await asyncio.gather(*(open_workspace(name) for name in usernames))
            stream.load = (os.getloadavg()[0], 0.0)
            cpu_before, started = _cpu_seconds(), time.monotonic()
            stream.since_service_up_s = started - stream.service_up
            await _call_stream(world, options)
            stream.seconds = time.monotonic() - started
            stream.cpu = _cpu_use(cpu_before, _cpu_seconds(), service_pid)
            stream.load = (stream.load[0], os.getloadavg()[0])
            seen = Pages()
            for index, page in enumerate(pages):
                await _collect(page, index, seen)
            return seen
        finally:
            await browser.close()


async def _collect(page: Any, index: int, seen: Pages) -> None:
    for number, at in (await page.evaluate("window.__rendered")).items():
        seen.rendered[number] = at / 1000
        seen.page[number] = index
    for number, at in (await page.evaluate("window.__painted")).items():
        seen.painted[number] = at / 1000
    for at, text in await page.evaluate("window.__popMessages"):
        data = json.loads(text)
        if data.get("type") != "pop":
            continue
        number = _digits(data["pop"]["caller"]["number"] or "")
        if number not in seen.message:
            seen.message[number] = at / 1000
            seen.composed[number] = _iso(data["pop"]["now"])
    before = time.time()
    state = await page.evaluate(PAGE_STATE)
    after = time.time()
    # The page's clock against ours, read within one round trip (after - before).
    seen.clock_ms.append(round((state["perf"] / 1000 - (before + after) / 2) * 1000, 1))
    seen.states.append(f"{state['visibility']}{'+focused' if state['focused'] else ''}")


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


def _summary(values: Sequence[float]) -> dict[str, float | int]:
    return {
        "p99_ms": round(percentile(values, 99), 1),
        "p50_ms": round(percentile(values, 50), 1),
        "max_ms": round(max(values), 1) if values else float("nan"),
        "n": len(values),
    }


def _p50(values: Sequence[float]) -> float:
    return round(percentile(values, 50), 1)


def _results(
    options: Options,
    obs: Observer,
    clients: Agents,
    pages: Pages,
    stream: Stream,
    problems: Any,
) -> list[BenchResult]:
    ws_ms, browser_ms, ari_ms = [], [], []
    legs: dict[str, dict[str, list[float]]] = {
        "ws": {"service": [], "delivery": []},
        "browser": {"service": [], "delivery": [], "page_js": [], "frame": []},
    }
    kinds = set()
    for number, (ts, received, kind) in obs.start.items():
        kinds.add(kind)
        ari_ms.append((received - ts) * 1000)
        if number in clients.first_pop:
            ws_ms.append((clients.first_pop[number] - ts) * 1000)
            composed = clients.composed[number]
            legs["ws"]["service"].append((composed - ts) * 1000)
            legs["ws"]["delivery"].append((clients.first_pop[number] - composed) * 1000)
        if number in pages.rendered:
            rendered = pages.rendered[number]
            browser_ms.append((rendered - ts) * 1000)
            if number in pages.message:
                composed, message = pages.composed[number], pages.message[number]
                legs["browser"]["service"].append((composed - ts) * 1000)
                legs["browser"]["delivery"].append((message - composed) * 1000)
                legs["browser"]["page_js"].append((rendered - message) * 1000)
            if number in pages.painted:
                legs["browser"]["frame"].append((pages.painted[number] - rendered) * 1000)
    ari = _summary(ari_ms)
    params = {
        "agents": options.agents,
        "browsers": options.browsers,
        "rate": options.rate,
        "seconds": options.seconds,
    }
    load = {"load1_before": round(stream.load[0], 2), "load1_after": round(stream.load[1], 2)}
    cpu = ", ".join(f"{name} {seconds:.1f}" for name, seconds in stream.cpu.items())
    notes = [
        f"measured from {', '.join(sorted(kinds)) or 'nothing'} (Asterisk timestamps, ms)",
        f"Chromium flags added: {os.environ.get('BENCH_POP_CHROMIUM_FLAGS') or 'none'}",
        f"{len(obs.start)} callers seen by the observer; {len(clients.first_pop)} popped on a "
        f"WebSocket client, {len(pages.rendered)} rendered in Chromium "
        f"({options.browsers} pages: {', '.join(pages.states)})",
        f"load average (1 min) {stream.load[0]:.2f} before the calls, {stream.load[1]:.2f} "
        f"after; the calls began {stream.since_service_up_s:.1f} s after the service was up; "
        f"CPU seconds used during their {stream.seconds:.0f} s (2 cores = "
        f"{2 * stream.seconds:.0f}): {cpu}",
        f"the pages' clocks (timeOrigin + now) - ours: {pages.clock_ms} ms "
        "(each read within one round trip)",
    ]
    for what, split in legs.items():
        notes.append(
            f"{what}: p50 of each leg, ms: "
            + ", ".join(f"{leg} {_p50(values)}" for leg, values in split.items())
        )
    if problems:
        notes.append(f"service warnings/errors: {dict(problems)}")
    if raw := os.environ.get("BENCH_POP_RAW"):
        _write_raw(Path(raw), obs, clients, pages)
        notes.append(f"every call's timestamps in {raw}")
    results = []
    for what, values in (("ws", ws_ms), ("browser", browser_ms)):
        summary = _summary(values)
        results.append(
            BenchResult(
                NAME,
                {**params, "measured": what},
                {
                    **summary,
                    "added_p99_ms": round(summary["p99_ms"] - ari["p99_ms"], 1),
                    **{f"{leg}_p50_ms": _p50(v) for leg, v in legs[what].items()},
                    **{
                        f"{leg}_p99_ms": round(percentile(v, 99), 1)
                        for leg, v in legs[what].items()
                    },
                    **load,
                },
                Reference("ari_delivery", ari),
                notes=notes if what == "ws" else [],
            )
        )
    return results


def _write_raw(path: Path, obs: Observer, clients: Agents, pages: Pages) -> None:
    """Every call's timestamps (epoch seconds), one JSON object a line, for a closer look
    (`BENCH_POP_RAW=path`)."""
    sources: dict[str, dict[str, float] | dict[str, int]] = {
        "ws_received": clients.first_pop,
        "ws_composed": clients.composed,
        "page": pages.page,
        "page_message": pages.message,
        "page_composed": pages.composed,
        "page_rendered": pages.rendered,
        "page_painted": pages.painted,
    }
    with path.open("w") as out:
        for number, (ts, received, kind) in sorted(obs.start.items(), key=lambda i: i[1][0]):
            line: dict[str, object] = {"number": number, "start": ts, "kind": kind}
            line["ari_received"] = received
            line.update({k: v[number] for k, v in sources.items() if number in v})
            out.write(json.dumps(line) + "\n")
