"""Answers sent at their time by threads of their own, whatever the event loop is doing.

The caller's deadline is a timer; when it passes with nobody answering, the system
answers the caller (the `queue` escalation step). At 200 callers' deadlines in one
burst the event loop ran those timers 59-98 ms late at the median and 236-395 ms late
at p99: a due timer waits behind every callback the loop has ready, and there each
earlier caller's answer, recording, music and store writes were. A single-threaded loop
cannot be made to interrupt that work; a thread can. Here a clock thread sleeps until
the earliest armed answer is due, then hands it to a worker that sends the answer on a
connection of its own. CPython gives a waiting thread the interpreter within its switch
interval (5 ms), so the answer leaves on time while the loop is still catching up.

The policy still decides: it arms an answer for the deadline (`AnswerAt`) together with
the deadline's timer, and when the timer fires it answers as before (`AnswerCaller`);
the executor then `claim`s the answer sent already instead of sending a second one.
Claimed before it was due (an agent answered first), the armed answer is withdrawn.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
import http.client
import itertools
import threading
import time
from collections.abc import Callable
from typing import Final

import yarl

from telephony.ari.errors import AriUnavailable, error_for_status
from telephony.ari.transport import basic_auth, error_message, seg

WORKERS: Final = 8  # answers in flight at once; each holds one keep-alive connection


class PunctualAnswers:
    """`arm(channel, in_s)` from the loop; the answer goes `in_s` seconds from now.
    `claim(channel)` returns the answer's outcome to await, or None if it was not sent
    (then it never will be). `start()` before use, `close()` at the end. `on_sent` is
    told, in a worker thread, how late (seconds) each answer left."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 5.0,
        workers: int = WORKERS,
        clock: Callable[[], float] = time.monotonic,
        on_sent: Callable[[float], None] = lambda late_s: None,
    ) -> None:
        url = yarl.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"base_url must be http(s)://host:port, got scheme {url.scheme!r}")
        self._https = url.scheme == "https"
        self._host = url.host
        self._port = url.port
        self._root = url.path.rstrip("/") + "/ari"
        self._headers = {"Authorization": basic_auth(username, password), "Content-Length": "0"}
        self._timeout = timeout
        self._clock = clock
        self._on_sent = on_sent
        self._changed = threading.Condition()
        self._due: dict[str, float] = {}  # channel -> when, armed and not yet sent
        self._heap: list[tuple[float, int, str]] = []  # may hold withdrawn entries
        self._order = itertools.count()
        self._sent: dict[str, concurrent.futures.Future[None]] = {}
        self._workers = workers
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._clock_thread: threading.Thread | None = None
        self._local = threading.local()  # each worker's connection
        self._connections: list[http.client.HTTPConnection] = []  # to close at the end
        self._closed = False

    def start(self) -> None:
        if self._clock_thread is not None:
            return
        self._pool = concurrent.futures.ThreadPoolExecutor(
            self._workers, thread_name_prefix="punctual-answer"
        )
        self._clock_thread = threading.Thread(
            target=self._run, name="punctual-answer-clock", daemon=True
        )
        self._clock_thread.start()

    def close(self) -> None:
        """Withdraw what is armed and stop; answers being sent finish first."""
        with self._changed:
            self._closed = True
            self._due.clear()
            self._heap.clear()
            self._changed.notify()
        if self._clock_thread is not None:
            self._clock_thread.join()
            self._clock_thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        with self._changed:
            self._sent.clear()
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def arm(self, channel_id: str, in_s: float) -> None:
        """Answer `channel_id` in `in_s` seconds, replacing an earlier time armed for it."""
        at = self._clock() + in_s
        with self._changed:
            if self._closed or channel_id in self._sent:
                return
            self._due[channel_id] = at
            heapq.heappush(self._heap, (at, next(self._order), channel_id))
            if self._heap[0][2] == channel_id:
                self._changed.notify()  # the clock sleeps until a later time

    def claim(self, channel_id: str) -> asyncio.Future[None] | None:
        """The answer sent for `channel_id` (its outcome, to await), or None: nothing was
        sent, and the armed answer, if any, is withdrawn."""
        with self._changed:
            self._due.pop(channel_id, None)
            sent = self._sent.pop(channel_id, None)
        return None if sent is None else asyncio.wrap_future(sent)

    def withdraw(self, channel_id: str) -> None:
        """Forget the channel (its call ended): not answered later, nothing kept."""
        with self._changed:
            self._due.pop(channel_id, None)
            self._sent.pop(channel_id, None)

    @property
    def armed(self) -> int:
        with self._changed:
            return len(self._due)

    def _run(self) -> None:
        with self._changed:
            while not self._closed:
                if not self._heap:
                    self._changed.wait()
                    continue
                at, _, channel = self._heap[0]
                if self._due.get(channel) != at:  # withdrawn or armed again for later
                    heapq.heappop(self._heap)
                    continue
                wait = at - self._clock()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                heapq.heappop(self._heap)
                del self._due[channel]
                assert self._pool is not None
                self._sent[channel] = self._pool.submit(self._answer, channel, at)

    def _answer(self, channel: str, at: float) -> None:
        path = f"/channels/{seg(channel)}/answer"
        self._on_sent(self._clock() - at)
        try:
            status, body = self._post(path)
        except (OSError, http.client.HTTPException) as exc:
            self._local.conn = None  # a fresh connection next time
            raise AriUnavailable(
                f"Asterisk unreachable: {exc or type(exc).__name__}", method="POST", path=path
            ) from exc
        if status >= 400:
            raise error_for_status(status, error_message(body), method="POST", path=path)

    def _post(self, path: str) -> tuple[int, str]:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = self._local.conn = kind(self._host, self._port, timeout=self._timeout)
            with self._changed:
                self._connections.append(conn)
        for attempt in (1, 2):
            try:
                conn.request("POST", self._root + path, headers=self._headers)
                response = conn.getresponse()
                return response.status, response.read().decode("utf-8", "replace")
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection Asterisk has closed meanwhile: once more, anew.
                conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
