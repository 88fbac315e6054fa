"""The deadline's answers, sent by threads of their own (telephony.ari.punctual), against
a fake ARI HTTP peer. Short real delays: the clock is a thread, not the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import pytest

from telephony.ari import AriError, AriServerError, AriUnavailable, NotFound
from telephony.ari.punctual import PunctualAnswers

from .test_ari_rest import PASSWORD, USER, FakeAri, ServerFactory, free_port, serve_fake_ari

ANSWER = "/ari/channels/caller-1/answer"


@pytest.fixture
async def ari(aiohttp_server: ServerFactory) -> AsyncIterator[FakeAri]:
    fake = await serve_fake_ari(aiohttp_server)
    yield fake
    fake.release.set()


class Sent:
    """`on_sent`'s record (called in a worker thread): how late each answer left."""

    def __init__(self) -> None:
        self.late: list[float] = []
        self._loop = asyncio.get_running_loop()
        self._one = asyncio.Event()

    def __call__(self, late_s: float) -> None:
        self.late.append(late_s)
        self._loop.call_soon_threadsafe(self._one.set)

    async def left(self) -> None:
        """Wait until an answer has left (since the last wait)."""
        await asyncio.wait_for(self._one.wait(), 2)
        self._one.clear()

    async def one(self, answers: PunctualAnswers, channel: str = "caller-1") -> None:
        """Wait until an answer has left, then await its outcome."""
        await self.left()
        outcome = answers.claim(channel)
        assert outcome is not None
        await outcome


@pytest.fixture
async def lateness() -> Sent:
    return Sent()


def started(
    url: str, on_sent: Callable[[float], None], password: str = PASSWORD
) -> PunctualAnswers:
    punctual = PunctualAnswers(url, USER, password, timeout=2.0, on_sent=on_sent)
    punctual.start()
    return punctual


@pytest.fixture
async def answers(ari: FakeAri, lateness: Sent) -> AsyncIterator[PunctualAnswers]:
    punctual = started(ari.base_url, lateness)
    yield punctual
    await asyncio.to_thread(punctual.close)  # the loop serves the answers still out


E = TypeVar("E", bound=Exception)


async def refused(punctual: PunctualAnswers, told: Sent, error: type[E], match: str) -> E:
    """Arm an answer that fails with `error`; the error (the punctual is closed after)."""
    try:
        punctual.arm("caller-1", 0.0)
        with pytest.raises(error, match=match) as caught:
            await told.one(punctual)
        return caught.value
    finally:
        await asyncio.to_thread(punctual.close)


def seen(ari: FakeAri) -> list[str]:
    return [f"{s.method} {s.path}" for s in ari.seen]


async def test_an_armed_answer_goes_at_its_time_and_is_claimed(
    ari: FakeAri, answers: PunctualAnswers, lateness: Sent
) -> None:
    loop = asyncio.get_running_loop()
    armed_at = loop.time()
    answers.arm("caller-1", 0.05)
    await lateness.one(answers)  # Asterisk took it
    assert loop.time() - armed_at >= 0.05  # never before its time
    assert seen(ari) == [f"POST {ANSWER}"]
    assert len(lateness.late) == 1 and lateness.late[0] >= 0
    assert answers.claim("caller-1") is None  # claimed once


async def test_claimed_before_its_time_the_answer_is_withdrawn(
    ari: FakeAri, answers: PunctualAnswers
) -> None:
    # An agent answered first: the executor claims, gets nothing, answers itself.
    answers.arm("caller-1", 0.1)
    assert answers.claim("caller-1") is None
    assert answers.armed == 0
    await asyncio.sleep(0.2)
    assert ari.seen == []


async def test_arming_again_replaces_the_earlier_time(
    ari: FakeAri, answers: PunctualAnswers, lateness: Sent
) -> None:
    answers.arm("caller-1", 0.05)
    answers.arm("caller-1", 30)  # the caller's 180 left later: the deadline moved
    await asyncio.sleep(0.15)
    assert ari.seen == [] and answers.armed == 1
    answers.arm("caller-1", 0.0)
    await lateness.one(answers)
    assert seen(ari) == [f"POST {ANSWER}"]


