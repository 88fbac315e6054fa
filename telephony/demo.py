"""`make demo`: the PBX, the world and the service, with a stream of simulated callers.

Everything is real but the people: callers dial two advertised numbers over SIP, desk
phones ring and are answered after a human-ish pause (now and then not at all), and
the conversation is two tones. Ctrl-C stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import signal
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from telephony.auth import ensure_user
from telephony.calls.presence import AgentPresence
from telephony.config import load_settings
from telephony.logs import configure_logging
from telephony.sandbox.pair import Sandbox, agent_endpoint
from telephony.sandbox.rootfs import SandboxError
from telephony.service import RUNTIME_KEY, build_app
from telephony.world.controller import PhoneBehaviour, World

AGENTS = [
    ("ayse", "Ayşe Yılmaz", "2001"),
    ("mehmet", "Mehmet Kaya", "2002"),
    ("zeynep", "Zeynep Demir", "2003"),
]
# Two adverts, two numbers: the DID says where the caller came from.
DIDS = ["908502220001", "908502220002"]
# A small list, so callers come back (repeat callers), plus one anonymous caller.
CALLERS = [
    ("+905321112233", "Ali Vural"),
    ("+905421234567", "Elif Şahin"),
    ("+905551239876", "Burak Öztürk"),
    ("+905301112299", "Selin Aydın"),
    ("+905059998877", "Hasan Çelik"),
    ("", ""),
]
MAX_CONCURRENT = 3


def run_demo(*, port: int, db_path: Path) -> int:
    configure_logging("info", json=False)
    print("[demo] starting the Asterisk sandbox (the first run builds it: ~1 min)", flush=True)
    try:
        box = Sandbox(phone_extensions=tuple(phone for _, _, phone in AGENTS)).start()
    except SandboxError as error:
        print(f"[demo] sandbox: {error}")
        return 1
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        asyncio.run(_run(box, port, db_path.resolve()))
    finally:
        box.stop()
        print("[demo] stopped; no Asterisk left running", flush=True)
    return 0


async def _run(box: Sandbox, port: int, db_path: Path) -> None:
    settings = load_settings(
        ari_url=box.pbx.ari_url,
        ari_username=box.pbx.ari_username,
        ari_password=box.pbx.ari_password,
        database_url=f"sqlite+aiosqlite:///{db_path}",
        http_port=port,
        agents=[{"id": i, "name": n, "endpoint": agent_endpoint(p)} for i, n, p in AGENTS],
        # Turkey's ringback (1 s on, 4 s off): 3 rings = 15 s, each agent 2 rings;
        # at the deadline everyone free rings, then the system answers (queue).
        rings={
            "default": {
                "cadence": "tr",
                "max_rings": 3,
                "agent_rings": 2,
                "escalation": [{"kind": "ring_all"}, {"kind": "queue"}],
            }
        },
        max_wait_s=40,
        log_json=False,
    )
    app = build_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()  # migrations and agents are in place after this
    # No default passwords: fresh random ones every run, printed once.
    logins = {role: secrets.token_urlsafe(12) for role in ("supervisor", "admin")}
    for role, password in logins.items():
        await ensure_user(app[RUNTIME_KEY].store, role, password, role)
    await web.TCPSite(runner, settings.http_host, port).start()
    world = World.of(box.world)
    await world.start()
    print(f"[demo] open http://127.0.0.1:{port} — calls start now; Ctrl-C stops", flush=True)
    for role, password in logins.items():
        print(f"[demo] log in as {role} / {password}", flush=True)
    print(f"[demo] ring policies: http://127.0.0.1:{port}/admin/rings (admin)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    presence = app[RUNTIME_KEY].presence
    simulation = asyncio.create_task(_simulate(world))
    returns = asyncio.create_task(_agents_come_back(presence))
    try:
        await stop.wait()
    finally:
        for task in (simulation, returns):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for leg in list(world.legs.values()):
            await world.hangup(leg)
        await world.stop()
        await runner.cleanup()


async def _agents_come_back(presence: AgentPresence, after_s: float = 20.0) -> None:
    """A simulated agent auto-paused for a missed call is back after a while."""
    while True:
        await asyncio.sleep(2.0)
        now = datetime.now(UTC)
        for agent in presence.snapshot():
            since = agent["since"]
            paused_for = (now - datetime.fromisoformat(since)).total_seconds() if since else 0
            if agent["status"] == "paused" and paused_for >= after_s:
                await presence.unpause(agent["id"], by="demo")


async def _simulate(world: World) -> None:
    rng = random.Random()
    active: set[asyncio.Task[None]] = set()
    try:
        while True:
            if len(active) < MAX_CONCURRENT:
                for _, _, phone in AGENTS:
                    # Mostly answered within 1-3 Turkish rings (5 s each); now and then an
                    # agent lets it ring, so some calls move on or escalate to the queue.
                    never = rng.random() < 0.12
                    world.set_phone(
                        phone,
                        PhoneBehaviour(
                            answer_after=None if never else rng.uniform(1.0, 12.0),
                            tone_hz=1000,
                            listen=False,
                        ),
                    )
                number, name = rng.choice(CALLERS)
                task = asyncio.create_task(_one_call(world, rng, rng.choice(DIDS), number, name))
                active.add(task)
                task.add_done_callback(active.discard)
            await asyncio.sleep(rng.uniform(2.0, 5.0))
    finally:
        for task in active:
            task.cancel()
        await asyncio.gather(*active, return_exceptions=True)


async def _one_call(world: World, rng: random.Random, did: str, number: str, name: str) -> None:
    caller = await world.call(did, number, name, tone_hz=440, listen=False)
    try:
        await asyncio.wait_for(caller.answered.wait(), 45)
        await asyncio.wait_for(caller.ended.wait(), rng.uniform(4.0, 12.0))
    except TimeoutError:
        pass
    finally:
        await world.hangup(caller)  # the caller ends the conversation
