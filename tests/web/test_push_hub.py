"""The push hub: one serialisation per message, increasing ids, a slow reader dropped
without delaying anyone else, subscriptions released when a connection ends."""

from __future__ import annotations

import asyncio
import json

from telephony.push.hub import Connection, Hub


class Fast:
    def __init__(self) -> None:
        self.texts: list[str] = []

    async def send(self, text: str) -> None:
        self.texts.append(text)


class Frozen:
    """A tab that stopped reading: every send waits forever."""

    def __init__(self) -> None:
        self.started = 0

    async def send(self, text: str) -> None:
        self.started += 1
        await asyncio.Event().wait()


async def test_slow_consumer_is_dropped_and_others_get_everything_in_order() -> None:
    hub = Hub()
    fast, frozen = Fast(), Frozen()
    good = Connection("good", fast.send, max_queue=4)
    slow = Connection("slow", frozen.send, max_queue=4)
    for connection in (good, slow):
        connection.keep(hub.subscribe("agent:a", connection))
    runs = [asyncio.create_task(c.run()) for c in (good, slow)]
    for n in range(20):
        assert hub.publish("agent:a", "pop", {"n": n}) >= 1
        await asyncio.sleep(0)  # the fast writer drains between publishes
    # The frozen one overflowed: closed, its writer gone, its subscription released.
    await asyncio.wait_for(runs[1], 1)
    assert slow.overflowed and slow.closed.is_set()
    assert hub.topics() == {"agent:a": 1}
    await asyncio.sleep(0)
    messages = [json.loads(t) for t in fast.texts]
    assert [m["n"] for m in messages] == list(range(20))
    ids = [m["id"] for m in messages]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(m["type"] == "pop" for m in messages)
    good.close()
    await asyncio.wait_for(runs[0], 1)
    assert hub.topics() == {}


async def test_each_message_is_serialised_once_for_all_receivers() -> None:
    hub = Hub()
    sinks = [Fast() for _ in range(5)]
    connections = [Connection(f"c{i}", s.send) for i, s in enumerate(sinks)]
    for i, connection in enumerate(connections):
        connection.keep(hub.subscribe(f"agent:{i}", connection))
    runs = [asyncio.create_task(c.run()) for c in connections]
    assert hub.publish_many([f"agent:{i}" for i in range(5)], "pop", {"x": "ü"}) == 5
    assert hub.serialised == 1
    await asyncio.sleep(0.01)
    texts = [s.texts[0] for s in sinks]
    assert all(t is texts[0] for t in texts)  # the very same string object
    assert json.loads(texts[0]) == {"type": "pop", "id": 1, "x": "ü"}
    for connection in connections:
        connection.close()
    await asyncio.gather(*runs)
    assert hub.topics() == {}


async def test_publish_never_waits_for_a_frozen_reader() -> None:
    hub = Hub()
    frozen = Frozen()
    slow = Connection("slow", frozen.send, max_queue=1000)
    slow.keep(hub.subscribe("live", slow))
    run = asyncio.create_task(slow.run())
    loop = asyncio.get_running_loop()
    started = loop.time()
    for n in range(500):
        hub.publish("live", "live_call", {"n": n})
    assert loop.time() - started < 0.5  # enqueue only, no await on the socket
    slow.close()
    await asyncio.wait_for(run, 1)
    assert hub.topics() == {}
