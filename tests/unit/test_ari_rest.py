"""AriRest against a fake ARI HTTP peer (aiohttp server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from telephony.ari import (
    AriError,
    AriRest,
    AriServerError,
    AriUnavailable,
    BadRequest,
    Conflict,
    NotFound,
    Unprocessable,
)
from telephony.ari.urgent import UrgentFirst

USER, PASSWORD = "thirdring", "s3cr3t-Pa55"
CHANNEL = {"id": "1714558272.42", "name": "PJSIP/world-00000007", "state": "Up"}


@dataclass
class Seen:
    method: str
    path: str
    raw_path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeAri:
    """Records requests; answers from `replies[(method, path)]`, else 204."""

    replies: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    held: set[str] = field(default_factory=set)  # paths answered only after `release`
    holding: asyncio.Event = field(default_factory=asyncio.Event)  # a held request came
    base_url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {token}":
            return web.json_response({"message": "Authentication required"}, status=401)
        text = await request.text()
        self.seen.append(
            Seen(
                request.method,
                request.path,
                request.raw_path.split("?")[0],
                dict(request.query),
                json.loads(text) if text else None,
            )
        )
        if request.path in self.held:
            self.holding.set()
        if request.path == "/ari/slow" or request.path in self.held:
            await asyncio.wait_for(self.release.wait(), 5)
        status, body = self.replies.get((request.method, request.path), (204, None))
        if body is None:
            return web.Response(status=status)
        if isinstance(body, str):
            return web.Response(status=status, text=body)
        return web.json_response(body, status=status)


ServerFactory = Callable[..., Awaitable[TestServer]]


async def serve_fake_ari(aiohttp_server: ServerFactory, **server_options: Any) -> FakeAri:
    """A FakeAri on 127.0.0.1 (its `base_url` set); options go to aiohttp's server."""
    ari = FakeAri()
    app = web.Application()
    app.router.add_route("*", "/ari/{tail:.*}", ari.handle)
    server = await aiohttp_server(app, **server_options)
    ari.base_url = f"http://127.0.0.1:{server.port}"
    return ari


@pytest.fixture
async def fake(aiohttp_server: ServerFactory) -> AsyncIterator[FakeAri]:
    ari = await serve_fake_ari(aiohttp_server)
    yield ari
    ari.release.set()


@pytest.fixture
async def rest(fake: FakeAri) -> AsyncIterator[AriRest]:
    client = AriRest(fake.base_url, USER, PASSWORD, timeout=2.0)
    async with client:
        yield client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_list_and_get_channel(fake: FakeAri, rest: AriRest) -> None:
    fake.replies[("GET", "/ari/channels")] = (200, [CHANNEL, {**CHANNEL, "id": "x.1"}])
    fake.replies[("GET", "/ari/channels/1714558272.42")] = (200, CHANNEL)
    channels = await rest.list_channels()
    assert [c.id for c in channels] == ["1714558272.42", "x.1"]
    one = await rest.get_channel("1714558272.42")
    assert one.state == "Up"
    assert [s.method for s in fake.seen] == ["GET", "GET"]


async def test_originate_sends_query_and_variables_body(fake: FakeAri, rest: AriRest) -> None:
    fake.replies[("POST", "/ari/channels")] = (200, CHANNEL)
    ch = await rest.originate(
        "Local/5551234@world",
        app="thirdring",
        app_args="inbound,5551234",
        caller_id='"Ayşe" <+905551112233>',
        formats="ulaw",
        timeout=30,
        variables={"CALLERID(name)": "Ayşe", "X_CALL": "1"},
    )
    assert ch.id == "1714558272.42"
    [seen] = fake.seen
    assert seen.query == {
        "endpoint": "Local/5551234@world",
        "app": "thirdring",
        "appArgs": "inbound,5551234",
        "callerId": '"Ayşe" <+905551112233>',  # '+' survives, not turned into a space
        "formats": "ulaw",
        "timeout": "30",
    }
    assert seen.body == {"variables": {"CALLERID(name)": "Ayşe", "X_CALL": "1"}}


async def test_originate_to_dialplan_omits_unset_params(fake: FakeAri, rest: AriRest) -> None:
    fake.replies[("POST", "/ari/channels")] = (200, CHANNEL)
    await rest.originate("Local/1@c", context="world", extension="5551234", priority=1)
    [seen] = fake.seen
    assert seen.query == {
        "endpoint": "Local/1@c",
        "context": "world",
        "extension": "5551234",
        "priority": "1",
    }
    assert seen.body is None


