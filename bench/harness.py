"""What every Asterisk benchmark needs: the service as its own process, callers, idle checks.

The service runs as in production, `python -m telephony serve` in a process of its own
(its event loop shares nothing with the world's callers or the observer), configured
by a TOML file with the ARI password in the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from telephony.ari import AriError, AriRest, Channel
from telephony.sandbox.instance import AsteriskInstance
from telephony.world.controller import Leg, World

REPO = Path(__file__).resolve().parents[1]


class BenchError(RuntimeError):
    """A benchmark could not run; the message says why (and where the logs are)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the benchmark dies, however it dies."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def toml_value(value: object) -> str:
    """A TOML value: scalars, lists, and dicts as inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string (ASCII, \u escapes) is a TOML basic string


class ServiceProcess:
    """The ThirdRing service against `pbx`, with `settings` (TOML keys) and `agents`.

    `src` is the checkout whose `telephony` package runs (default: this one); pointing
    it at another checkout compares two versions of the service on the same bench.
    """

    def __init__(
        self,
        pbx: AsteriskInstance,
        settings: Mapping[str, object],
        agents: Sequence[Mapping[str, str]],
        workdir: Path,
        *,
        src: Path = REPO,
    ) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.log_path = workdir / "service.log"
        self._src = src
        self._pbx = pbx
        values: dict[str, object] = {
            "ari_url": pbx.ari_url,
            "ari_username": pbx.ari_username,
            "database_url": f"sqlite+aiosqlite:///{workdir / 'calls.db'}",
            "http_port": self.port,
            "log_json": True,
            **settings,
        }
        lines = [f"{key} = {toml_value(value)}" for key, value in values.items()]
        for agent in agents:
            lines += ["", "[[agents]]", *(f"{k} = {toml_value(v)}" for k, v in agent.items())]
        self.config_path = workdir / "thirdring.toml"
        self._config = "\n".join(lines) + "\n"
        self._proc: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self._config)
        env = {
            **os.environ,
            "THIRDRING_ARI_PASSWORD": self._pbx.ari_password,
            "PYTHONPATH": str(self._src),
        }
        with self.log_path.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "telephony", "serve", "--config", str(self.config_path)],
                cwd=self._src,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )

    async def start(self, within_s: float = 30.0) -> None:
        """Start it and wait until /healthz says ARI is connected."""
        self._proc = proc = self._spawn()
        deadline = asyncio.get_running_loop().time() + within_s
        async with aiohttp.ClientSession() as http:
            while True:
                if proc.poll() is not None:
                    raise BenchError(f"the service exited at start:\n{self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, ValueError):
                    async with http.get(f"http://127.0.0.1:{self.port}/healthz") as resp:
                        health = await resp.json()
                        if health.get("ari") == "connected":
                            break
                if asyncio.get_running_loop().time() > deadline:
                    raise BenchError(f"the service did not connect in {within_s}s")
                await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # its reconcile after connecting (nothing to do on an idle PBX)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def stop(self, within_s: float = 15.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)  # aiohttp's run_app shuts down cleanly on SIGINT
        try:
            await asyncio.to_thread(proc.wait, within_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait, 5)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_problems(self) -> Counter[str]:
        """`level event` of every warning and error the service logged (JSON lines)."""
        found: Counter[str] = Counter()
        if not self.log_path.exists():
            return found
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                record: Any = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("level") in ("warning", "error"):
                found[f"{record['level']} {record.get('event')}"] += 1
        return found


async def place_calls(world: World, did: str, count: int) -> tuple[list[Leg], list[str]]:
    """`count` callers dial `did` at once (distinct numbers). Returns the callers placed
    and, for each that could not be, why (the world's ARI refused or timed out)."""
    outcomes = await asyncio.gather(
        *(
            world.call(did, f"+9053{i:08d}", f"Bench caller {i}", tone_hz=None, listen=False)
            for i in range(1, count + 1)
        ),
        return_exceptions=True,
    )
    placed = [o for o in outcomes if isinstance(o, Leg)]
    failed = [str(o) for o in outcomes if isinstance(o, AriError)]
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, AriError):
            raise outcome
    return placed, failed


async def hang_up_all(world: World, legs: Sequence[Leg]) -> None:
    await asyncio.gather(*(world.hangup(leg) for leg in legs))


async def until_idle(rest: AriRest, within_s: float = 20.0) -> list[Channel]:
    """Wait until this Asterisk has no channel left. Channels still up after `within_s`
    are hung up (so the next measurement starts as clean as it can) and returned, as
    evidence; if some outlive that too, the wait ends after another `within_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while channels := await rest.list_channels():
        if loop.time() > deadline:
            for channel in channels:
                with contextlib.suppress(AriError):
                    await rest.hangup(channel.id)
            for _ in range(int(within_s / 0.5)):
                if not await rest.list_channels():
                    break
                await asyncio.sleep(0.5)
            return channels
        await asyncio.sleep(0.2)
    return []
