"""The soak (issue 9, `make soak`): steady load for a long while, then the count of what
got lost. Callers arrive at SOAK_RATE per second for SOAK_MINUTES (default 2/s for
20 min); desk phones answer, each caller talks SOAK_TALK_S; every fifth call is put on
hold from the agent's browser API and taken back. Every agent has a WebSocket open, as
a browser would.

At the end: lost pops (an answered call whose agent's socket never got its pop), lost
recordings (an answered call whose recording is not complete), calls not completed in
the store, and the service's memory (RSS) sampled each minute — flat means the last
sample is within 10% of the one half-way through (a leak grows all along; caches and
the allocator settle in the first minutes: tests/asterisk/test_no_leak.py checks that
no per-call object outlives its call). Writes
`bench/results/soak-latest.json`; exits 1 when anything was lost or memory grew.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import REPO, BenchError, ServiceProcess, until_idle
from bench.results import machine
from telephony.auth import ensure_user
from telephony.config import AgentConfig
from telephony.sandbox.instance import find_install
from telephony.sandbox.pair import Sandbox, agent_endpoint
from telephony.store.db import create_engine
from telephony.store.migrate import migrate
from telephony.store.repo import CallStore
from telephony.world.controller import Leg, PhoneBehaviour, World

DID = "908501234567"
PASSWORD = "soak pass phrase for agents"
FIRST_PHONE = 2001
HOLD_EVERY = 5
HOLD_S = 1.0
MAX_RSS_GROWTH = 0.10
RESULTS = REPO / "bench" / "results" / "soak-latest.json"


@dataclass(frozen=True)
class Options:
    minutes: float = 20.0
    rate_per_s: float = 2.0
    talk_s: float = 4.0

    @property
    def phones(self) -> int:
        # Enough desk phones for the calls up at once (answer + talk + hold), with slack.
        return max(4, int(self.rate_per_s * (self.talk_s + HOLD_S + 2.0) * 1.5) + 1)


def options_from_env() -> Options:
    return Options(
        minutes=float(os.environ.get("SOAK_MINUTES", "20")),
        rate_per_s=float(os.environ.get("SOAK_RATE", "2")),
        talk_s=float(os.environ.get("SOAK_TALK_S", "4")),
    )


def _say(text: str) -> None:
    print(f"[soak] {text}", file=sys.stderr, flush=True)


@dataclass
class Browser:
    """One agent's logged-in session and WebSocket: the call ids it was popped."""

    agent_id: str
    http: aiohttp.ClientSession
    csrf: str = ""
    popped: set[str] = field(default_factory=set)
    call_of: dict[str, str] = field(default_factory=dict)  # caller's digits → call id
    task: asyncio.Task[None] | None = None

    async def read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            data = json.loads(message.data)
            if data.get("type") == "pop":
                pop = data["pop"]
                self.popped.add(str(pop["call_id"]))
                number = str(pop["caller"].get("number") or "").lstrip("+")
                self.call_of[number] = str(pop["call_id"])


class Browsers:
    def __init__(self) -> None:
        self.by_agent: dict[str, Browser] = {}

    async def connect(self, url: str, agent_ids: Sequence[str]) -> None:
        for agent_id in agent_ids:
            http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            browser = Browser(agent_id, http)
            self.by_agent[agent_id] = browser
            login = await http.post(
                f"{url}/login", json={"username": f"u-{agent_id}", "password": PASSWORD}
            )
            if login.status != 200:
                raise BenchError(f"login {agent_id}: {login.status} {await login.text()}")
            browser.csrf = (await login.json())["csrf_token"]
            ws = await http.ws_connect(f"{url}/ws", origin=url, heartbeat=20)
            browser.task = asyncio.get_running_loop().create_task(browser.read(ws))

    def popped(self, agent_id: str) -> set[str]:
        browser = self.by_agent.get(agent_id)
        return browser.popped if browser else set()

    async def close(self) -> None:
        for browser in self.by_agent.values():
            if browser.task is not None:
                browser.task.cancel()
        await asyncio.gather(
            *(b.task for b in self.by_agent.values() if b.task), return_exceptions=True
        )
        for browser in self.by_agent.values():
            await browser.http.close()