async def test_create_channel_then_dial(fake: FakeAri, rest: AriRest) -> None:
    fake.replies[("POST", "/ari/channels/create")] = (200, {**CHANNEL, "id": "agent-1"})
    ch = await rest.create_channel(
        "PJSIP/2001@world", app="thirdring", channel_id="agent-1", formats="ulaw"
    )
    await rest.dial(ch.id, timeout=20)
    create, dial = fake.seen
    assert create.query == {
        "endpoint": "PJSIP/2001@world",
        "app": "thirdring",
        "channelId": "agent-1",
        "formats": "ulaw",
    }
    assert (dial.method, dial.path, dial.query) == (
        "POST",
        "/ari/channels/agent-1/dial",
        {"timeout": "20"},
    )


# (call, method, path, query) for operations that return nothing.
VOID_CASES: list[tuple[Callable[[AriRest], Awaitable[None]], str, str, dict[str, str]]] = [
    (lambda r: r.answer("c1"), "POST", "/ari/channels/c1/answer", {}),
    (lambda r: r.ring("c1"), "POST", "/ari/channels/c1/ring", {}),
    (lambda r: r.ring_stop("c1"), "DELETE", "/ari/channels/c1/ring", {}),
    (lambda r: r.hangup("c1"), "DELETE", "/ari/channels/c1", {"reason": "normal"}),
    (lambda r: r.hangup("c1", reason="busy"), "DELETE", "/ari/channels/c1", {"reason": "busy"}),
    (lambda r: r.hold("c1"), "POST", "/ari/channels/c1/hold", {}),
    (lambda r: r.unhold("c1"), "DELETE", "/ari/channels/c1/hold", {}),
    (lambda r: r.start_moh("c1"), "POST", "/ari/channels/c1/moh", {}),
    (lambda r: r.start_moh("c1", "jazz"), "POST", "/ari/channels/c1/moh", {"mohClass": "jazz"}),
    (lambda r: r.stop_moh("c1"), "DELETE", "/ari/channels/c1/moh", {}),
    (lambda r: r.mute("c1"), "POST", "/ari/channels/c1/mute", {"direction": "both"}),
    (lambda r: r.unmute("c1", "in"), "DELETE", "/ari/channels/c1/mute", {"direction": "in"}),
    (
        lambda r: r.set_variable("c1", "CDR(userfield)", "a b+c"),
        "POST",
        "/ari/channels/c1/variable",
        {"variable": "CDR(userfield)", "value": "a b+c"},
    ),
    (
        lambda r: r.continue_in_dialplan("c1", context="ivr", extension="s", priority=1),
        "POST",
        "/ari/channels/c1/continue",
        {"context": "ivr", "extension": "s", "priority": "1"},
    ),
    (lambda r: r.send_dtmf("c1", "12#"), "POST", "/ari/channels/c1/dtmf", {"dtmf": "12#"}),
    (lambda r: r.destroy_bridge("b1"), "DELETE", "/ari/bridges/b1", {}),
    (
        lambda r: r.add_channel("b1", ["c1", "c2"], role="agent"),
        "POST",
        "/ari/bridges/b1/addChannel",
        {"channel": "c1,c2", "role": "agent"},
    ),
    (lambda r: r.add_channel("b1", "c1"), "POST", "/ari/bridges/b1/addChannel", {"channel": "c1"}),
    (
        lambda r: r.remove_channel("b1", "c1"),
        "POST",
        "/ari/bridges/b1/removeChannel",
        {"channel": "c1"},
    ),
    (lambda r: r.start_bridge_moh("b1"), "POST", "/ari/bridges/b1/moh", {}),
    (lambda r: r.stop_bridge_moh("b1"), "DELETE", "/ari/bridges/b1/moh", {}),
    (lambda r: r.stop_recording("rec-1"), "POST", "/ari/recordings/live/rec-1/stop", {}),
    (lambda r: r.stop_playback("pb-1"), "DELETE", "/ari/playbacks/pb-1", {}),
]


@pytest.mark.parametrize(
    ("call", "method", "path", "query"),
    VOID_CASES,
    ids=[f"{m} {p} {q}" for _, m, p, q in VOID_CASES],
)
async def test_void_operations(
    fake: FakeAri,
    rest: AriRest,
    call: Callable[[AriRest], Awaitable[None]],
    method: str,
    path: str,
    query: dict[str, str],
) -> None:
    await call(rest)
    [seen] = fake.seen
    assert (seen.method, seen.path, seen.query, seen.body) == (method, path, query, None)


