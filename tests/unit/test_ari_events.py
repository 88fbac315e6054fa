"""AriEventStream against a fake ARI websocket peer (aiohttp on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog
from aiohttp import WSCloseCode, web
from aiohttp.test_utils import TestServer

from telephony.ari import AriEventStream, Event, StasisStart
from telephony.ari.events import events_url
from telephony.ari.transport import basic_auth
from tests.bad_input import report

USER, PASSWORD = "thirdring", "s3cr3t-Pa55"
APP = "thirdring"
CLOSE, ABORT = "<close>", "<abort>"  # script steps besides "send this text"

ServerFactory = Callable[..., Awaitable[TestServer]]


def stasis_start(n: int) -> str:
    return json.dumps(
        {
            "type": "StasisStart",
            "application": APP,
            "timestamp": "2024-05-01T10:11:12.345+0000",
            "args": [str(n)],
            "channel": {"id": f"c{n}", "name": f"PJSIP/world-{n:08x}", "state": "Ring"},
        }
    )


@dataclass
class FakeAri:
    """Websocket at /ari/events; each connection plays the next script."""

    scripts: list[list[str]] = field(default_factory=list)
    connections: int = 0
    rejected: int = 0
    queries: list[dict[str, str]] = field(default_factory=list)
    autoping: bool = True
    sockets: weakref.WeakSet[web.WebSocketResponse] = field(default_factory=weakref.WeakSet)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ari/events", self.events)
        app.on_shutdown.append(self.shutdown)
        return app

    async def events(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != basic_auth(USER, PASSWORD):
            self.rejected += 1
            return web.Response(status=401, text="Unauthorized")
        self.queries.append(dict(request.query))
        ws = web.WebSocketResponse(autoping=self.autoping)
        await ws.prepare(request)
        self.sockets.add(ws)
        self.connections += 1
        script = self.scripts.pop(0) if self.scripts else []
        for step in script:
            if step == CLOSE:
                await ws.close(code=WSCloseCode.GOING_AWAY)
                return ws
            if step == ABORT:
                assert request.transport is not None
                request.transport.abort()
                return ws
            await ws.send_str(step)
        if self.autoping:
            async for _ in ws:  # hold open until the client goes
                pass
        else:
            # Read nothing, so pings are never answered: a dead peer.
            await asyncio.sleep(10)
        return ws

    async def shutdown(self, app: web.Application) -> None:
        for ws in list(self.sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY)


class RecordingLog:
    """Stands in for a structlog logger; keeps (level, event, fields)."""

    def __init__(self, records: list[tuple[str, str, dict[str, Any]]] | None = None) -> None:
        self.records = records if records is not None else []
        self.ctx: dict[str, Any] = {}

    def bind(self, **kw: Any) -> RecordingLog:
        child = RecordingLog(self.records)
        child.ctx = {**self.ctx, **kw}
        return child

    def _add(self, level: str, event: str, kw: dict[str, Any]) -> None:
        self.records.append((level, event, {**self.ctx, **kw}))

    def info(self, event: str, *args: Any, **kw: Any) -> None:
        self._add("info", event, kw)

    def warning(self, event: str, *args: Any, **kw: Any) -> None:
        self._add("warning", event, kw)

    def exception(self, event: str, *args: Any, **kw: Any) -> None:
        self._add("exception", event, kw)

    def named(self, event: str) -> list[dict[str, Any]]:
        return [fields for _, name, fields in self.records if name == event]


def state(h: Harness) -> str:
    # A plain str, so mypy does not narrow the property across awaits.
    return h.stream.state


@dataclass
class Harness:
    """A stream wired to recording callbacks, run in a task."""

    stream: AriEventStream
    log: RecordingLog
    events: list[Event]
    calls: list[str]
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.stream.run())

    async def stop(self) -> float:
        started = time.monotonic()
        await self.stream.stop()
        assert self.task is not None
        await asyncio.wait_for(self.task, 1.0)
        return time.monotonic() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def until(predicate: Callable[[], bool], within: float = 3.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


@pytest.fixture
async def fake(aiohttp_server: ServerFactory) -> AsyncIterator[tuple[FakeAri, int]]:
    """A running fake peer and its port."""
    ari = FakeAri()
    server = await aiohttp_server(ari.app())
    assert server.port is not None
    yield ari, server.port


def make(
    port: int,
    *,
    password: str = PASSWORD,
    on_event: Callable[[Event], Awaitable[None]] | None = None,
    on_connect: Callable[[], Awaitable[None]] | None = None,
    **options: Any,
) -> Harness:
    log = RecordingLog()
    events: list[Event] = []
    calls: list[str] = []

    async def record_event(event: Event) -> None:
        events.append(event)

    async def record_connect() -> None:
        calls.append("connect")

    async def record_disconnect() -> None:
        calls.append("disconnect")

    settings: dict[str, Any] = {
        "backoff_initial": 0.01,
        "backoff_max": 0.04,
        "rng": random.Random(7),
        "ping_interval": 1.0,
        "ping_timeout": 1.0,
    }
    settings.update(options)
    stream = AriEventStream(
        f"http://127.0.0.1:{port}",
        USER,
        password,
        APP,
        on_event=on_event or record_event,
        on_connect=on_connect or record_connect,
        on_disconnect=record_disconnect,
        log=log,
        **settings,
    )
    return Harness(stream, log, events, calls)


async def test_receives_events_in_order_with_basic_auth(
    fake: tuple[FakeAri, int],
) -> None:
    ari, port = fake
    ari.scripts = [[stasis_start(1), stasis_start(2), stasis_start(3)]]
    h = make(port)
    assert state(h) == "disconnected"
    h.start()
    await until(lambda: len(h.events) == 3)
    assert state(h) == "connected"
    assert [e.channel.id for e in h.events if isinstance(e, StasisStart)] == ["c1", "c2", "c3"]
    assert ari.queries == [{"app": APP, "subscribeAll": "false"}]
    assert h.calls == ["connect"]
    assert await h.stop() < 1.0
    assert state(h) == "disconnected"
    assert h.calls == ["connect"]  # stop() is not an outage
    await until(lambda: not ari.sockets)  # the server saw the close


async def test_server_not_up_at_start_then_appears(aiohttp_server: ServerFactory) -> None:
    port = free_port()
    h = make(port)
    h.start()
    await until(lambda: len(h.log.named("ari.reconnect")) >= 3)
    assert state(h) in ("disconnected", "connecting")
    assert h.calls == ["disconnect"]  # once per outage, not per retry
    retries = h.log.named("ari.reconnect")
    assert [r["attempt"] for r in retries[:3]] == [1, 2, 3]
    for r in retries:
        assert 0.005 <= r["delay"] <= 0.04
        assert "Connect call failed" in r["error"] or "refused" in r["error"].lower()
        assert r["ari_app"] == APP

    ari = FakeAri(scripts=[[stasis_start(1)]])
    server = await aiohttp_server(ari.app(), port=port)
    await until(lambda: len(h.events) == 1)
    assert state(h) == "connected"
    assert h.calls == ["disconnect", "connect"]
    assert await h.stop() < 1.0
    await server.close()


@pytest.mark.parametrize("how", [CLOSE, ABORT])
async def test_drop_mid_stream_reconnects_and_calls_on_connect_again(
    fake: tuple[FakeAri, int], how: str
) -> None:
    ari, port = fake
    ari.scripts = [[stasis_start(1), how], [stasis_start(2)]]
    h = make(port)
    h.start()
    await until(lambda: len(h.events) == 2)
    assert [e.channel.id for e in h.events if isinstance(e, StasisStart)] == ["c1", "c2"]
    assert h.calls == ["connect", "disconnect", "connect"]
    assert ari.connections == 2
    [retry] = h.log.named("ari.reconnect")
    assert retry["attempt"] == 1
    assert ("1001" in retry["error"]) if how == CLOSE else retry["error"]
    assert await h.stop() < 1.0


async def test_malformed_messages_do_not_stop_the_stream(
    fake: tuple[FakeAri, int],
) -> None:
    ari, port = fake
    missing_channel = json.dumps({"type": "StasisEnd", "application": APP})
    too_deep = '{"type": "X", "a": ' + "[" * 50_000 + "]" * 50_000 + "}"
    ari.scripts = [
        [stasis_start(1), "{not json" + "x" * 100, missing_channel, too_deep, stasis_start(2)]
    ]
    h = make(port, raw_log_cap=20)
    h.start()
    await until(lambda: len(h.events) == 2)
    bad = h.log.named("ari.event_unparsable")
    assert len(bad) == 3
    assert "not JSON" in bad[2]["error"]  # deeper than the stack: refused, not raised
    assert bad[0]["raw"] == "{not jsonxxxxxxxxxxx...[89 more chars]"
    assert "not JSON" in bad[0]["error"]
    assert "channel" in bad[1]["error"]
    assert ari.connections == 1  # no reconnect needed
    assert h.log.named("ari.reconnect") == []
    await h.stop()


async def test_failing_slow_handler_is_survived(fake: tuple[FakeAri, int]) -> None:
    ari, port = fake
    ari.scripts = [[stasis_start(1), stasis_start(2), stasis_start(3)]]
    handled: list[str] = []

    async def on_event(event: Event) -> None:
        assert isinstance(event, StasisStart)
        await asyncio.sleep(0.05)
        if event.channel.id == "c2":
            raise RuntimeError("handler bug")
        handled.append(event.channel.id)

    h = make(port, on_event=on_event)
    h.start()
    await until(lambda: handled == ["c1", "c3"])
    [failure] = h.log.named("ari.on_event_failed")
    assert failure["event_type"] == "StasisStart"
    assert ari.connections == 1
    await h.stop()


async def test_failing_on_connect_is_logged_not_fatal(fake: tuple[FakeAri, int]) -> None:
    ari, port = fake
    ari.scripts = [[stasis_start(1)]]

    async def on_connect() -> None:
        raise RuntimeError("rebuild failed")

    h = make(port, on_connect=on_connect)
    h.start()
    await until(lambda: len(h.events) == 1)
    assert len(h.log.named("ari.on_connect_failed")) == 1
    assert state(h) == "connected"
    await h.stop()


async def test_stop_while_backing_off_is_prompt() -> None:
    h = make(free_port(), backoff_initial=5.0, backoff_max=30.0)
    h.start()
    await until(lambda: len(h.log.named("ari.reconnect")) == 1)
    assert h.log.named("ari.reconnect")[0]["delay"] >= 2.5
    assert state(h) == "disconnected"
    assert await h.stop() < 1.0
    assert state(h) == "disconnected"
    assert asyncio.all_tasks() == {asyncio.current_task()}  # nothing left behind


async def test_stop_while_handshake_hangs_is_prompt() -> None:
    # A peer that accepts TCP and never answers the HTTP upgrade.
    held: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    h = make(port, open_timeout=10.0)
    h.start()
    await until(lambda: bool(held))
    assert state(h) == "connecting"
    assert await h.stop() < 1.0
    assert asyncio.all_tasks() == {asyncio.current_task()}
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_no_spin_after_the_peer_goes_away(aiohttp_server: ServerFactory) -> None:
    """The PyPI client's bug: busy-looping once the socket closed. Ours backs off."""
    port = free_port()
    ari = FakeAri(scripts=[[stasis_start(1)]])
    server = await aiohttp_server(ari.app(), port=port)
    h = make(port, backoff_initial=0.05, backoff_max=0.1)
    h.start()
    await until(lambda: len(h.events) == 1)
    await server.close()  # socket closed, and nothing listens any more

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    tick_task = asyncio.create_task(ticker())
    await asyncio.sleep(0.5)
    tick_task.cancel()
    retries = h.log.named("ari.reconnect")
    # 0.5 s at >= 25 ms a retry: 20 at most, never hundreds.
    assert 2 <= len(retries) <= 20
    assert all(r["delay"] >= 0.025 for r in retries)
    assert ticks >= 10  # the loop stayed responsive (50 if idle; slack for loaded CI)
    assert state(h) in ("disconnected", "connecting")
    assert await h.stop() < 1.0


