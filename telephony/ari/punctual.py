"""Answers sent at their time by a thread of its own, whatever the event loop is doing.

The caller's deadline is a timer; when it passes with nobody answering, the system
answers the caller (the `queue` escalation step). At 200 callers' deadlines in one
burst the event loop ran those timers 59-98 ms late at the median and 236-395 ms late
at p99: a due timer waits behind every callback the loop has ready, and there each
earlier caller's answer, recording, music and store writes were. A single-threaded loop
cannot be made to interrupt that work; a thread can. Here a clock thread sleeps until
the earliest armed answer is due and hands it to a sender thread, which sends it on a
kept-alive connection of its own. The interpreter is handed to a waiting thread within
the switch interval, which `start` lowers from CPython's 5 ms to 1 ms.

The policy still decides: it arms an answer for the deadline (`AnswerAt`) together with
the deadline's timer, and when the timer fires it answers as before (`AnswerCaller`);
the executor then `claim`s the answer sent already instead of sending a second one.
Claimed before it was due (an agent answered first), the armed answer is withdrawn.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import heapq
import http.client
import itertools
import sys
import threading
import time
from collections.abc import Callable
from typing import Final

import yarl

from telephony.ari.errors import AriError, AriUnavailable, error_for_status
from telephony.ari.transport import basic_auth, error_message, seg

# Answers in flight at once, each on its own connection: a burst of 200 deadlines comes
# at up to 250 a second, and Asterisk took ~50 ms to answer each there (8 fell behind).
SENDERS: Final = 32
SWITCH_INTERVAL_S: Final = 0.001
# Asterisk closes an idle HTTP session after http.conf's `session_keep_alive` (15 s by
# default); a connection idle longer than this is not reused (its request would be lost
# and sent again, a round trip late).
REUSE_WITHIN_S: Final = 10.0

_Due = tuple[str, float, concurrent.futures.Future[None]]  # channel, when, its outcome


class PunctualAnswers:
    """`arm(channel, in_s)` from the loop; the answer goes `in_s` seconds from now.
    `claim(channel)` returns the answer's outcome to await, or None if it was not sent
    (then it never will be). `start()` before use, `close()` at the end. `on_sent` is
    told, on a sender thread, how late (seconds) each answer left."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 5.0,
        senders: int = SENDERS,
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
        self._senders = senders
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._clock_thread: threading.Thread | None = None
        self._local = threading.local()  # each sender's connection, and since when idle
        self._connections: set[http.client.HTTPConnection] = set()  # to close at the end
        self._connecting = threading.Lock()
        self._closed = False

    def start(self) -> None:
        if self._clock_thread is not None:
            return
        if sys.getswitchinterval() > SWITCH_INTERVAL_S:  # process-wide; never raised
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            self._senders, thread_name_prefix="punctual-answer"
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
            connections, self._connections = self._connections, set()
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

    # --- the clock thread ---------------------------------------------------------------

    def _run(self) -> None:
        while (due := self._next_due()) is not None:
            assert self._pool is not None
            for channel, at, outcome in due:
                sending = self._pool.submit(self._answer, channel, at, outcome)
                sending.add_done_callback(functools.partial(_settle, outcome))

    def _next_due(self) -> list[_Due] | None:
        """Wait until answers are due; take them (None: closed)."""
        with self._changed:
            while not self._closed:
                now = self._clock()
                due: list[_Due] = []
                while self._heap and self._heap[0][0] <= now:
                    at, _, channel = heapq.heappop(self._heap)
                    if self._due.get(channel) == at:  # else withdrawn, or armed for later
                        del self._due[channel]
                        outcome = self._sent[channel] = concurrent.futures.Future()
                        due.append((channel, at, outcome))
                if due:
                    return due
                self._changed.wait(self._heap[0][0] - now if self._heap else None)
            return None

    # --- the senders ------------------------------------------------------------------

    def _answer(self, channel: str, at: float, outcome: concurrent.futures.Future[None]) -> None:
        """On a sender thread, on its own kept-alive connection."""
        self._on_sent(self._clock() - at)
        path = f"/channels/{seg(channel)}/answer"
        try:
            conn, reused = self._connection()
            while True:
                try:
                    conn.request("POST", self._root + path, headers=self._headers)
                    response = conn.getresponse()
                    body = response.read().decode("utf-8", "replace")
                    break
                except (OSError, http.client.HTTPException):
                    self._drop(conn)
                    if not reused:
                        raise
                    conn, reused = self._connect(), False  # Asterisk closed it while idle
        except (OSError, http.client.HTTPException) as exc:
            outcome.set_exception(_unreachable(exc, path))
            return
        self._local.conn, self._local.since = conn, self._clock()
        if response.status >= 400:
            error = error_for_status(response.status, error_message(body), method="POST", path=path)
            outcome.set_exception(error)
        else:
            outcome.set_result(None)

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This sender's kept-alive connection (True), or a new one (False)."""
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            if self._clock() - self._local.since < REUSE_WITHIN_S:
                return conn, True
            self._drop(conn)
        return self._connect(), False

    def _connect(self) -> http.client.HTTPConnection:
        """A new connection, connected one at a time: Asterisk listens with a backlog of
        10, and a burst of connections beyond it waited for a SYN retried after 1 s."""
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = kind(self._host, self._port, timeout=self._timeout)
        with self._changed:
            self._connections.add(conn)
        try:
            with self._connecting:
                conn.connect()
        except OSError:
            self._drop(conn)
            raise
        return conn

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        with self._changed:
            self._connections.discard(conn)


def _settle(
    outcome: concurrent.futures.Future[None], sending: concurrent.futures.Future[None]
) -> None:
    """A sender that failed unexpectedly still settles the outcome: the call awaits it."""
    error = sending.exception()
    if error is not None and not outcome.done():
        outcome.set_exception(error)


def _unreachable(exc: BaseException, path: str) -> AriError:
    detail = str(exc) or type(exc).__name__
    return AriUnavailable(f"Asterisk unreachable: {detail}", method="POST", path=path)