async def test_play_joins_media_and_returns_playback(fake: FakeAri, rest: AriRest) -> None:
    reply = {"id": "pb-9", "media_uri": "sound:a", "target_uri": "channel:c1", "state": "queued"}
    fake.replies[("POST", "/ari/channels/c1/play")] = (201, reply)
    fake.replies[("POST", "/ari/bridges/b1/play")] = (201, reply)
    pb = await rest.play("c1", ["sound:a", "sound:b"], playback_id="pb-9", lang="tr")
    assert pb.id == "pb-9" and pb.state == "queued"
    await rest.play_bridge("b1", "sound:a")
    first, second = fake.seen
    assert first.query == {"media": "sound:a,sound:b", "playbackId": "pb-9", "lang": "tr"}
    assert second.query == {"media": "sound:a"}


async def test_recordings_encode_bools_and_ints(fake: FakeAri, rest: AriRest) -> None:
    rec = {"name": "r1", "format": "wav", "state": "queued", "target_uri": "channel:c1"}
    fake.replies[("POST", "/ari/channels/c1/record")] = (201, rec)
    fake.replies[("POST", "/ari/bridges/b1/record")] = (201, rec)
    fake.replies[("GET", "/ari/recordings/live/r1")] = (200, {**rec, "state": "recording"})
    assert (await rest.record_channel("c1", "r1", beep=True)).state == "queued"
    await rest.record_bridge("b1", "r1", if_exists="overwrite", max_duration_seconds=3600)
    assert (await rest.get_live_recording("r1")).state == "recording"
    assert fake.seen[0].query == {
        "name": "r1",
        "format": "wav",
        "ifExists": "fail",
        "beep": "true",
        "maxDurationSeconds": "0",
        "terminateOn": "none",
    }
    assert fake.seen[1].query == {
        "name": "r1",
        "format": "wav",
        "ifExists": "overwrite",
        "maxDurationSeconds": "3600",
    }


async def test_snoop_bridge_and_lookups(fake: FakeAri, rest: AriRest) -> None:
    fake.replies[("POST", "/ari/channels/c1/snoop")] = (200, {"id": "snoop-1"})
    fake.replies[("POST", "/ari/bridges")] = (200, {"id": "b1", "bridge_type": "holding"})
    fake.replies[("GET", "/ari/bridges")] = (200, [{"id": "b1"}])
    fake.replies[("GET", "/ari/bridges/b1")] = (200, {"id": "b1", "channels": ["c1"]})
    fake.replies[("GET", "/ari/applications/thirdring")] = (
        200,
        {"name": "thirdring", "channel_ids": ["c1"], "bridge_ids": [], "events_allowed": []},
    )
    fake.replies[("GET", "/ari/asterisk/info")] = (200, {"system": {"version": "22.10.1"}})
    fake.replies[("GET", "/ari/channels/c1/variable")] = (200, {"value": "ANSWER"})

    snoop = await rest.snoop("c1", app="thirdring", spy="both", snoop_id="snoop-1")
    assert snoop.id == "snoop-1"
    bridge = await rest.create_bridge(type="holding", bridge_id="b1", name="hold-c1")
    assert bridge.bridge_type == "holding"
    assert [b.id for b in await rest.list_bridges()] == ["b1"]
    assert (await rest.get_bridge("b1")).channels == ["c1"]
    assert (await rest.get_application("thirdring")).channel_ids == ["c1"]
    assert (await rest.asterisk_info())["system"]["version"] == "22.10.1"
    assert await rest.get_variable("c1", "DIALSTATUS") == "ANSWER"

    assert fake.seen[0].query == {
        "app": "thirdring",
        "spy": "both",
        "whisper": "none",
        "snoopId": "snoop-1",
    }
    assert fake.seen[1].query == {"type": "holding", "bridgeId": "b1", "name": "hold-c1"}
    assert fake.seen[-1].query == {"variable": "DIALSTATUS"}


async def test_ids_are_escaped_as_one_path_segment(fake: FakeAri, rest: AriRest) -> None:
    await rest.answer("odd/id?x")
    [seen] = fake.seen
    assert seen.raw_path == "/ari/channels/odd%2Fid%3Fx/answer"
    assert seen.query == {}


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (404, NotFound),
        (409, Conflict),
        (422, Unprocessable),
        (500, AriServerError),
        (503, AriServerError),
        (403, AriError),
    ],
)
async def test_http_errors_map_to_typed_errors(
    fake: FakeAri, rest: AriRest, status: int, cls: type[AriError]
) -> None:
    fake.replies[("POST", "/ari/channels/c1/answer")] = (status, {"message": "Channel not found"})
    with pytest.raises(cls) as info:
        await rest.answer("c1")
    err = info.value
    assert type(err) is cls
    assert (err.status, err.method, err.path) == (status, "POST", "/channels/c1/answer")
    assert err.message == "Channel not found"
    assert str(err) == f"POST /channels/c1/answer -> {status}: Channel not found"
    assert PASSWORD not in str(err)


