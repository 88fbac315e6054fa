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
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from telephony.auth import ensure_user
from telephony.calls.presence import AgentPresence
from telephony.config import load_settings
from telephony.heap import freeze_startup_heap
from telephony.ivr.defaults import default_flow
from telephony.logs import configure_logging
from telephony.sandbox.pair import Sandbox, agent_endpoint
from telephony.sandbox.rootfs import SandboxError
from telephony.scripts.library import default_library
from telephony.scripts.model import Language
from telephony.service import RUNTIME_KEY, build_app
from telephony.store.notes import Notes
from telephony.store.repo import CallStore
from telephony.web.call_script import CALL_SCRIPTS_KEY, Company
from telephony.web.demo import DEMO_KEY
from telephony.world.controller import Leg, PhoneBehaviour, World

AGENTS = [
    ("ayse", "Ayşe Yılmaz", "2001"),
    ("mehmet", "Mehmet Kaya", "2002"),
    ("zeynep", "Zeynep Demir", "2003"),
]
# Two adverts, two numbers: the DID says where the caller came from.
DIDS = ["908502220001", "908502220002"]
# Each advertised number's front door (the default IVR flow): kind of business, company,
# and its hours: the first is open round the clock (so a demo at night has calls for the
# agents), the second keeps office hours (its callers after hours are offered a callback).
BUSINESSES = {
    "908502220001": ("mobilya atölyesi", "Usta Ahşap", True),
    "908502220002": ("hukuk bürosu", "Adalet Hukuk", False),
}
# The script each advert's calls get (issue 7): the inbound sale, in Turkish on the
# first number and in English on the second, so the demo shows both languages.
SCRIPT_LANGUAGES: dict[str, Language] = {DIDS[0]: "tr", DIDS[1]: "en"}
ALL_WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
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
# The demo agent: a person at the browser. Their desk phone (simulated by the world)
# rings until they press the page's demo "answer" control.
DEMO_AGENT = "ayse"
WRAPUP_S = 10.0  # the simulated agents take it too: short


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
        wrapup_s=WRAPUP_S,
        # IVR prompts (TTS) where the PBX in its root can read them.
        ivr_sounds_dir=str(box.pbx.install.host_path(f"{box.pbx.home}/ivr-sounds")),
        ivr_sounds_pbx_dir=f"{box.pbx.home}/ivr-sounds",
        log_json=False,
    )
    app = build_app(settings)
    app.on_startup.append(freeze_startup_heap)  # after the service's own start
    runner = web.AppRunner(app)
    await runner.setup()  # migrations and agents are in place after this
    # No default passwords: fresh random ones every run, printed once.
    logins = {role: secrets.token_urlsafe(12) for role in ("supervisor", "admin", "agent")}
    for role, password in logins.items():
        agent_id = DEMO_AGENT if role == "agent" else None
        await ensure_user(app[RUNTIME_KEY].store, role, password, role, agent_id)
    await _seed_history(app[RUNTIME_KEY].store)
    ivr = app[RUNTIME_KEY].ivr
    for did, (activity, company, always_open) in BUSINESSES.items():
        if ivr.flows.flow_for(did) is None:  # an admin's own flow is kept
            flow = (
                default_flow(activity, company, days=ALL_WEEK, opens="00:00", closes="24:00")
                if always_open
                else default_flow(activity, company)
            )
            await ivr.save(did, flow, "demo")
    # Campaigns for the two numbers and a rule for returning callers with an open deal
    # (only those not there yet: an admin's own changes are kept).
    await app[RUNTIME_KEY].scripts.load_defaults(default_library(), SCRIPT_LANGUAGES)
    await app[RUNTIME_KEY].push.prepare()  # the first calls' pops have them
    # The script's words name the company and its kind of business: each advert's own.
    for did, (activity, company, _) in BUSINESSES.items():
        app[CALL_SCRIPTS_KEY].companies[did] = Company(name=company, activity=activity)
    await web.TCPSite(runner, settings.http_host, port).start()
    world = World.of(box.world)
    await world.start()
    phones = {agent_id: phone for agent_id, _, phone in AGENTS}
    app[DEMO_KEY].phone = DeskPhones(world, {DEMO_AGENT: phones[DEMO_AGENT]})
    print(f"[demo] open http://127.0.0.1:{port} — calls start now; Ctrl-C stops", flush=True)
    for role, password in logins.items():
        print(f"[demo] log in as {role} / {password}", flush=True)
    print(f"[demo] ring policies: http://127.0.0.1:{port}/admin/rings (admin)", flush=True)
    print(
        f"[demo] agent workspace: http://127.0.0.1:{port}/workspace (agent = {DEMO_AGENT}; "
        "answer and hang up the simulated desk phone with the page's DEMO buttons)",
        flush=True,
    )
    print(f"[demo] call flows (IVR): http://127.0.0.1:{port}/admin/ivr (admin)", flush=True)
    print(f"[demo] scripts and variants: http://127.0.0.1:{port}/admin/scripts (admin)", flush=True)
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
                for agent_id, _, phone in AGENTS:
                    if agent_id == DEMO_AGENT:  # answered from the page's demo controls
                        world.set_phone(phone, PhoneBehaviour(answer_after=None, listen=False))
                        continue
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
        # The IVR answers first (greeting), so stay on long enough to reach an agent.
        await asyncio.wait_for(caller.ended.wait(), rng.uniform(20.0, 35.0))
    except TimeoutError:
        pass
    finally:
        await world.hangup(caller)  # the caller ends the conversation