async def test_keepalive_detects_a_dead_peer(fake: tuple[FakeAri, int]) -> None:
    ari, port = fake
    ari.autoping = False
    h = make(port, ping_interval=0.05, ping_timeout=0.05, close_timeout=0.1)
    h.start()
    await until(lambda: h.calls[:3] == ["connect", "disconnect", "connect"])
    retry = h.log.named("ari.reconnect")[0]
    assert "ping" in retry["error"]
    ari.autoping = True
    await h.stop()


async def test_wrong_password_retries_and_never_logs_it(
    fake: tuple[FakeAri, int], caplog: pytest.LogCaptureFixture
) -> None:
    ari, port = fake
    caplog.set_level(logging.DEBUG)
    h = make(port, password="wrong-pw")
    h.start()
    await until(lambda: len(h.log.named("ari.reconnect")) >= 2)
    assert "401" in h.log.named("ari.reconnect")[0]["error"]
    await h.stop()
    # A good connection too, with every logger at DEBUG (websockets logs headers there).
    ari.scripts = [[stasis_start(1)]]
    good = make(port)
    good.start()
    await until(lambda: len(good.events) == 1)
    await good.stop()
    everything = caplog.text + repr(h.log.records) + repr(good.log.records)
    for secret in ("wrong-pw", PASSWORD, basic_auth(USER, PASSWORD).split()[1]):
        assert secret not in everything