async def test_error_without_json_body_keeps_text(fake: FakeAri, rest: AriRest) -> None:
    fake.replies[("GET", "/ari/channels/c1")] = (500, "Internal Server Error")
    with pytest.raises(AriServerError, match="Internal Server Error"):
        await rest.get_channel("c1")


async def test_wrong_password_is_an_error_without_the_password(fake: FakeAri) -> None:
    async with AriRest(fake.base_url, USER, "wrong-pw") as bad:
        with pytest.raises(AriError) as info:
            await bad.list_channels()
    assert info.value.status == 401
    assert "wrong-pw" not in str(info.value)


async def test_unexpected_success_body_is_an_ari_error(fake: FakeAri, rest: AriRest) -> None:
    fake.replies[("GET", "/ari/channels/c1")] = (200, [1, 2])
    fake.replies[("GET", "/ari/channels")] = (200, {"not": "a list"})
    fake.replies[("GET", "/ari/bridges/b1")] = (200, "<html>")
    with pytest.raises(AriError, match="unexpected Channel"):
        await rest.get_channel("c1")
    with pytest.raises(AriError, match="expected a list of Channel"):
        await rest.list_channels()
    with pytest.raises(AriError, match="not JSON"):
        await rest.get_bridge("b1")


async def test_connection_refused_is_unavailable() -> None:
    async with AriRest(f"http://127.0.0.1:{free_port()}", USER, PASSWORD) as dead:
        with pytest.raises(AriUnavailable) as info:
            await dead.hangup("c1")
    err = info.value
    assert err.status is None
    assert (err.method, err.path) == ("DELETE", "/channels/c1")
    assert PASSWORD not in str(err)


async def test_timeout_is_unavailable(fake: FakeAri) -> None:
    async with AriRest(fake.base_url, USER, PASSWORD, timeout=0.1) as slow:
        with pytest.raises(AriUnavailable, match="GET /slow"):
            await slow.request("GET", "/slow")
    fake.release.set()


async def test_one_pooled_session_closed_on_exit(fake: FakeAri) -> None:
    client = AriRest(fake.base_url + "/", USER, PASSWORD)
    assert client.base_url == fake.base_url + "/ari"  # trailing slash tolerated
    async with client:
        await client.answer("c1")
        session = client._session
        await client.answer("c2")
        assert client._session is session
    assert session is not None and session.closed
    await client.close()  # idempotent


def test_base_url_with_credentials_is_refused_without_echo() -> None:
    with pytest.raises(ValueError) as info:
        AriRest(f"http://u:{PASSWORD}@127.0.0.1:8088", USER, PASSWORD)
    assert PASSWORD not in str(info.value)
    with pytest.raises(ValueError, match="scheme"):
        AriRest("ftp://127.0.0.1:8088", USER, PASSWORD)


async def test_filter_events_sets_the_lists_given(fake: FakeAri, rest: AriRest) -> None:
    await rest.filter_events("thirdring", disallowed=["ChannelVarset", "BridgeCreated"])
    await rest.filter_events("world", allowed=["StasisStart"], disallowed=[])
    first, second = fake.seen
    assert (first.method, first.path) == ("PUT", "/ari/applications/thirdring/eventFilter")
    assert first.body == {"disallowed": [{"type": "ChannelVarset"}, {"type": "BridgeCreated"}]}
    assert second.body == {"allowed": [{"type": "StasisStart"}], "disallowed": []}


async def test_an_answer_in_flight_holds_back_ordinary_requests(
    fake: FakeAri, rest: AriRest
) -> None:
    """In a burst, a caller's answer goes before a recording's snoop: the snoop leaves
    only once the answer is back (a burst of 1 here, for one held answer)."""
    rest._urgent_first = UrgentFirst(burst=1)
    fake.held.add("/ari/channels/c1/answer")
    answer = asyncio.create_task(rest.answer("c1"))
    await asyncio.wait_for(fake.holding.wait(), 2)
    snoop = asyncio.create_task(rest.start_moh("c2"))
    hangup = asyncio.create_task(rest.hangup("c3"))  # urgent too: not held back
    await hangup
    await asyncio.sleep(0.05)
    assert [s.path for s in fake.seen] == ["/ari/channels/c1/answer", "/ari/channels/c3"]
    fake.release.set()
    await asyncio.gather(answer, snoop)
    assert fake.seen[-1].path == "/ari/channels/c2/moh"
