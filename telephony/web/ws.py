"""The browsers' WebSocket (`GET /ws`): pops and the agent's own call for agents, the
live view for supervisors and admins.

- Needs a session (the middleware answers 401 before the upgrade) and an Origin naming
  this host (403): a page elsewhere cannot ride the cookie. The session is checked again
  every `revalidate_s`: after a logout or expiry the socket closes with 4401.
- The first message is always a `snapshot`, on every (re)connect; then the topic's
  messages. Subscribing and the snapshot happen in one synchronous step, so nothing
  published in between is lost or sent before it.
- One writer per connection drains a bounded queue (telephony.push.hub); a browser too
  far behind is closed with 1013 and reconnects.
- Browser → service: `{"type": "ping"}` → `pong`, `{"type": "resync"}` → a new snapshot;
  anything else, malformed JSON, binary or a frame over `MAX_INBOUND` bytes gets an
  `error` reply and the socket stays open; frames over `MAX_FRAME` are refused by
  aiohttp (close 1009). Nothing a browser sends can raise out of the handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

import structlog
from aiohttp import WSCloseCode, WSMsgType, web

from telephony.auth.roles import ANY_ROLE
from telephony.push.hub import Connection
from telephony.push.live import LIVE
from telephony.push.pops import agent_topic
from telephony.push.state import Push
from telephony.web.access import (
    ACCOUNTS_KEY,
    COOKIE_NAME,
    current_session,
    origin_allowed,
    requires,
)

log = structlog.get_logger("telephony.web.ws")

PUSH_KEY = web.AppKey("push", Push)
# Open sockets, closed with GOING_AWAY on shutdown (each removes itself when it ends).
SOCKETS_KEY: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("sockets")
MAX_INBOUND = 4096  # bytes a browser's message may have (ours are a few dozen)
MAX_FRAME = 65536  # larger frames are refused by the protocol layer
HEARTBEAT_S = 20.0
CLOSE_TIMEOUT_S = 1.0
SESSION_ENDED = 4401  # close code: log in again
_conn_ids = itertools.count(1)


def add_push_routes(app: web.Application, push: Push) -> None:
    app[PUSH_KEY] = push
    app[SOCKETS_KEY] = set()
    app.router.add_get("/ws", websocket)
    app.on_shutdown.append(_close_sockets)


async def _close_sockets(app: web.Application) -> None:
    sockets: set[web.WebSocketResponse] = app[SOCKETS_KEY]
    for ws in list(sockets):
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown"),
                CLOSE_TIMEOUT_S,
            )


@requires(*ANY_ROLE)
async def websocket(request: web.Request) -> web.StreamResponse:
    if not origin_allowed(request):
        return web.json_response({"error": "cross-origin WebSocket refused"}, status=403)
    session = current_session(request)
    if session.role == "agent" and not session.agent_id:
        return web.json_response({"error": "this agent account has no agent id"}, status=403)
    push = request.app[PUSH_KEY]
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, heartbeat=HEARTBEAT_S)
    await ws.prepare(request)
    request.app[SOCKETS_KEY].add(ws)
    conn_id = f"ws-{next(_conn_ids)}"
    bound = log.bind(conn_id=conn_id, user=session.username, role=session.role)
    connection = Connection(conn_id, ws.send_str, max_queue=push.max_queue)
    topic = agent_topic(session.agent_id) if session.role == "agent" and session.agent_id else LIVE

    def snapshot() -> None:
        connection.push(
            push.hub.encode("snapshot", _snapshot(push, session.role, session.agent_id))
        )

    # One synchronous step: the snapshot first, then everything published after it.
    snapshot()
    connection.keep(push.hub.subscribe(topic, connection))
    writer = asyncio.get_running_loop().create_task(connection.run())
    writer.add_done_callback(lambda _: _close_soon(request, ws, connection))
    watcher = asyncio.get_running_loop().create_task(
        _watch_session(request, connection, push.revalidate_s)
    )
    bound.info("ws.open", topic=topic)
    try:
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                reply = _answer(push, message.data, snapshot)
            elif message.type is WSMsgType.ERROR:
                break
            else:
                reply = _error(push, "send JSON text frames", None)
            if reply is not None:
                connection.push(reply)
    finally:
        # Synchronous clean-up first: aiohttp may cancel this handler again (the peer is
        # gone), and an await below would then end the finally early.
        connection.close()
        watcher.cancel()
        request.app[SOCKETS_KEY].discard(ws)
        bound.info("ws.closed", overflowed=connection.overflowed, sent=connection.sent)
        await asyncio.gather(writer, watcher, return_exceptions=True)
    return ws


def _snapshot(push: Push, role: str, agent_id: str | None) -> dict[str, Any]:
    if role == "agent" and agent_id:
        return {
            "role": role,
            "agent_id": agent_id,
            "agent": push.agent_state(agent_id),
            **push.pops.snapshot_for(agent_id),
        }
    return {"role": role, **push.live.snapshot()}


def _answer(push: Push, data: str, snapshot: Any) -> str | None:
    if len(data.encode()) > MAX_INBOUND:
        return _error(push, f"message too large: at most {MAX_INBOUND} bytes", None)
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):  # nesting deeper than Python's stack: not ours
        return _error(push, 'not JSON: send {"type": "ping"} or {"type": "resync"}', None)
    if not isinstance(message, dict):
        return _error(push, 'send a JSON object like {"type": "ping"}', None)
    reply_to = message.get("id") if isinstance(message.get("id"), int) else None
    kind = message.get("type")
    if kind == "ping":
        return push.hub.encode("pong", {"reply_to": reply_to})
    if kind == "resync":
        snapshot()
        return None
    shown = kind if isinstance(kind, str) else type(kind).__name__
    return _error(push, f"unknown type {shown[:40]!r}: known are ping, resync", reply_to)


def _error(push: Push, text: str, reply_to: int | None) -> str:
    return push.hub.encode("error", {"error": text, "reply_to": reply_to})


async def _watch_session(request: web.Request, connection: Connection, every_s: float) -> None:
    """A socket lives no longer than its session: logged out or expired, it is closed
    with SESSION_ENDED and the page goes to the login."""
    cookie = request.cookies.get(COOKIE_NAME)
    accounts = request.app[ACCOUNTS_KEY]
    while not connection.closed.is_set():
        await asyncio.sleep(every_s)
        if await accounts.resolve(cookie) is None:
            log.info("ws.session_ended", conn_id=connection.conn_id)
            connection.close(SESSION_ENDED)
            return


def _close_soon(request: web.Request, ws: web.WebSocketResponse, connection: Connection) -> None:
    if ws.closed:
        return

    async def close() -> None:
        code = connection.close_code or (
            WSCloseCode.TRY_AGAIN_LATER if connection.overflowed else WSCloseCode.GOING_AWAY
        )
        try:
            await asyncio.wait_for(ws.close(code=code, message=b"reconnect"), CLOSE_TIMEOUT_S)
        except (TimeoutError, OSError, RuntimeError):
            # A frozen peer does not read the close frame either: drop the connection.
            if request.transport is not None:
                request.transport.abort()

    task = asyncio.get_running_loop().create_task(close())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


_closing: set[asyncio.Task[None]] = set()