def rss_mb(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def run(options: Options | None = None) -> dict[str, Any]:
    options = options or options_from_env()
    phones = tuple(str(FIRST_PHONE + i) for i in range(options.phones))
    box = Sandbox(phone_extensions=phones)
    _say(f"PBX + world with {len(phones)} desk phones")
    box.start()
    workdir = Path(tempfile.mkdtemp(prefix="thirdring-soak-"))
    try:
        return asyncio.run(_run(box, options, phones, workdir))
    finally:
        box.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def _prepare(db: Path, agents: Sequence[dict[str, str]]) -> None:
    url = f"sqlite+aiosqlite:///{db}"
    await migrate(url)
    engine = create_engine(url)
    try:
        store = CallStore(engine, "TR")
        await store.upsert_agents([AgentConfig(**agent) for agent in agents])
        for agent in agents:
            await ensure_user(store, f"u-{agent['id']}", PASSWORD, "agent", agent["id"])
    finally:
        await engine.dispose()


async def _run(
    box: Sandbox, options: Options, phones: Sequence[str], workdir: Path
) -> dict[str, Any]:
    agent_ids = [f"a{phone}" for phone in phones]
    db = workdir / "calls.db"
    agents = [
        {"id": a, "name": f"Soak agent {p}", "endpoint": agent_endpoint(p)}
        for a, p in zip(agent_ids, phones, strict=True)
    ]
    await _prepare(db, agents)
    settings = {
        "log_level": "warning",
        "recordings_dir": str(workdir / "recordings"),
        "max_wait_s": 60,
        "rings": {"default": {"cadence": "us", "max_rings": 5, "auto_pause_on_miss": False}},
    }
    service = ServiceProcess(box.pbx, settings, agents, workdir)
    world = World.of(box.world)
    await world.start()
    for phone in phones:
        world.set_phone(phone, PhoneBehaviour(answer_after=0.5, tone_hz=523, listen=False))
    browsers = Browsers()
    rss: list[tuple[float, float]] = []
    try:
        await service.start(within_s=60)
        url = f"http://127.0.0.1:{service.port}"
        await browsers.connect(url, agent_ids)
        placed, answered = await _load(world, browsers, url, options, service, rss)
        _say("load over; waiting for the last recordings' checks")
        await asyncio.sleep(15.0)
        stuck = await until_idle(world.rest)
    finally:
        await browsers.close()
        for leg in list(world.legs.values()):
            await world.hangup(leg)
        await world.stop()
        problems = service.log_problems()
        await service.stop()
    return _report(options, db, browsers, placed, answered, rss, problems, len(stuck))


async def _load(
    world: World,
    browsers: Browsers,
    url: str,
    options: Options,
    service: ServiceProcess,
    rss: list[tuple[float, float]],
) -> tuple[int, int]:
    count = int(options.rate_per_s * options.minutes * 60)
    started = time.monotonic()
    _say(f"{count} calls at {options.rate_per_s}/s for {options.minutes:g} min")
    calls = [
        asyncio.create_task(
            _one_call(world, browsers, url, i, started + i / options.rate_per_s, options.talk_s)
        )
        for i in range(count)
    ]
    next_sample = started
    while not all(task.done() for task in calls):
        now = time.monotonic()
        if now >= next_sample:
            rss.append((round((now - started) / 60, 1), rss_mb(service.pid)))
            _say(f"minute {rss[-1][0]:g}: service RSS {rss[-1][1]} MB")
            next_sample += 60.0
        await asyncio.sleep(0.5)
    rss.append((round((time.monotonic() - started) / 60, 1), rss_mb(service.pid)))
    answered = sum(1 for task in calls if task.result())
    return count, answered


async def _one_call(
    world: World, browsers: Browsers, url: str, i: int, at: float, talk_s: float
) -> bool:
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    try:
        leg = await world.call(DID, f"+9055{i:08d}", f"Soak {i}", tone_hz=440, listen=False)
        await asyncio.wait_for(leg.answered.wait(), 30)
    except Exception:  # not placed or not answered: counted as a failure
        return False
    try:
        if i % HOLD_EVERY == 0:
            await asyncio.sleep(1.0)
            await _hold_and_back(browsers, url, leg)
        await asyncio.sleep(talk_s)
    finally:
        await world.hangup(leg)
    return True


async def _hold_and_back(browsers: Browsers, url: str, leg: Leg) -> None:
    """The agent who has this caller presses hold in the browser, then takes it back.
    Every agent popped for the call tries; only the one on it is allowed."""
    number = leg.number.lstrip("+")
    for browser in browsers.by_agent.values():
        call_id = browser.call_of.get(number)
        if call_id is None:
            continue
        headers = {"X-CSRF-Token": browser.csrf}
        async with browser.http.post(f"{url}/api/calls/{call_id}/hold", headers=headers) as r:
            if r.status != 200:
                continue
        await asyncio.sleep(HOLD_S)
        await browser.http.post(f"{url}/api/calls/{call_id}/retrieve", headers=headers)
        return


def _report(
    options: Options,
    db: Path,
    browsers: Browsers,
    placed: int,
    answered: int,
    rss: list[tuple[float, float]],
    problems: dict[str, int],
    stuck: int,
) -> dict[str, Any]:
    with sqlite3.connect(db) as conn:
        talked = conn.execute(
            "SELECT id, agent_id FROM calls WHERE answered_at IS NOT NULL AND agent_id IS NOT NULL"
        ).fetchall()
        open_calls = conn.execute("SELECT count(*) FROM calls WHERE ended_at IS NULL").fetchone()
        statuses = dict(
            conn.execute("SELECT status, count(*) FROM recordings GROUP BY status").fetchall()
        )
        recorded = {
            row[0]
            for row in conn.execute("SELECT call_id FROM recordings WHERE status = 'complete'")
        }
        holds = conn.execute("SELECT count(*) FROM holds").fetchone()[0]
    lost_pops = [cid for cid, agent in talked if cid not in browsers.popped(agent)]
    lost_recordings = [cid for cid, _ in talked if cid not in recorded]
    growth, second_half = rss_growth(rss)
    result = {
        "machine": machine(_asterisk()).to_json(),
        "params": {
            "minutes": options.minutes,
            "rate_per_s": options.rate_per_s,
            "talk_s": options.talk_s,
            "hold_every": HOLD_EVERY,
            "phones": options.phones,
        },
        "placed": placed,
        "answered": answered,
        "talked_in_store": len(talked),
        "holds": holds,
        "lost_pops": len(lost_pops),
        "lost_recordings": len(lost_recordings),
        "recording_statuses": statuses,
        "calls_not_completed": open_calls[0] if open_calls else 0,
        "pbx_channels_left": stuck,
        "rss_mb": rss,
        "rss_growth_after_warmup": round(growth, 3),
        "rss_growth_second_half": round(second_half, 3),
        "service_log_problems": dict(problems),
        "examples": {"lost_pops": lost_pops[:5], "lost_recordings": lost_recordings[:5]},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return result


def rss_growth(rss: list[tuple[float, float]]) -> tuple[float, float]:
    """(growth after the warm-up minute, growth over the second half) of RSS samples."""
    after_warmup = [mb for minute, mb in rss if minute >= 1.0] or [mb for _, mb in rss]
    if not after_warmup:
        return 0.0, 0.0
    middle = after_warmup[len(after_warmup) // 2]
    return (
        (after_warmup[-1] - after_warmup[0]) / after_warmup[0],
        (after_warmup[-1] - middle) / middle,
    )


def _asterisk() -> str:
    try:
        return find_install().version()
    except Exception:
        return "unknown"


def main() -> int:
    result = run()
    print(json.dumps({k: v for k, v in result.items() if k != "examples"}, indent=2))
    failed = (
        result["lost_pops"]
        or result["lost_recordings"]
        or result["calls_not_completed"]
        or result["answered"] < result["placed"]
        or result["rss_growth_second_half"] > MAX_RSS_GROWTH
    )
    print(
        f"soak: {result['placed']} calls, {result['answered']} answered, "
        f"{result['holds']} holds; lost pops {result['lost_pops']}, lost recordings "
        f"{result['lost_recordings']}; RSS {result['rss_mb'][0][1]} → {result['rss_mb'][-1][1]} MB"
        f" ({result['rss_growth_after_warmup']:+.1%} after the warm-up minute, "
        f"{result['rss_growth_second_half']:+.1%} over the second half)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
