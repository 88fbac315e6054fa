"""The ARI event websocket, with reconnect, keepalive and a prompt stop.

Asterisk replays nothing after a drop, so the consumer rebuilds its state in
`on_connect` (DESIGN: every (re)connect rebuilds from /channels, /bridges).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import quote, urlencode

import structlog
import websockets
import yarl
from websockets.asyncio.client import ClientConnection

from telephony.ari.errors import EventParseError
from telephony.ari.models import Event, parse_event
from telephony.ari.transport import basic_auth

State = Literal["connecting", "connected", "disconnected"]
T = TypeVar("T")


class _Log(Protocol):
    """The part of a structlog bound logger we use."""

    def bind(self, **kw: Any) -> _Log: ...
    def info(self, event: str, *args: Any, **kw: Any) -> Any: ...
    def warning(self, event: str, *args: Any, **kw: Any) -> Any: ...
    def exception(self, event: str, *args: Any, **kw: Any) -> Any: ...


class _NoDebug(logging.LoggerAdapter[logging.Logger]):
    """websockets logs every request header at DEBUG, Authorization included.

    Reporting DEBUG as disabled to websockets keeps the password out of logs
    whatever level the application configures.
    """

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


class AriEventStream:
    """Reads ARI events for one app and hands them, in order, to `on_event`.

    `run()` loops until `stop()`; a failing callback is logged, never fatal.
    `on_disconnect` is called once per outage (the first failed attempt, or a
    drop of a live connection), not on every retry, and not on `stop()`.
    """

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        app: str,
        *,
        on_event: Callable[[Event], Awaitable[None]],
        on_connect: Callable[[], Awaitable[None]] | None = None,
        on_disconnect: Callable[[], Awaitable[None]] | None = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        rng: random.Random | None = None,
        log: _Log | None = None,
        raw_log_cap: int = 2048,
        ping_interval: float = 5.0,
        ping_timeout: float = 5.0,
        open_timeout: float = 5.0,
        close_timeout: float = 1.0,
    ) -> None:
        if backoff_initial <= 0 or backoff_max < backoff_initial:
            raise ValueError(
                f"need 0 < backoff_initial <= backoff_max, got {backoff_initial}, {backoff_max}"
            )
        self._url = events_url(base_url, app)
        self._headers = {"Authorization": basic_auth(username, password)}
        self._on_event = on_event
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._rng = rng or random.Random()
        base_log: _Log = log if log is not None else structlog.get_logger("telephony.ari")
        self._log = base_log.bind(ari_app=app)
        self._raw_log_cap = raw_log_cap
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._open_timeout = open_timeout
        self._close_timeout = close_timeout
        self._ws_logger = _NoDebug(logging.getLogger("telephony.ari.websocket"))
        self._state: State = "disconnected"
        self._stop = asyncio.Event()
        self._done = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._run_task: asyncio.Task[Any] | None = None

    @property
    def state(self) -> State:
        return self._state

    @property
    def url(self) -> str:
        """The websocket URL (no credentials in it)."""
        return self._url

    def backoff_delay(self, attempt: int) -> float:
        """Delay before retry number `attempt` (0-based): full jitter, floored."""
        ceiling = min(self._backoff_max, self._backoff_initial * 2 ** min(attempt, 32))
        return max(self._backoff_initial / 2, self._rng.uniform(0, ceiling))

    async def run(self) -> None:
        """Connect, read, reconnect, until `stop()`. Call once."""
        if self._run_task is not None:
            raise RuntimeError("AriEventStream.run() was already called")
        self._run_task = asyncio.current_task()
        attempt = 0
        outage_reported = False
        try:
            while not self._stop.is_set():
                self._state = "connecting"
                try:
                    ws = await self._until_stopped(self._open())
                except Exception as exc:  # refused, timeout, HTTP 401, bad handshake...
                    error = _describe(exc)
                else:
                    if ws is None:
                        break  # stop() arrived while connecting
                    attempt, outage_reported = 0, False
                    error = await self._session(ws)
                if self._stop.is_set():
                    break
                self._state = "disconnected"
                if not outage_reported:
                    outage_reported = True
                    await self._call("on_disconnect", self._on_disconnect)
                delay = self.backoff_delay(attempt)
                attempt += 1
                self._log.warning(
                    "ari.reconnect",
                    attempt=attempt,
                    delay=round(delay, 3),
                    error=error,
                    url=self._url,
                )
                await self._until_stopped(asyncio.sleep(delay))
        finally:
            self._state = "disconnected"
            self._done.set()

    async def stop(self) -> None:
        """End `run()` promptly: close the socket, cut any wait short.

        Waits for `run()` to finish unless called from inside it (a callback).
        """
        self._stop.set()
        ws = self._ws
        if ws is not None:
            await ws.close()
        task = self._run_task
        if task is not None and task is not asyncio.current_task():
            await self._done.wait()

    async def _open(self) -> ClientConnection:
        return await websockets.connect(
            self._url,
            additional_headers=self._headers,
            proxy=None,  # ARI is on the PBX's network; never route it via env proxies
            open_timeout=self._open_timeout,
            ping_interval=self._ping_interval,
            ping_timeout=self._ping_timeout,
            close_timeout=self._close_timeout,
            logger=self._ws_logger,
        )

    async def _session(self, ws: ClientConnection) -> str:
        """Serve one live connection; return why it ended."""
        self._ws = ws
        self._state = "connected"
        self._log.info("ari.connected", url=self._url)
        try:
            await self._call("on_connect", self._on_connect)
            async for raw in ws:  # ends quietly on a clean close (1000/1001)
                await self._dispatch(raw)
        except Exception as exc:  # ConnectionClosedError, keepalive timeout, ...
            return _describe(exc)
        finally:
            self._ws = None
            await ws.close()  # no-op if already closed; frees it if we were cancelled
        return f"closed by peer (code {ws.close_code}, reason {ws.close_reason!r})"

    async def _dispatch(self, raw: str | bytes) -> None:
        try:
            event = parse_event(raw)
        except EventParseError as exc:
            self._log.warning(
                "ari.event_unparsable", error=exc.message, raw=_cap(raw, self._raw_log_cap)
            )
            return
        try:
            await self._on_event(event)
        except Exception:
            self._log.exception("ari.on_event_failed", event_type=event.type)

    async def _call(self, name: str, callback: Callable[[], Awaitable[None]] | None) -> None:
        if callback is None:
            return
        try:
            await callback()
        except Exception:
            self._log.exception(f"ari.{name}_failed")

    async def _until_stopped(self, coro: Coroutine[Any, Any, T]) -> T | None:
        """Await `coro` unless stop() comes first (then cancel it, return None)."""
        work = asyncio.create_task(coro)
        stopped = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not work.done():
                work.cancel()
            # Reap both so no task is left pending or with an unread exception.
            await asyncio.gather(work, stopped, return_exceptions=True)
        if work.cancelled():
            return None
        result = work.result()  # re-raises the connect error, if any
        if self._stop.is_set() and isinstance(result, ClientConnection):
            await result.close()
            return None
        return result


def events_url(base_url: str, app: str) -> str:
    """ws(s)://host:port/ari/events?app=APP&subscribeAll=false from http(s)://host:port."""
    url = yarl.URL(base_url)
    if url.user or url.password:
        raise ValueError("base_url must not contain credentials; pass username/password")
    schemes = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
    if url.scheme not in schemes or not url.host:
        raise ValueError(f"base_url must be http(s)://host:port, got scheme {url.scheme!r}")
    root = str(url.with_scheme(schemes[url.scheme]).with_query(None)).rstrip("/")
    return f"{root}/ari/events?" + urlencode({"app": app, "subscribeAll": "false"}, quote_via=quote)


def _cap(raw: str | bytes, cap: int) -> str:
    text = raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")
    return text if len(text) <= cap else f"{text[:cap]}...[{len(text) - cap} more chars]"


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
