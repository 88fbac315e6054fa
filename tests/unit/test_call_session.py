"""CallSession: one call's events in order, and one slow call never delays another."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from telephony.calls.session import CallSession
from telephony.policy.inbound import InboundPolicy, Limits, Phase
from telephony.policy.messages import (
    AgentAnswered,
    AgentOffer,
    AgentsReserved,
    CallerHungUp,
    CallEvent,
    Command,
    DialAgent,
    ReserveAgents,
    StartTimer,
)
from telephony.store.writer import StoreWriter

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class RecordingExecutor:
    """Carries out nothing but answers the pool's question; can be made slow per call."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.gates: dict[str, asyncio.Event] = {}

    async def execute(self, session: CallSession, command: Command) -> CallEvent | None:
        gate = self.gates.get(session.call_id)
        if gate is not None and isinstance(command, DialAgent):
            await gate.wait()
        if isinstance(command, StartTimer):
            return None  # no real timers in this test
        self.log.append((session.call_id, type(command).__name__))
        if isinstance(command, ReserveAgents):
            offer = AgentOffer(agent_id=f"agent-{session.call_id}", endpoint="PJSIP/x")
            return AgentsReserved(agents=(offer,))
        return None


def make_session(
    call_id: str, executor: RecordingExecutor, writer: StoreWriter | None = None
) -> CallSession:
    return CallSession(
        call_id=call_id,
        caller_channel=f"{call_id}-caller",
        did="100",
        caller_number=None,
        caller_name="",
        arrived_at=T0,
        policy=InboundPolicy(Limits(max_wait=timedelta(seconds=60))),
        executor=executor,
        clock=lambda: T0,
        writer=writer or StoreWriter(None),
    )


async def test_events_of_one_call_are_applied_in_order() -> None:
    executor = RecordingExecutor()
    session = make_session("a", executor)
    task = asyncio.create_task(session.run())
    session.feed(AgentAnswered(channel_id="a-agent-1"))
    session.feed(CallerHungUp())
    await asyncio.wait_for(session.done.wait(), 1)
    await task
    names = [name for _, name in executor.log]
    assert names.index("DialAgent") < names.index("BridgeCall") < names.index("EndCall")
    assert session.state is not None and session.state.phase is Phase.ENDED


async def test_a_stuck_call_does_not_delay_another() -> None:
    executor = RecordingExecutor()
    executor.gates["slow"] = asyncio.Event()  # its dial never returns until released
    slow, fast = make_session("slow", executor), make_session("fast", executor)
    tasks = [asyncio.create_task(slow.run()), asyncio.create_task(fast.run())]
    fast.feed(AgentAnswered(channel_id="fast-agent-1"))
    fast.feed(CallerHungUp())
    await asyncio.wait_for(fast.done.wait(), 1)
    assert not slow.done.is_set()
    executor.gates["slow"].set()
    slow.feed(CallerHungUp())
    await asyncio.wait_for(slow.done.wait(), 1)
    await asyncio.gather(*tasks)


async def test_a_database_far_behind_never_loses_a_calls_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The call ends while its last write is still waiting for the database, past the
    flush window: the write goes on behind the call and lands (it used to be cancelled)."""
    monkeypatch.setattr("telephony.calls.session.WRITE_FLUSH_S", 0.05)
    released = asyncio.Event()
    written: list[str] = []

    async def slow_write() -> None:
        await released.wait()
        written.append("end")

    executor = RecordingExecutor()
    writer = StoreWriter(None)
    writing = asyncio.create_task(writer.run())
    session = make_session("behind", executor, writer)
    task = asyncio.create_task(session.run())
    session.write_later("the call's end", slow_write)
    session.feed(AgentAnswered(channel_id="behind-agent-1"))
    session.feed(CallerHungUp())
    await asyncio.wait_for(session.done.wait(), 1)  # the call is over...
    await task
    assert written == [] and writer.pending == 1  # ...its write still on its way
    released.set()
    await asyncio.wait_for(writer.flushed(), 1)
    assert written == ["end"]
    writing.cancel()


async def test_a_burst_of_facts_is_one_write_and_no_fact_jumps_an_earlier_write() -> None:
    writer = StoreWriter(None)
    session = make_session("facts", RecordingExecutor(), writer)
    written: list[tuple[str, dict[str, object]]] = []
    gate = asyncio.Event()

    async def first() -> None:
        await gate.wait()  # the database is busy with the call's first write
        written.append(("arrival", {}))

    async def update(fields: dict[str, object]) -> None:
        written.append(("update", dict(fields)))

    async def attempt() -> None:
        written.append(("attempt", {}))

    session.write_later("arrival", first)
    session.write_facts({"ringing_at": 1, "max_rings": 3}, update)
    session.write_facts({"agent_id": "ayse"}, update)
    session.write_facts({"ringing_at": 2}, update)  # the 180 sent: the later value wins
    session.write_later("attempt", attempt)
    session.write_facts({"ended_at": 9}, update)  # after the attempt, so in its own write
    writing = asyncio.create_task(writer.run())
    await asyncio.sleep(0)
    session.write_facts({"outcome": "answered"}, update)  # joins the last, not yet started
    gate.set()
    await asyncio.wait_for(writer.flushed(), 1)
    writing.cancel()
    assert written == [
        ("arrival", {}),
        ("update", {"ringing_at": 2, "max_rings": 3, "agent_id": "ayse"}),
        ("attempt", {}),
        ("update", {"ended_at": 9, "outcome": "answered"}),
    ]


async def test_facts_after_a_facts_write_started_are_written_after_it() -> None:
    writer = StoreWriter(None)
    session = make_session("started", RecordingExecutor(), writer)
    written: list[dict[str, object]] = []
    gate = asyncio.Event()

    async def update(fields: dict[str, object]) -> None:
        await gate.wait()
        written.append(dict(fields))

    session.write_facts({"ringing_at": 1}, update)
    writing = asyncio.create_task(writer.run())
    await asyncio.sleep(0)  # the first update is on its way to the database
    session.write_facts({"agent_id": "ayse"}, update)
    gate.set()
    await asyncio.wait_for(writer.flushed(), 1)
    writing.cancel()
    assert written == [{"ringing_at": 1}, {"agent_id": "ayse"}]
