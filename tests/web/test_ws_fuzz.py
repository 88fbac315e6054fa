"""10 000 random and malformed browser messages on one WebSocket (issue 9): every one
gets an answer, the socket and the service live on, and closing leaves no subscription
or socket behind. The counts are printed at the end of the run."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from telephony.push.state import Push
from telephony.web.ws import MAX_INBOUND, SOCKETS_KEY
from tests.bad_input import report

from .conftest import Client, add_user, log_in
from .test_push_ws import connect, push, push_app  # noqa: F401  (fixtures)

MESSAGES = 10_000
SEED = 20261127


def hostile_messages(rng: random.Random, n: int) -> list[str | bytes]:
    """A mix of what a broken or hostile page could send, deterministic per seed."""
    values: list[Any] = [None, True, 0, -1, 2**200, 1.5e308, "", "ping ", "PING", [], {}, "☎"]
    makers: list[Callable[[], str | bytes]] = [
        lambda: rng.randbytes(rng.randrange(0, 64)),  # binary frames
        lambda: "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(0, 80))),
        lambda: json.dumps({"type": "ping", "id": rng.randrange(10**6)})[: rng.randrange(1, 20)],
        lambda: "[" * rng.randrange(1, MAX_INBOUND),  # deep nesting, unclosed
        lambda: '{"a":' * rng.randrange(1, 800) + "1" + "}" * rng.randrange(0, 800),
        lambda: json.dumps(rng.choice(values)),
        lambda: json.dumps({"type": rng.choice(values), "id": rng.choice(values)}),
        lambda: json.dumps({"type": "resync", "id": rng.choice(values), "x": "y" * 100}),
        lambda: '{"type": "ping", "id": NaN}',
        lambda: "x" * rng.randrange(MAX_INBOUND + 1, 60_000),  # over our limit, under aiohttp's
        lambda: json.dumps({"type": "ping", "id": rng.randrange(-(2**40), 2**40)}),
        lambda: "\x00\u202e" + json.dumps({"type": "ping"}),
    ]
    return [rng.choice(makers)() for _ in range(n)]


async def test_ten_thousand_random_messages_are_each_answered_and_nothing_leaks(
    push_app: web.Application,  # noqa: F811
    push: Push,  # noqa: F811
    aiohttp_client: Any,
) -> None:
    await add_user(push_app, "sup", role="supervisor")
    client: Client = await aiohttp_client(push_app)
    await log_in(client, "sup")
    subscribed_before = sum(push.hub.topics().values())
    ws = await connect(client)
    first = await ws.receive(timeout=2)
    assert json.loads(first.data)["type"] == "snapshot"
    crashed = unanswered = 0
    kinds: dict[str, int] = {}
    for message in hostile_messages(random.Random(SEED), MESSAGES):
        if isinstance(message, bytes):
            await ws.send_bytes(message)
        else:
            await ws.send_str(message)
        reply = await ws.receive(timeout=10)  # a loaded machine is slow, not wrong
        if reply.type is not WSMsgType.TEXT:
            crashed += 1
            ws = await connect(client)  # go on counting on a fresh socket
            await ws.receive(timeout=2)
            continue
        kind = json.loads(reply.data).get("type", "?")
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind not in ("error", "pong", "snapshot"):
            unanswered += 1
    await ws.send_str(json.dumps({"type": "ping", "id": 1}))
    assert json.loads((await ws.receive(timeout=2)).data)["type"] == "pong"
    await ws.close()
    assert (await client.get("/healthz")).status == 200
    leaked = len(push_app[SOCKETS_KEY]) + sum(push.hub.topics().values()) - subscribed_before
    report("websocket messages", tried=MESSAGES, crashed=crashed + unanswered, leaked=leaked)
    assert (crashed, unanswered, leaked) == (0, 0, 0), kinds
    assert kinds["error"] > MESSAGES // 2 and kinds["pong"] > 0 and kinds["snapshot"] > 0
