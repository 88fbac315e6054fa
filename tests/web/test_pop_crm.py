"""The external CRM lookup beside the pop (issue 6): the pop never waits for it; its
answer follows as an update; a slow, failing or hostile CRM costs only its own fields.
The CRM here is a small HTTP server of the test's own (an outside system)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from telephony.push.crm import CrmLookup
from telephony.push.hub import Connection, Hub
from telephony.push.pops import Pops, agent_topic
from telephony.store.history import CallerContext

from .conftest import T0
from .test_push_ws import NUMBER, call_snapshot


class FakeCrm:
    def __init__(self) -> None:
        self.asked: list[str] = []
        self.answer: Any = {"name": "Ali Vural (CRM)", "segment": "VIP"}
        self.status = 200
        self.delay_s = 0.05
        self.raw: bytes | None = None

    async def lookup(self, request: web.Request) -> web.Response:
        self.asked.append(request.query.get("phone", ""))
        await asyncio.sleep(self.delay_s)
        if self.raw is not None:
            return web.Response(body=self.raw, status=self.status)
        return web.json_response(self.answer, status=self.status)


@pytest.fixture
async def crm() -> AsyncIterator[tuple[FakeCrm, str]]:
    fake = FakeCrm()
    app = web.Application()
    app.router.add_get("/lookup", fake.lookup)
    server = TestServer(app)
    await server.start_server()
    yield fake, f"http://127.0.0.1:{server.port}/lookup?phone={{e164}}"
    await server.close()


async def _pops_with(url: str, timeout_s: float = 0.5) -> tuple[Pops, list[dict[str, Any]], Any]:
    hub = Hub()

    async def look_up(number: str | None, call_id: str) -> CallerContext:
        return CallerContext(number)

    pops = Pops(hub, look_up, clock=lambda: T0)
    pops.crm = CrmLookup(url, timeout_s=timeout_s)
    got: list[dict[str, Any]] = []

    async def send(text: str) -> None:
        got.append(json.loads(text))

    connection = Connection("alice", send)
    connection.keep(hub.subscribe(agent_topic("alice"), connection))
    run = asyncio.create_task(connection.run())
    return pops, got, (connection, run)


async def _close(pops: Pops, handles: Any) -> None:
    connection, run = handles
    connection.close()
    await run
    assert pops.crm is not None
    await pops.crm.close()


async def test_the_pop_goes_first_and_the_crm_follows_as_an_update(
    crm: tuple[FakeCrm, str],
) -> None:
    fake, url = crm
    pops, got, handles = await _pops_with(url)
    pops.on_snapshot(call_snapshot(offered_to=("alice",)))
    await asyncio.sleep(0.01)
    assert [m["type"] for m in got] == ["pop"] and got[0]["pop"]["crm"] is None
    await asyncio.sleep(0.2)
    assert [m["type"] for m in got] == ["pop", "pop_update"]
    assert got[1]["pop"]["crm"] == {"name": "Ali Vural (CRM)", "segment": "VIP"}
    assert fake.asked == [NUMBER]
    # Answered: the agent's call view carries the fields too (no second ringing pop).
    pops.on_snapshot(call_snapshot(phase="talking", offered_to=("alice",), agent_id="alice"))
    await asyncio.sleep(0.01)
    assert got[-1]["type"] == "call" and got[-1]["pop"]["crm"]["segment"] == "VIP"
    await _close(pops, handles)


async def test_an_answer_after_answering_goes_to_the_call_view(crm: tuple[FakeCrm, str]) -> None:
    fake, url = crm
    fake.delay_s = 0.2
    pops, got, handles = await _pops_with(url)
    pops.on_snapshot(call_snapshot(offered_to=("alice",)))
    pops.on_snapshot(call_snapshot(phase="talking", offered_to=("alice",), agent_id="alice"))
    await asyncio.sleep(0.4)
    assert [m["type"] for m in got][-1] == "call" and got[-1]["pop"]["crm"]["name"]
    assert "pop_update" not in [m["type"] for m in got]
    await _close(pops, handles)


@pytest.mark.parametrize(
    "bad",
    ["slow", "500", "html", "array", "huge", "nested"],
)
async def test_a_bad_crm_costs_only_its_fields(crm: tuple[FakeCrm, str], bad: str) -> None:
    fake, url = crm
    if bad == "slow":
        fake.delay_s = 1.0
    elif bad == "500":
        fake.status = 500
    elif bad == "html":
        fake.raw = b"<html><script>alert(1)</script></html>"
    elif bad == "array":
        fake.answer = [{"name": "x"}]
    elif bad == "huge":
        fake.answer = {"name": "x" * 200_000}
    elif bad == "nested":
        fake.raw = b"[" * 50_000 + b"]" * 50_000
    pops, got, handles = await _pops_with(url, timeout_s=0.3)
    pops.on_snapshot(call_snapshot(offered_to=("alice",)))
    await asyncio.sleep(0.6)
    assert [m["type"] for m in got] == ["pop"]
    assert got[0]["pop"]["crm"] is None and got[0]["pop"]["caller"]["number"] == NUMBER
    await _close(pops, handles)


async def test_an_anonymous_caller_is_not_looked_up(crm: tuple[FakeCrm, str]) -> None:
    fake, url = crm
    pops, got, handles = await _pops_with(url)
    call = {**call_snapshot(offered_to=("alice",)), "caller_number": None}
    pops.on_snapshot(call)
    await asyncio.sleep(0.2)
    assert fake.asked == [] and [m["type"] for m in got] == ["pop"]
    await _close(pops, handles)