async def test_stop_from_inside_a_handler_ends_run(fake: tuple[FakeAri, int]) -> None:
    ari, port = fake
    ari.scripts = [[stasis_start(1), stasis_start(2)]]
    holder: list[AriEventStream] = []

    async def on_event(event: Event) -> None:
        await holder[0].stop()

    h = make(port, on_event=on_event)
    holder.append(h.stream)
    h.start()
    assert h.task is not None
    await asyncio.wait_for(h.task, 2.0)
    assert state(h) == "disconnected"


async def test_stop_before_run_and_single_use() -> None:
    h = make(free_port())
    await h.stream.stop()
    await asyncio.wait_for(h.stream.run(), 1.0)  # returns at once
    with pytest.raises(RuntimeError, match="already"):
        await h.stream.run()


async def test_default_structlog_logger_works(fake: tuple[FakeAri, int]) -> None:
    ari, port = fake
    ari.scripts = [[stasis_start(1), CLOSE], [json.dumps({"type": "StasisEnd"})]]
    seen: list[Event] = []

    async def on_event(event: Event) -> None:
        seen.append(event)
        raise ValueError("boom")

    with structlog.testing.capture_logs() as logs:
        stream = AriEventStream(
            f"http://127.0.0.1:{port}",
            USER,
            PASSWORD,
            APP,
            on_event=on_event,
            backoff_initial=0.01,
            backoff_max=0.02,
        )
        task = asyncio.create_task(stream.run())
        await until(lambda: len(seen) == 1 and ari.connections == 2)
        await until(lambda: any(e["event"] == "ari.event_unparsable" for e in logs))
        await stream.stop()
        await task
    names = [e["event"] for e in logs]
    assert "ari.on_event_failed" in names and "ari.reconnect" in names
    assert [type(e) for e in seen] == [StasisStart]


