"""Ring-all on a real PBX: both ringing agents get the pop over their sockets (one of
them with a frozen supervisor tab connected); when one answers, the other's pop is
withdrawn; the one who answered gets the call, then its end."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from telephony.auth import ensure_user
from telephony.world.controller import Leg, PhoneBehaviour, World

from .conftest import RunningService, StartService, eventually, set_phones

pytestmark = pytest.mark.asterisk

PASSWORD = "ring all pass phrase"
RING_ALL = {
    "default": {
        "cadence": "fast",
        "max_rings": 8,
        "agent_rings": 6,
        "selection": "ring_all",
        "auto_pause_on_miss": False,
    },
    "custom_cadences": {"fast": {"segments_ms": [500, 500]}},
}


class Browser:
    """A logged-in user's socket, recording every message it receives."""

    def __init__(self) -> None:
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.messages: list[dict[str, Any]] = []
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None

    async def open(self, service: RunningService, username: str, *, read: bool = True) -> None:
        login = await self.http.post(
            f"{service.url}/login", json={"username": username, "password": PASSWORD}
        )
        assert login.status == 200
        self.ws = await self.http.ws_connect(f"{service.url}/ws", origin=service.url)
        if read:
            self._task = asyncio.get_running_loop().create_task(self._read(self.ws))
        else:
            assert self.ws._response.connection is not None
            self.ws._response.connection.transport.pause_reading()  # type: ignore[union-attr]

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            self.messages.append(json.loads(message.data))

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == type_]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.http.close()


async def test_ring_all_pops_both_and_withdraws_from_the_one_who_did_not_answer(
    world: World, start_service: StartService
) -> None:
    service = await start_service(rings=RING_ALL)
    store = service.runtime.store
    await ensure_user(store, "ayse-user", PASSWORD, "agent", "ayse")
    await ensure_user(store, "mehmet-user", PASSWORD, "agent", "mehmet")
    await ensure_user(store, "sup", PASSWORD, "supervisor")
    set_phones(world, PhoneBehaviour(answer_after=None))
    ayse, mehmet, frozen = Browser(), Browser(), Browser()
    try:
        await frozen.open(service, "sup", read=False)
        await ayse.open(service, "ayse-user")
        await mehmet.open(service, "mehmet-user")

        async def snapshots() -> bool:
            return bool(ayse.of("snapshot")) and bool(mehmet.of("snapshot"))

        await eventually(snapshots, 5, "the snapshots")

        caller = await world.call("908501234567", "+905421234567", "Elif Şahin")

        async def both_popped() -> bool:
            return bool(ayse.of("pop")) and bool(mehmet.of("pop"))

        await eventually(both_popped, 10, "both agents' pops")
        for browser in (ayse, mehmet):
            [pop] = browser.of("pop")
            assert pop["pop"]["caller"]["name"] == "Elif Şahin"
            assert pop["pop"]["caller"]["display_number"] == "+90 542 123 45 67"
        assert ayse.of("pop")[0]["id"] == mehmet.of("pop")[0]["id"]  # one message for both

        async def ayse_ringing() -> Leg | None:
            legs = world.phone_legs.get("2001", [])
            return legs[-1] if legs and legs[-1].rang.is_set() else None

        leg: Leg = await eventually(ayse_ringing, 10, "Ayşe's phone to ring")
        assert not leg.answered.is_set()
        await world.rest.answer(leg.channel_id)

        async def withdrawn() -> bool:
            return bool(mehmet.of("pop_withdrawn")) and bool(ayse.of("call"))

        await eventually(withdrawn, 10, "Mehmet's pop withdrawn, Ayşe's call")
        [gone] = mehmet.of("pop_withdrawn")
        assert gone["reason"] == "answered_elsewhere"
        assert gone["call_id"] == ayse.of("pop")[0]["pop"]["call_id"]
        assert ayse.of("pop_withdrawn") == []
        assert ayse.of("call")[-1]["call"]["agent_id"] == "ayse"

        await world.hangup(caller)
        await eventually(lambda: _true(ayse.of("call_ended")), 10, "the call's end")
        assert mehmet.of("call_ended") == []
        ids = [m["id"] for m in ayse.messages]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
    finally:
        for browser in (ayse, mehmet, frozen):
            await browser.close()


async def _true(value: object) -> bool:
    return bool(value)
