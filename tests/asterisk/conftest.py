"""Real Asterisk fixtures: the PBX under test, the world around it, the service.

These tests FAIL when the sandbox cannot start (never skip): `Sandbox.start()` raises.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from telephony.ari import AriRest
from telephony.config import Settings, load_settings
from telephony.sandbox.pair import Sandbox, agent_endpoint
from telephony.service import RUNTIME_KEY, Runtime, build_app
from telephony.store.recordings import RecordingRecord
from telephony.store.repo import CallRecord
from telephony.world.controller import PhoneBehaviour, World

from .proxy import CuttableProxy

AGENTS = [
    {"id": "ayse", "name": "Ayşe Yılmaz", "endpoint": agent_endpoint("2001")},
    {"id": "mehmet", "name": "Mehmet Kaya", "endpoint": agent_endpoint("2002")},
]
CALLER_TONE = 440
AGENT_TONE = 1000


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    # 2001-2003 for most tests; up to 2020 for the resilience tests with 20 calls up.
    with Sandbox(phone_extensions=tuple(str(2001 + i) for i in range(20))) as running:
        yield running


@pytest.fixture
async def world(sandbox: Sandbox) -> AsyncIterator[World]:
    w = World.of(sandbox.world)
    await w.start()
    try:
        yield w
    finally:
        for leg in list(w.legs.values()):
            await w.hangup(leg)
        await w.stop()
        await _until_pbx_idle(sandbox)


async def _until_pbx_idle(sandbox: Sandbox) -> None:
    """Isolation: the next test starts only when this one's calls are gone from the PBX."""
    pbx = sandbox.pbx
    async with AriRest(pbx.ari_url, pbx.ari_username, pbx.ari_password) as rest:

        async def idle() -> bool:
            return not await rest.list_channels() and not await rest.list_bridges()

        try:
            await eventually(idle, timeout=10, what="the PBX to have no channels left")
        except AssertionError:
            left = [(c.id, c.state, c.dialplan) for c in await rest.list_channels()]
            bridges = [(b.id, b.channels) for b in await rest.list_bridges()]
            raise AssertionError(f"left on the PBX: {left} {bridges}") from None


def set_phones(
    world: World, behaviour: PhoneBehaviour, extensions: tuple[str, ...] = ("2001", "2002")
) -> None:
    """The agents' desk phones all behave alike."""
    for extension in extensions:
        world.set_phone(extension, behaviour)


@pytest.fixture
async def proxy(sandbox: Sandbox) -> AsyncIterator[CuttableProxy]:
    """A relay to the PBX's ARI that a test can cut, like a network blip."""
    relay = CuttableProxy(sandbox.pbx.http_port)
    await relay.start()
    yield relay
    await relay.close()


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 10.0, what: str = "condition"
) -> Any:
    """Poll `check` until it returns something truthy (real Asterisk, real time)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class RunningService:
    app: web.Application
    runner: web.AppRunner
    url: str
    settings: Settings
    stopped: bool = field(default=False)

    @property
    def runtime(self) -> Runtime:
        return self.app[RUNTIME_KEY]

    async def health(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.get(f"{self.url}/healthz") as resp:
            data: dict[str, Any] = await resp.json()
            return data

    async def wait_connected(self, timeout: float = 15.0) -> None:
        async def connected() -> bool:
            return self.runtime.ari_state() == "connected" and bool(
                self.runtime.calls and self.runtime.calls.reconciled
            )

        await eventually(connected, timeout, "ARI connected")

    async def ended_call(self, timeout: float = 10.0, number: str | None = None) -> CallRecord:
        """The newest call once ended (of caller `number`, if given: the newest row may
        still be an earlier call while a new one's first write is on its way)."""

        async def ended() -> CallRecord | None:
            calls = await self.runtime.store.recent_calls(limit=5)
            if number is not None:
                calls = [c for c in calls if c.caller_number == number]
            return calls[0] if calls and calls[0].ended_at else None

        result: CallRecord = await eventually(ended, timeout, "the call to end in the store")
        return result

    async def checked_recording(self, call_id: str, timeout: float = 15.0) -> RecordingRecord:
        """The call's recording once the check after the call has run."""

        async def checked() -> RecordingRecord | None:
            record = await self.runtime.recordings.get(call_id)
            return record if record is not None and record.status != "recording" else None

        result: RecordingRecord = await eventually(checked, timeout, "the recording check")
        return result

    def recording_file(self, record: RecordingRecord) -> Path:
        assert record.path is not None, f"no file kept: {record.status} {record.detail}"
        return Path(self.settings.recordings_dir) / record.path

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            await self.runner.cleanup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


StartService = Callable[..., Awaitable[RunningService]]


def service_values(sandbox: Sandbox, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """The tests' service settings (the same database and recordings for a restart)."""
    return {
        "ari_url": sandbox.pbx.ari_url,
        "ari_username": sandbox.pbx.ari_username,
        "ari_password": sandbox.pbx.ari_password,
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/calls.db",
        "recordings_dir": str(tmp_path / "recordings"),
        "agents": AGENTS,
        # A fast 1-second ring cycle keeps tests short: 6 rings = 6 s to the
        # deadline; an agent's phone rings 3 rings = 3 s at most.
        "rings": {
            "default": {
                "cadence": "fast",
                "max_rings": 6,
                "agent_rings": 3,
                "auto_pause_on_miss": False,  # its own test below
            },
            "custom_cadences": {"fast": {"segments_ms": [500, 500]}},
        },
        "max_wait_s": 20.0,
        "no_agent_retry_s": 0.3,
        "http_port": free_port(),
        "log_json": False,
        **overrides,
    }


@dataclass
class ServiceProcess:
    """The service as its own process (`python -m telephony serve`), to be killed."""

    process: asyncio.subprocess.Process
    url: str

    async def kill_9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.process.wait(), 5)


SpawnService = Callable[..., Awaitable[ServiceProcess]]


@pytest.fixture
async def spawn_service(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[SpawnService]:
    """Start the real service process with the tests' settings (+ overrides); it can be
    `kill -9`ed and a `start_service(**same overrides)` takes over its calls."""
    spawned: list[asyncio.subprocess.Process] = []
    logs = []

    async def spawn(**overrides: Any) -> ServiceProcess:
        values = service_values(sandbox, tmp_path, **overrides)
        env = {**os.environ, **{f"THIRDRING_{k.upper()}": _env(v) for k, v in values.items()}}
        log = (tmp_path / f"service-process-{len(spawned)}.log").open("wb")
        logs.append(log)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "telephony", "serve", env=env, stdout=log, stderr=log
        )
        spawned.append(process)
        url = f"http://127.0.0.1:{values['http_port']}"
        await eventually(lambda: _connected(f"{url}/healthz"), 20, "the service process")
        return ServiceProcess(process, url)

    yield spawn
    for process in spawned:
        if process.returncode is None:
            process.kill()
            await process.wait()
    for log in logs:
        log.close()


def _env(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


async def _connected(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            return bool((await response.json()).get("ari") == "connected")
    except (aiohttp.ClientError, ValueError):
        return False


@pytest.fixture
async def start_service(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[StartService]:
    started: list[RunningService] = []

    async def start(*, wait: bool = True, **overrides: Any) -> RunningService:
        settings = load_settings(**service_values(sandbox, tmp_path, **overrides))
        app = build_app(settings)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", settings.http_port).start()
        service = RunningService(app, runner, f"http://127.0.0.1:{settings.http_port}", settings)
        started.append(service)
        if wait:
            await service.wait_connected()
        return service

    yield start
    for service in started:
        await service.stop()