def test_backoff_is_jittered_floored_and_capped() -> None:
    h = make(1, backoff_initial=0.5, backoff_max=30.0, rng=random.Random(1))
    for attempt in range(12):
        ceiling = min(30.0, 0.5 * 2**attempt)
        delays = [h.stream.backoff_delay(attempt) for _ in range(50)]
        assert all(0.25 <= d <= max(ceiling, 0.25) for d in delays)
    assert h.stream.backoff_delay(10_000) <= 30.0  # no overflow on long outages
    again = make(1, backoff_initial=0.5, backoff_max=30.0, rng=random.Random(1))
    first = make(1, backoff_initial=0.5, backoff_max=30.0, rng=random.Random(1))
    assert [again.stream.backoff_delay(3) for _ in range(5)] == [
        first.stream.backoff_delay(3) for _ in range(5)
    ]
    with pytest.raises(ValueError):
        make(1, backoff_initial=0.0)


def test_events_url() -> None:
    assert events_url("http://127.0.0.1:8088", "third ring") == (
        "ws://127.0.0.1:8088/ari/events?app=third%20ring&subscribeAll=false"
    )
    assert events_url("https://pbx.example:8089/", APP).startswith("wss://pbx.example:8089/ari/")
    with pytest.raises(ValueError) as info:
        events_url(f"http://u:{PASSWORD}@h:1", APP)
    assert PASSWORD not in str(info.value)


def hostile_events(rng: random.Random, n: int) -> list[str]:
    """Events a broken or hostile peer could send: known types with fields missing or of
    the wrong type, unknown types, non-objects, truncated JSON, huge strings."""
    from telephony.ari.models import EVENT_TYPES

    kinds = [*EVENT_TYPES, "NoSuchEvent", "", "StasisStart\u0000", "x" * 300]
    odd: list[Any] = [None, 0, -1, 1e308, "", "ü" * 500, [], {}, {"id": None}, True]
    out: list[str] = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.1:
            out.append(json.dumps(rng.choice(odd)))
        elif roll < 0.2:
            out.append(json.dumps({"type": "StasisStart", "application": APP})[: rng.randrange(40)])
        else:
            event: dict[str, Any] = {"type": rng.choice(kinds), "application": APP}
            for key in ("channel", "bridge", "playback", "recording", "args", "timestamp"):
                if rng.random() < 0.5:
                    event[key] = rng.choice(odd)
            if rng.random() < 0.3:
                event["channel"] = {"id": rng.choice(odd), "state": rng.choice(odd)}
            out.append(json.dumps(event))
    return out


async def test_2000_malformed_and_unknown_events_never_stop_the_stream(
    fake: tuple[FakeAri, int],
) -> None:
    ari, port = fake
    tried = 2000
    ari.scripts = [[*hostile_events(random.Random(27), tried), stasis_start(99)]]
    h = make(port, raw_log_cap=20)
    h.start()
    await until(lambda: any(getattr(e, "args", None) == ["99"] for e in h.events), within=20)
    reconnects = len(h.log.named("ari.reconnect"))
    failed = len(h.log.named("ari.on_event_failed"))
    unparsable = len(h.log.named("ari.event_unparsable"))
    report("malformed ARI events (fake peer)", tried=tried, crashed=reconnects + failed, leaked=0)
    assert (reconnects, failed, ari.connections) == (0, 0, 1)
    assert unparsable + len(h.events) == tried + 1  # each one parsed or refused, none lost
    await h.stop()