class DeskPhones:
    """The demo page's controls for desk phones the world simulates."""

    def __init__(self, world: World, extensions: dict[str, str]) -> None:
        self._world = world
        self._extensions = extensions

    def _legs(self, agent_id: str) -> list[Leg]:
        extension = self._extensions.get(agent_id)
        return list(self._world.phone_legs.get(extension, [])) if extension else []

    async def answer(self, agent_id: str) -> str:
        ringing = [
            leg
            for leg in self._legs(agent_id)
            if not leg.answered.is_set() and not leg.ended.is_set()
        ]
        if not ringing:
            return "your desk phone is not ringing"
        leg = ringing[-1]
        await self._world.rest.answer(leg.channel_id)
        leg.answered.set()
        return "answered"

    async def hangup(self, agent_id: str) -> str:
        talking = [
            leg for leg in self._legs(agent_id) if leg.answered.is_set() and not leg.ended.is_set()
        ]
        if not talking:
            return "your desk phone is not in a call"
        await self._world.hangup(talking[-1])
        return "hung up"


async def _seed_history(store: CallStore) -> None:
    """A repeat caller with an earlier call and its notes, so the first pops show history."""
    number, name = CALLERS[0]
    call_id = "demo-earlier-call"
    if await store.get_call(call_id) is not None:
        return
    start = datetime.now(UTC) - timedelta(days=3)
    await store.call_arrived(
        call_id=call_id,
        did=DIDS[0],
        caller_number_raw=number,
        caller_name_raw=name,
        caller_channel_id="demo",
        arrived_at=start,
    )
    await store.update_call(
        call_id,
        agent_id="mehmet",
        ringing_at=start + timedelta(seconds=1),
        answered_at=start + timedelta(seconds=6),
        ended_at=start + timedelta(minutes=4),
        outcome="answered",
        hangup_by="caller",
    )
    await Notes(store.engine).save(
        call_id,
        {
            "needs": "office furniture for 12 people",
            "notes": "asked for a discount; prefers calls after 14:00",
            "outcome": "offer_made",
            "next_step": "send the offer and call back",
            "next_step_at": start + timedelta(days=4),
        },
        agent_id="mehmet",
        by="demo",
        caller_number=number,
    )
