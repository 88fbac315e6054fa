"""Faults around a real PBX: the ARI socket drops, the service restarts, Asterisk comes late,
the service is not there at all, and callers send hostile Caller IDs."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from telephony.config import load_settings
from telephony.sandbox.pair import Sandbox
from telephony.service import build_app
from telephony.world.controller import PhoneBehaviour, World

from .conftest import (
    AGENT_TONE,
    AGENTS,
    CALLER_TONE,
    RunningService,
    StartService,
    eventually,
    service_values,
    set_phones,
)
from .proxy import CuttableProxy


async def test_socket_cut_mid_call_keeps_the_call_and_knows_it_again(
    world: World, start_service: StartService, proxy: CuttableProxy
) -> None:
    service = await start_service(ari_url=f"http://127.0.0.1:{proxy.port}")
    set_phones(world, PhoneBehaviour(answer_after=0.2, tone_hz=AGENT_TONE))
    caller = await world.call("908501234567", "+905551112244", "Hakan")
    await asyncio.wait_for(caller.answered.wait(), 10)
    await eventually(lambda: _talking(service), what="talking")

    await proxy.cut()
    await eventually(_state_is(service, "disconnected"), what="ARI disconnected")
    assert (await service.health())["ari"] == "disconnected"
    await asyncio.sleep(1.0)
    assert not caller.ended.is_set()  # the call stays up while we are away

    proxy.restore()
    await service.wait_connected()
    live = service.runtime.live_calls()
    assert len(live) == 1 and live[0]["phase"] == "talking"
    await world.hangup(caller)
    record = await service.ended_call()
    assert record.outcome == "answered" and record.hangup_by == "caller"


async def test_hangup_during_outage_is_caught_up_on_reconnect(
    world: World, start_service: StartService, proxy: CuttableProxy
) -> None:
    service = await start_service(ari_url=f"http://127.0.0.1:{proxy.port}")
    set_phones(world, PhoneBehaviour(answer_after=0.2))
    caller = await world.call("908501234567", "+905551112255", "Irmak")
    await asyncio.wait_for(caller.answered.wait(), 10)
    await eventually(lambda: _talking(service), what="talking")
    await proxy.cut()
    await world.hangup(caller)  # its events are lost
    await asyncio.sleep(0.5)
    proxy.restore()
    record = await service.ended_call()
    assert record.outcome == "answered"
    phones = [leg for legs in world.phone_legs.values() for leg in legs]
    await asyncio.wait_for(phones[0].ended.wait(), 5)  # and the agent's leg is not orphaned
    assert all(a["status"] == "available" for a in service.runtime.calls.pool_snapshot())  # type: ignore[union-attr]


async def test_service_restart_mid_call_adopts_the_call(
    world: World, start_service: StartService
) -> None:
    first = await start_service()
    set_phones(world, PhoneBehaviour(answer_after=0.2))
    caller = await world.call("908501234567", "+905551112266", "Jale")
    await asyncio.wait_for(caller.answered.wait(), 10)
    await eventually(lambda: _talking(first), what="talking")
    await first.stop()
    await asyncio.sleep(0.5)
    assert not caller.ended.is_set()

    second = await start_service()  # same database
    live = second.runtime.live_calls()
    assert len(live) == 1 and live[0]["phase"] == "talking"
    await world.hangup(caller)
    record = await second.ended_call()
    assert record.outcome == "answered" and record.hangup_by == "caller"


async def test_service_starts_before_asterisk_and_connects_when_it_appears(
    tmp_path: Path,
) -> None:
    late = Sandbox(phone_extensions=("2001",))  # a PBX of its own, started late
    service = await _serve(late, tmp_path)
    url = f"{service.url}/healthz"
    try:
        async with aiohttp.ClientSession() as http:
            await asyncio.sleep(1.0)
            async with http.get(url) as resp:
                body = await resp.json()
            assert resp.status == 200
            assert body["ari"] == "disconnected" and body["status"] == "degraded"
            await asyncio.to_thread(late.start)

            async def connected() -> bool:
                async with http.get(url) as r:
                    return bool((await r.json())["ari"] == "connected")

            await eventually(connected, timeout=30, what="ARI connected after Asterisk came up")
    finally:
        await service.stop()
        late.stop()


async def test_without_the_service_the_dialplan_still_serves_the_caller(
    world: World, sandbox: Sandbox
) -> None:
    # No service connected: Stasis() fails and the fallback rings the agents' phones.
    world.set_phone("2001", PhoneBehaviour(answer_after=0.3))
    world.set_phone("2002", PhoneBehaviour(answer_after=None))
    world.set_phone("2003", PhoneBehaviour(answer_after=None))
    caller = await world.call("908501234567", "+905551112277", "Kemal")
    await asyncio.wait_for(caller.answered.wait(), 10)
    assert "2001" in world.phone_legs
    await world.hangup(caller)
    recordings = sandbox.pbx.install.host_path(f"{sandbox.pbx.home}/spool/monitor")
    await eventually(
        lambda: _any_file(recordings, "fallback-"), what="the fallback call's recording"
    )


@pytest.mark.parametrize(
    ("number", "name", "stored_number", "stored_name"),
    [
        ("", "", None, "Anonymous"),  # Asterisk presents a missing Caller ID so
        ("anonymous", "Anonymous", None, "Anonymous"),
        # Asterisk and the store each cap a long name: a prefix is kept, at most 80 chars.
        ("+905551112288", "Ayşe " * 40, "+905551112288", "<prefix>"),
        ("05551112299", "<script>alert(1)</script>", "+905551112299", "<script>alert(1)</script>"),
    ],
    ids=["no-caller-id", "anonymous", "200-char-name", "html-name"],
)
async def test_hostile_caller_ids_are_stored_as_text(
    world: World,
    start_service: StartService,
    number: str,
    name: str,
    stored_number: str | None,
    stored_name: str,
) -> None:
    service = await start_service()
    set_phones(world, PhoneBehaviour(answer_after=0.2))
    caller = await world.call("908501234567", number, name, listen=False)
    await asyncio.wait_for(caller.answered.wait(), 10)
    await world.hangup(caller)
    record = await service.ended_call()
    assert record.outcome == "answered"
    assert record.caller_number == stored_number
    if stored_name == "<prefix>":
        assert 40 <= len(record.caller_name) <= 80 and name.startswith(record.caller_name)
    else:
        assert record.caller_name == stored_name


def _state_is(service: RunningService, state: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return service.runtime.ari_state() == state

    return check


async def _talking(service: object) -> bool:
    """Bridged: `answered_at` is set once caller and agent share the bridge."""
    live = service.runtime.live_calls()  # type: ignore[attr-defined]
    return bool(live and live[0]["phase"] == "talking" and live[0]["answered_at"])


async def _any_file(folder: object, prefix: str) -> bool:
    return any(p.name.startswith(prefix) for p in Path(str(folder)).glob("*"))


async def test_an_asterisk_restart_is_reconnected_within_5_s_and_its_calls_closed(
    tmp_path: Path,
) -> None:
    box = Sandbox(phone_extensions=("2001",))  # a PBX of its own: this test restarts it
    await asyncio.to_thread(box.start)
    service = await _serve(box, tmp_path)
    world = World.of(box.world)
    try:
        await service.wait_connected()
        await world.start()
        world.set_phone("2001", PhoneBehaviour(answer_after=0.2))
        caller = await world.call("908501234567", "+905551119900", "Restart")
        await asyncio.wait_for(caller.answered.wait(), 10)
        await eventually(lambda: _talking(service), what="talking")
        # Asterisk dies (a crash: no hangup events for the calls), then comes back.
        assert box.pbx.proc is not None
        box.pbx.proc.kill()
        await asyncio.to_thread(box.pbx.proc.wait)
        await eventually(_state_is(service, "disconnected"), what="ARI disconnected")
        back = asyncio.get_running_loop().time()
        await asyncio.to_thread(box.pbx.start)
        await service.wait_connected(timeout=15)
        assert asyncio.get_running_loop().time() - back < 5.0 + 2.0  # + Asterisk's boot
        record = await service.ended_call()
        assert record.end_reason == "pbx_restarted" and record.hangup_by == "system"
        assert record.outcome == "answered"  # as far as it got
    finally:
        await world.stop()
        await service.stop()
        box.stop()


async def test_a_locked_database_delays_the_writes_and_loses_none(
    world: World, start_service: StartService, tmp_path: Path
) -> None:
    service = await start_service()
    set_phones(world, PhoneBehaviour(answer_after=0.3, tone_hz=AGENT_TONE))
    # Another process holds SQLite's write lock past its 5 s busy timeout.
    lock = sqlite3.connect(tmp_path / "calls.db", timeout=1, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        caller = await world.call("908501234567", "+905551119911", "Kilit", tone_hz=CALLER_TONE)
        await asyncio.wait_for(caller.answered.wait(), 10)  # calls keep flowing
        await asyncio.sleep(2.0)
        await world.hangup(caller)
        await asyncio.sleep(6.0)  # the call's writes wait, fail, and are tried again
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    record = await service.ended_call(timeout=40, number="+905551119911")
    assert record.outcome == "answered" and record.answered_at is not None
    attempts = await service.runtime.store.attempts(record.id)
    assert [a.outcome for a in attempts] == ["answered"]
    kept = await service.checked_recording(record.id, timeout=40)
    assert kept.status == "complete", kept.detail


async def _serve(box: Sandbox, tmp_path: Path) -> RunningService:
    """The service against a PBX of the test's own (not the session's), not waiting."""
    settings = load_settings(**service_values(box, tmp_path, agents=AGENTS[:1]))
    runner = web.AppRunner(build_app(settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.http_port).start()
    return RunningService(runner.app, runner, f"http://127.0.0.1:{settings.http_port}", settings)
