"""The WebSocket: session and Origin checked, a snapshot first, pops to the agent they
are offered to (withdrawn when another answers), bad input answered with an error and
the service still serving."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web

from telephony.auth import Passwords
from telephony.config import AgentConfig
from telephony.push.hub import Hub
from telephony.push.live import LiveView
from telephony.push.pops import Pops
from telephony.push.state import Push
from telephony.store.history import CallerContext, History
from telephony.store.repo import CallStore
from telephony.web import create_web_app
from telephony.web.ws import SOCKETS_KEY

from .conftest import CHEAP_HASHER, T0, Client, World, add_user, finished_call, log_in

NUMBER = "+905321112233"


def call_snapshot(
    call_id: str = "c1",
    *,
    phase: str = "ringing",
    offered_to: tuple[str, ...] = ("alice",),
    agent_id: str | None = None,
    name: str = "Ali Vural",
) -> dict[str, Any]:
    return {
        "id": call_id,
        "did": "908502220001",
        "caller_number": NUMBER,
        "caller_name": name,
        "phase": phase,
        "agent_id": agent_id,
        "arrived_at": T0.isoformat(),
        "answered_at": None,
        "ringing_since": T0.isoformat(),
        "cycle_ms": 5000.0,
        "max_rings": 3,
        "offered_to": list(offered_to),
    }


@pytest.fixture
async def push(store: CallStore, world: World) -> Push:
    await store.upsert_agents([AgentConfig(id="bob", name="Bob", endpoint="PJSIP/b")])
    hub = Hub()
    history = History(store.engine)

    async def look_up(number: str | None, call_id: str) -> CallerContext:
        return await history.caller_context(number, exclude_call=call_id)

    return Push(
        hub=hub,
        pops=Pops(hub, look_up, clock=world.clock),
        live=LiveView(hub, live_calls=world.live_calls, agents=list, clock=world.clock),
        agent_state=lambda agent_id: {"id": agent_id, "status": "available"},
        max_queue=8,
    )


@pytest.fixture
def push_app(store: CallStore, world: World, push: Push) -> web.Application:
    return create_web_app(
        store=store,
        live_calls=world.live_calls,
        ari_state=world.ari_state,
        db_ok=world.db_ok,
        now=world.clock,
        passwords=Passwords(CHEAP_HASHER),
        push=push,
    )


def origin(client: Client) -> str:
    return str(client.make_url("/")).rstrip("/")


async def connect(client: Client, **kwargs: Any) -> aiohttp.ClientWebSocketResponse:
    ws: aiohttp.ClientWebSocketResponse = await client.ws_connect(
        "/ws", origin=origin(client), **kwargs
    )
    return ws


async def receive(ws: aiohttp.ClientWebSocketResponse, timeout: float = 2.0) -> dict[str, Any]:
    message = await ws.receive(timeout=timeout)
    assert message.type is WSMsgType.TEXT, message
    data: dict[str, Any] = json.loads(message.data)
    return data


async def agent_client(aiohttp_client: Any, app: web.Application, name: str) -> Client:
    client: Client = await aiohttp_client(app)
    await log_in(client, name)
    return client


async def test_no_session_is_refused(push_app: web.Application, aiohttp_client: Any) -> None:
    client: Client = await aiohttp_client(push_app)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(client)
    assert refused.value.status == 401


@pytest.mark.parametrize(
    "bad_origin", ["http://evil.example", "null", "", "http://127.0.0.1:1", "file://"]
)
async def test_wrong_origin_is_refused(
    push_app: web.Application, aiohttp_client: Any, bad_origin: str
) -> None:
    await add_user(push_app, "sup", role="supervisor")
    client: Client = await aiohttp_client(push_app)
    await log_in(client, "sup")
    headers = {"Origin": bad_origin} if bad_origin else {}
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", headers=headers)
    assert refused.value.status == 403


async def test_bad_messages_get_an_error_and_the_socket_and_service_live_on(
    push_app: web.Application, aiohttp_client: Any
) -> None:
    await add_user(push_app, "sup", role="supervisor")
    client: Client = await aiohttp_client(push_app)
    await log_in(client, "sup")
    ws = await connect(client)
    snapshot = await receive(ws)
    assert snapshot["type"] == "snapshot" and snapshot["role"] == "supervisor"
    last_id = snapshot["id"]
    for bad in ["not json", "[1, 2]", '{"type": "rm -rf"}', '{"type": 5}', "x" * 5000, "{}"]:
        await ws.send_str(bad)
        reply = await receive(ws)
        assert reply["type"] == "error", (bad[:20], reply)
        assert reply["id"] > last_id
        last_id = reply["id"]
    await ws.send_bytes(b"\x00\x01binary")
    assert (await receive(ws))["type"] == "error"
    await ws.send_str(json.dumps({"type": "ping", "id": 7}))
    pong = await receive(ws)
    assert pong["type"] == "pong" and pong["reply_to"] == 7
    # A frame over the protocol limit is refused: that socket closes (1009) ...
    await ws.send_str("y" * 70_000)
    closing = await ws.receive(timeout=2)
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
    assert ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    # ... and the service goes on: health, and a new socket with a fresh snapshot.
    assert (await client.get("/healthz")).status == 200
    again = await connect(client)
    assert (await receive(again))["type"] == "snapshot"
    await again.close()


async def test_pop_goes_to_the_offered_agent_with_history_and_is_withdrawn(
    push_app: web.Application, push: Push, store: CallStore, aiohttp_client: Any
) -> None:
    await finished_call(store, "old-1", number=NUMBER, name="Ali Vural", agent_id="bob")
    await add_user(push_app, "alice", agent_id="alice")
    await add_user(push_app, "bob", agent_id="bob")
    await add_user(push_app, "sup", role="supervisor")
    alice = await agent_client(aiohttp_client, push_app, "alice")
    bob = await agent_client(aiohttp_client, push_app, "bob")
    sup = await agent_client(aiohttp_client, push_app, "sup")
    alice_ws, bob_ws, sup_ws = [await connect(c) for c in (alice, bob, sup)]
    for ws in (alice_ws, bob_ws, sup_ws):
        assert (await receive(ws))["type"] == "snapshot"

    # Ring-all: both agents are offered the call.
    push.pops.on_snapshot(call_snapshot(offered_to=("alice", "bob")))
    for ws in (alice_ws, bob_ws):
        message = await receive(ws)
        assert message["type"] == "pop"
        pop = message["pop"]
        assert pop["caller"]["name"] == "Ali Vural"
        assert pop["caller"]["display_number"] == "+90 532 111 22 33"
        assert pop["caller"]["returning"] is True
        assert pop["history_ready"] is True
        [last] = pop["last_calls"]
        assert last["call_id"] == "old-1" and last["agent_name"] == "Bob"
        assert last["duration_s"] == 60.0
        assert pop["ring"]["max_rings"] == 3
        assert pop["script"] is None

    # A reconnecting agent gets the pop again in its snapshot.
    await alice_ws.close()
    alice_ws = await connect(alice)
    snap = await receive(alice_ws)
    assert [p["call_id"] for p in snap["pops"]] == ["c1"]

    # Bob answers: Alice's pop is withdrawn; Bob gets his call.
    push.pops.on_snapshot(call_snapshot(phase="talking", offered_to=(), agent_id="bob"))
    withdrawn = await receive(alice_ws)
    assert withdrawn == {
        "type": "pop_withdrawn",
        "id": withdrawn["id"],
        "call_id": "c1",
        "reason": "answered_elsewhere",
    }
    call = await receive(bob_ws)
    assert call["type"] == "call" and call["call"]["agent_id"] == "bob"
    # The supervisor saw no pops (pops are per agent).
    with pytest.raises(asyncio.TimeoutError):
        await sup_ws.receive(timeout=0.2)

    push.pops.on_snapshot(call_snapshot(phase="ended", offered_to=(), agent_id="bob"))
    ended = await receive(bob_ws)
    assert ended["type"] == "call_ended" and ended["call"]["id"] == "c1"
    for ws in (alice_ws, bob_ws, sup_ws):
        await ws.close()


async def test_a_late_history_sends_the_pop_first_and_an_update_after(
    store: CallStore, world: World, aiohttp_client: Any
) -> None:
    gate = asyncio.Event()

    async def slow_lookup(number: str | None, call_id: str) -> CallerContext:
        await gate.wait()
        return CallerContext(number, contact_name="Ali from the CRM")

    hub = Hub()
    push = Push(
        hub=hub,
        pops=Pops(hub, slow_lookup, clock=world.clock, budget_s=0.05),
        live=LiveView(hub, live_calls=list, agents=list, clock=world.clock),
        agent_state=lambda agent_id: None,
    )
    app = create_web_app(
        store=store,
        live_calls=world.live_calls,
        ari_state=world.ari_state,
        db_ok=world.db_ok,
        now=world.clock,
        passwords=Passwords(CHEAP_HASHER),
        push=push,
    )
    await add_user(app, "alice", agent_id="alice")
    client = await agent_client(aiohttp_client, app, "alice")
    ws = await connect(client)
    await receive(ws)
    push.pops.on_snapshot(call_snapshot(name="Caller ID name"))
    first = await receive(ws)
    assert first["type"] == "pop" and first["pop"]["history_ready"] is False
    assert first["pop"]["caller"]["name"] == "Caller ID name"
    gate.set()
    update = await receive(ws)
    assert update["type"] == "pop_update" and update["pop"]["history_ready"] is True
    assert update["pop"]["caller"]["name"] == "Ali from the CRM"
    await ws.close()
    await push.pops.close()


async def test_a_frozen_socket_is_closed_and_others_are_not_delayed(
    push_app: web.Application, push: Push, aiohttp_client: Any, world: World
) -> None:
    await add_user(push_app, "alice", agent_id="alice")
    await add_user(push_app, "sup", role="supervisor")
    sup = await agent_client(aiohttp_client, push_app, "sup")
    # A supervisor's tab that never reads, with a tiny receive buffer.
    frozen = await connect(sup, max_msg_size=0)
    frozen._response.connection.transport.pause_reading()  # type: ignore[union-attr]
    alice = await agent_client(aiohttp_client, push_app, "alice")
    alice_ws = await connect(alice)
    await receive(alice_ws)
    big = "x" * 60_000
    world.live = []
    for n in range(200):  # far more than the frozen socket's queue (8) and buffers
        push.hub.publish("live", "live_call", {"call": {"id": f"c{n}", "pad": big}})
    started = asyncio.get_running_loop().time()
    push.pops.on_snapshot(call_snapshot("pop-now"))
    pop = await receive(alice_ws)
    assert pop["type"] == "pop"
    assert asyncio.get_running_loop().time() - started < 0.5
    await asyncio.sleep(0.1)
    assert "live" not in push.hub.topics()  # the frozen socket was dropped
    # ... and its handler has ended (the connection was aborted, not left hanging).
    sockets: set[web.WebSocketResponse] = push_app[SOCKETS_KEY]
    for _ in range(40):
        if len(sockets) == 1:
            break
        await asyncio.sleep(0.1)
    assert len(sockets) == 1
    await alice_ws.close()
    frozen._response.connection.transport.abort()  # type: ignore[union-attr]


async def test_supervisors_get_the_live_view_and_alarms_agents_do_not(
    push_app: web.Application, push: Push, aiohttp_client: Any, world: World
) -> None:
    from telephony.calls.agents import MISSED_CALL, AgentSlot, AgentStatus

    await add_user(push_app, "alice", agent_id="alice")
    await add_user(push_app, "sup", role="supervisor")
    sup = await agent_client(aiohttp_client, push_app, "sup")
    alice = await agent_client(aiohttp_client, push_app, "alice")
    world.live = [call_snapshot("c9")]
    sup_ws, alice_ws = await connect(sup), await connect(alice)
    snapshot = await receive(sup_ws)
    assert [c["id"] for c in snapshot["calls"]] == ["c9"] and snapshot["alarms"] == []
    await receive(alice_ws)

    held = {**call_snapshot("c9", phase="talking", agent_id="alice", offered_to=())}
    held["hold"] = {"since": T0.isoformat(), "source": "browser", "warned": True}
    push.live.on_call(held)
    message = await receive(sup_ws)
    assert message["type"] == "live_call" and message["call"]["hold"]["warned"] is True
    alarm = await receive(sup_ws)
    assert alarm["type"] == "alarm" and alarm["alarm"]["kind"] == "long_hold"
    push.live.on_call(held)  # the same hold warns once
    assert (await receive(sup_ws))["type"] == "live_call"

    slot = AgentSlot("bob", "Bob", "PJSIP/b", AgentStatus.PAUSED, T0, pause_reason=MISSED_CALL)
    push.live.on_agent(slot)
    assert (await receive(sup_ws))["agent"]["status"] == "paused"
    assert (await receive(sup_ws))["alarm"]["kind"] == "missed_call"
    push.live.on_call({**held, "phase": "ended", "answered_at": None})
    assert (await receive(sup_ws)) == {"type": "live_call_ended", "id": ANY_ID, "call_id": "c9"}
    assert (await receive(sup_ws))["alarm"]["kind"] == "unanswered"

    # Reconnecting: the alarms are in the snapshot. The agent saw none of it.
    again = await connect(sup)
    kinds = [a["kind"] for a in (await receive(again))["alarms"]]
    assert kinds == ["long_hold", "missed_call", "unanswered"]
    with pytest.raises(asyncio.TimeoutError):
        await alice_ws.receive(timeout=0.2)
    for ws in (sup_ws, alice_ws, again):
        await ws.close()


class _AnyId:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, int) and other > 0


ANY_ID: Any = _AnyId()


async def test_a_socket_closes_when_its_session_ends(
    push_app: web.Application, push: Push, aiohttp_client: Any
) -> None:
    push.revalidate_s = 0.05
    await add_user(push_app, "alice", agent_id="alice")
    client: Client = await aiohttp_client(push_app)
    csrf = await log_in(client, "alice")
    ws = await connect(client)
    assert (await receive(ws))["type"] == "snapshot"
    assert (await client.post("/logout", headers={"X-CSRF-Token": csrf})).status == 204
    closing = await ws.receive(timeout=2)
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    assert ws.close_code == 4401
    assert "agent:alice" not in push.hub.topics()