async def test_a_withdrawn_call_is_forgotten_sent_or_not(
    answers: PunctualAnswers, lateness: Sent
) -> None:
    answers.arm("caller-1", 0.0)
    await lateness.left()
    answers.withdraw("caller-1")  # the call ended
    answers.arm("caller-2", 30)
    answers.withdraw("caller-2")
    assert answers.claim("caller-1") is None and answers.armed == 0


@pytest.mark.parametrize(("status", "error"), [(404, NotFound), (500, AriServerError)])
async def test_asterisk_refusing_the_answer_is_the_claims_error(
    ari: FakeAri, answers: PunctualAnswers, lateness: Sent, status: int, error: type[Exception]
) -> None:
    ari.replies[("POST", ANSWER)] = (status, {"message": "Channel not found"})
    answers.arm("caller-1", 0.0)
    with pytest.raises(error, match="Channel not found"):
        await lateness.one(answers)


async def test_a_wrong_password_is_an_error_without_the_password(
    ari: FakeAri, lateness: Sent
) -> None:
    punctual = started(ari.base_url, lateness, password="wrong-password")
    error = await refused(punctual, lateness, AriError, "Authentication required")
    assert error.status == 401 and "wrong-password" not in str(error)


async def test_asterisk_unreachable_is_unavailable(lateness: Sent) -> None:
    punctual = started(f"http://127.0.0.1:{free_port()}", lateness)
    await refused(punctual, lateness, AriUnavailable, "Asterisk unreachable")


async def test_close_withdraws_what_is_armed_and_returns_at_once(
    ari: FakeAri, answers: PunctualAnswers
) -> None:
    answers.arm("caller-1", 30)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.to_thread(answers.close)
    assert loop.time() - started < 1.0 and answers.armed == 0
    answers.arm("caller-2", 0.0)  # closed: nothing is armed any more
    assert answers.armed == 0 and ari.seen == []


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1:8088", "http://", "http://ari:secret@127.0.0.1:8088"]
)
def test_a_bad_base_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        PunctualAnswers(url, USER, PASSWORD)


async def test_a_kept_alive_connection_closed_by_asterisk_meanwhile_costs_no_answer(
    aiohttp_server: ServerFactory, lateness: Sent
) -> None:
    fake = await serve_fake_ari(aiohttp_server, keepalive_timeout=0.05)  # Asterisk's: 15 s
    punctual = started(fake.base_url, lateness)
    try:
        punctual.arm("caller-1", 0.0)
        await lateness.one(punctual)
        await asyncio.sleep(0.2)  # the peer has closed the idle connection
        punctual.arm("caller-1", 0.0)
        await lateness.one(punctual)
        assert seen(fake) == [f"POST {ANSWER}"] * 2
    finally:
        await asyncio.to_thread(punctual.close)


async def test_a_sender_failing_unexpectedly_still_settles_the_answer(ari: FakeAri) -> None:
    # The call awaits the claimed answer: a fault must end that wait, not hang the call.
    told = Sent()

    def failing(late_s: float) -> None:
        told(late_s)
        raise RuntimeError("a bug in a watcher")

    await refused(started(ari.base_url, failing), told, RuntimeError, "a bug in a watcher")


async def test_a_fault_on_the_clock_thread_settles_that_answer_and_the_clock_goes_on(
    ari: FakeAri,
) -> None:
    told = Sent()
    faults: list[str] = []

    def failing_once(late_s: float) -> None:
        told(late_s)
        if faults:
            raise RuntimeError(faults.pop())

    punctual = started(ari.base_url, failing_once)
    try:
        punctual.arm("warm-up", 0.0)  # leaves an idle connection: the clock sends itself
        await told.one(punctual, "warm-up")
        faults.append("a bug on the clock thread")
        punctual.arm("caller-1", 0.0)
        with pytest.raises(RuntimeError, match="on the clock thread"):
            await told.one(punctual)
        punctual.arm("caller-2", 0.0)
        await told.one(punctual, "caller-2")  # the clock still runs
    finally:
        await asyncio.to_thread(punctual.close)
