"""Answers sent at their time by a thread of its own, whatever the event loop is doing.

The caller's deadline is a timer; when it passes with nobody answering, the system
answers the caller (the `queue` escalation step). At 200 callers' deadlines in one
burst the event loop ran those timers 59-98 ms late at the median and 236-395 ms late
at p99: a due timer waits behind every callback the loop has ready, and there each
earlier caller's answer, recording, music and store writes were. A single-threaded loop
cannot be made to interrupt that work; a thread can. Here a clock thread sleeps until
the earliest armed answer is due and sends it, on a kept-alive connection opened ahead
of time; sender threads read Asterisk's replies (and send, when no connection is idle).
Measured at 200 deadlines at once: the answers left 13-19 ms late at the median and
75-87 ms at p99 (the clock thread waits for a core and for the interpreter).

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
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final

from telephony.ari.errors import AriError, AriUnavailable, error_for_status
from telephony.ari.transport import basic_auth, checked_base_url, error_message, seg

# Replies awaited at once, each on its own connection: a burst of 200 deadlines comes at
# up to 250 a second, and Asterisk took ~50 ms to answer each there (8 fell behind).
SENDERS: Final = 32
# Asterisk closes an idle HTTP session after http.conf's `session_keep_alive` (15 s by
# default); a connection idle longer than this is not reused (its request would be lost
# and sent again, a round trip late).
REUSE_WITHIN_S: Final = 10.0
# Connections are opened this long before the answers due: connecting at the deadline,
# one at a time (see `_connect`), 50 deadlines at once waited up to ~60 ms for theirs.
CONNECT_AHEAD_S: Final = 2.0

_Due = tuple[str, float, concurrent.futures.Future[None]]  # channel, when, its outcome
_ANSWER, _CONNECT = 0, 1  # what a clock entry is for


class PunctualAnswers:
    """`arm(channel, in_s)` from the loop; the answer goes `in_s` seconds from now.
    `claim(channel)` returns the answer's outcome to await, or None if it was not sent
    (then it never will be). `start()` before use, `close()` at the end. `on_sent` is
    told, on the thread sending it, how late (seconds) each answer left."""

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
        url = checked_base_url(base_url)
        self._https = url.scheme == "https"
        self._host = url.host or ""  # never empty: checked_base_url
        self._port = url.port
        self._root = url.path.rstrip("/") + "/ari"
        self._headers = {"Authorization": basic_auth(username, password), "Content-Length": "0"}
        self._timeout = timeout
        self._clock = clock
        self._on_sent = on_sent
        self._changed = threading.Condition()  # guards the maps, the heap and the connections
        self._due: dict[str, float] = {}  # channel -> when, armed and not yet sent
        # (when, order, what, channel, answer's time); may hold withdrawn entries
        self._heap: list[tuple[float, int, int, str, float]] = []
        self._order = itertools.count()
        self._sent: dict[str, concurrent.futures.Future[None]] = {}
        self._senders = senders
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._clock_thread: threading.Thread | None = None
        self._idle: deque[tuple[http.client.HTTPConnection, float]] = deque()  # oldest first
        self._connections: set[http.client.HTTPConnection] = set()  # open: idle or in use
        self._connecting = threading.Lock()  # one connect at a time
        self._closed = False

    def start(self) -> None:
        if self._clock_thread is not None:
            return
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
        self._idle.clear()
        for conn in connections:
            conn.close()

    def arm(self, channel_id: str, in_s: float) -> None:
        """Answer `channel_id` in `in_s` seconds, replacing an earlier time armed for it."""
        at = self._clock() + in_s
        with self._changed:
            if self._closed or channel_id in self._sent:
                return
            self._due[channel_id] = at
            connect_at = max(at - CONNECT_AHEAD_S, at - in_s)
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (connect_at, next(self._order), _CONNECT, channel_id, at))
            heapq.heappush(self._heap, (at, next(self._order), _ANSWER, channel_id, at))
            if earliest is None or connect_at < earliest:
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
            answers, connects = due
            for channel, at, outcome in answers:
                self._send_answer(channel, at, outcome)
            for _ in range(connects):
                self._pool.submit(self._connect_ahead)

    def _send_answer(
        self, channel: str, at: float, outcome: concurrent.futures.Future[None]
    ) -> None:
        assert self._pool is not None
        try:
            sent_on = self._send_here(channel, at)
        except Exception as error:  # must neither stop the clock nor hang the call
            outcome.set_exception(error)
            return
        sending = self._pool.submit(self._answer, channel, at, outcome, sent_on)
        sending.add_done_callback(functools.partial(_settle, outcome))

    def _next_due(self) -> tuple[list[_Due], int] | None:
        """Wait until answers or connections are due; take them (None: closed)."""
        with self._changed:
            while not self._closed:
                now = self._clock()
                answers: list[_Due] = []
                connects = 0
                while self._heap and self._heap[0][0] <= now:
                    _, _, what, channel, at = heapq.heappop(self._heap)
                    if self._due.get(channel) != at:  # withdrawn, or armed for later
                        continue
                    if what == _CONNECT:
                        connects += 1
                        continue
                    del self._due[channel]
                    outcome = self._sent[channel] = concurrent.futures.Future()
                    answers.append((channel, at, outcome))
                if answers or connects:
                    return answers, connects
                self._changed.wait(self._heap[0][0] - now if self._heap else None)
            return None

    # --- the senders ------------------------------------------------------------------

    def _send_here(self, channel: str, at: float) -> http.client.HTTPConnection | None:
        """On the clock thread: the answer sent at once on an idle connection, if there is
        one (a sender then reads the reply). Handing the sending to a sender cost another
        wait for the interpreter: 15 ms at the median at 200 deadlines at once."""
        conn = self._idle_connection()
        if conn is None:
            return None
        self._on_sent(self._clock() - at)
        try:
            conn.request("POST", self._root + _answer_path(channel), headers=self._headers)
        except (OSError, http.client.HTTPException):
            self._drop(conn)  # Asterisk closed it while idle: the sender sends it anew
            return None
        return conn

    def _answer(
        self,
        channel: str,
        at: float,
        outcome: concurrent.futures.Future[None],
        sent_on: http.client.HTTPConnection | None,
    ) -> None:
        """On a sender thread: the answer's reply read (and the answer sent first unless
        the clock thread sent it), on a kept-alive connection if there is one."""
        path = _answer_path(channel)
        try:
            if sent_on is not None:
                conn, reused, unsent = sent_on, True, False
            else:
                self._on_sent(self._clock() - at)
                idle = self._idle_connection()
                conn, reused, unsent = idle or self._connect(), idle is not None, True
            while True:
                try:
                    if unsent:
                        conn.request("POST", self._root + path, headers=self._headers)
                    response = conn.getresponse()
                    body = response.read().decode("utf-8", "replace")
                    break
                except (OSError, http.client.HTTPException):
                    self._drop(conn)
                    if not reused:
                        raise
                    conn, reused, unsent = self._connect(), False, True  # closed while idle
        except (OSError, http.client.HTTPException) as exc:
            outcome.set_exception(_unreachable(exc, path))
            return
        with self._changed:
            self._idle.append((conn, self._clock()))
        if response.status >= 400:
            message = error_message(body)
            error = error_for_status(response.status, message, method="POST", path=path)
            outcome.set_exception(error)
        else:
            outcome.set_result(None)

    def _idle_connection(self) -> http.client.HTTPConnection | None:
        """The most recently used idle connection, if one is fresh enough to reuse."""
        now = self._clock()
        with self._changed:
            while self._idle:
                conn, since = self._idle.pop()
                if now - since < REUSE_WITHIN_S:
                    return conn
                self._drop(conn)
        return None

    def _connect_ahead(self) -> None:
        """One more idle connection for the answers due soon, unless `senders` are open."""
        self._drop_stale()
        with self._changed:
            enough = len(self._connections) >= self._senders
        if not enough:
            try:
                conn = self._connect()
            except OSError:
                return  # the answer connects itself, and says why if it cannot
            with self._changed:
                self._idle.append((conn, self._clock()))

    def _drop_stale(self) -> None:
        now = self._clock()
        with self._changed:
            while self._idle and now - self._idle[0][1] >= REUSE_WITHIN_S:
                self._drop(self._idle.popleft()[0])

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


def _answer_path(channel: str) -> str:
    return f"/channels/{seg(channel)}/answer"


def _unreachable(exc: BaseException, path: str) -> AriError:
    detail = str(exc) or type(exc).__name__
    return AriUnavailable(f"Asterisk unreachable: {detail}", method="POST", path=path)
