"""The inbound call policy, fed events with a fake clock: no I/O, no sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from telephony.policy.inbound import CallState, InboundPolicy, Limits, Phase, PolicyError
from telephony.policy.messages import (
    ActionFailed,
    AgentAnswered,
    AgentLegEnded,
    AgentReserved,
    AgentRinging,
    AnswerCaller,
    BridgeCall,
    CallerHungUp,
    CancelTimer,
    Command,
    DestroyBridge,
    DialAgent,
    EndCall,
    HangupChannel,
    NoAgentAvailable,
    RecordFacts,
    ReleaseAgent,
    ReserveAgent,
    ReturnToDialplan,
    RingCaller,
    StartRecording,
    StartTimer,
    TimerFired,
)

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
LIMITS = Limits(
    agent_ring_timeout=timedelta(seconds=10),
    no_agent_retry=timedelta(seconds=2),
    max_wait=timedelta(seconds=60),
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def policy() -> InboundPolicy:
    return InboundPolicy(LIMITS)


def offering(policy: InboundPolicy) -> CallState:
    state, _ = policy.start("c1", "chan-caller", T0)
    state, _ = policy.decide(state, AgentReserved(agent_id="ayse", endpoint="PJSIP/a1"), T0)
    return state


def talking(policy: InboundPolicy) -> CallState:
    state = offering(policy)
    state, _ = policy.decide(state, AgentAnswered(channel_id="c1-agent-1"), at(3))
    return state


def of_type(commands: list[Command], kind: type) -> list[Command]:
    return [c for c in commands if isinstance(c, kind)]


def test_arrival_rings_caller_bounds_wait_and_asks_for_agent(policy: InboundPolicy) -> None:
    state, commands = policy.start("c1", "chan-caller", T0)
    assert state.phase is Phase.RESERVING
    assert commands == [
        RingCaller(channel_id="chan-caller"),
        RecordFacts(fields={"ringing_at": T0}),
        StartTimer(key="max_wait", at=at(60)),
        ReserveAgent(),
    ]


def test_reserved_agent_is_dialled_with_a_ring_timeout(policy: InboundPolicy) -> None:
    state, _ = policy.start("c1", "chan-caller", T0)
    state, commands = policy.decide(state, AgentReserved(agent_id="ayse", endpoint="PJSIP/a1"), T0)
    assert state.phase is Phase.OFFERING
    assert commands == [
        RecordFacts(fields={"agent_id": "ayse", "agent_channel_id": "c1-agent-1"}),
        DialAgent(agent_id="ayse", endpoint="PJSIP/a1", channel_id="c1-agent-1"),
        StartTimer(key="agent_ring:1", at=at(10)),
    ]


def test_answer_bridges_records_and_stores(policy: InboundPolicy) -> None:
    state = offering(policy)
    state, commands = policy.decide(state, AgentRinging(channel_id="c1-agent-1"), at(1))
    assert commands == []
    state, commands = policy.decide(state, AgentAnswered(channel_id="c1-agent-1"), at(3))
    assert state.phase is Phase.TALKING
    assert commands == [
        CancelTimer(key="agent_ring:1"),
        CancelTimer(key="max_wait"),
        RecordFacts(fields={"answered_at": at(3), "bridge_id": "c1", "recording_name": "c1"}),
        AnswerCaller(channel_id="chan-caller"),
        BridgeCall(bridge_id="c1", channel_ids=("chan-caller", "c1-agent-1")),
        StartRecording(bridge_id="c1", name="c1"),
    ]


@pytest.mark.parametrize("who", ["caller", "agent"])
def test_hangup_of_either_side_tears_down(policy: InboundPolicy, who: str) -> None:
    state = talking(policy)
    event = CallerHungUp() if who == "caller" else AgentLegEnded(channel_id="c1-agent-1")
    state, commands = policy.decide(state, event, at(30))
    assert state.phase is Phase.ENDED
    other = "c1-agent-1" if who == "caller" else "chan-caller"
    assert HangupChannel(channel_id=other) in commands
    assert DestroyBridge(bridge_id="c1") in commands
    assert ReleaseAgent(agent_id="ayse", missed=False) in commands
    assert commands[-1] == EndCall(outcome="answered", hangup_by=who)


def test_agent_rejecting_moves_to_next_agent(policy: InboundPolicy) -> None:
    state = offering(policy)
    state, commands = policy.decide(state, AgentLegEnded(channel_id="c1-agent-1"), at(1))
    assert state.phase is Phase.RESERVING
    assert commands == [
        CancelTimer(key="agent_ring:1"),
        HangupChannel(channel_id="c1-agent-1", reason="no_answer"),
        ReleaseAgent(agent_id="ayse", missed=True),
        ReserveAgent(exclude=("ayse",)),
    ]
    state, commands = policy.decide(state, AgentReserved(agent_id="mehmet", endpoint="P/2"), at(1))
    assert commands[1] == DialAgent(agent_id="mehmet", endpoint="P/2", channel_id="c1-agent-2")


def test_agent_ring_timeout_hangs_up_that_leg_and_tries_next(policy: InboundPolicy) -> None:
    state = offering(policy)
    state, commands = policy.decide(state, TimerFired(key="agent_ring:1"), at(10))
    assert HangupChannel(channel_id="c1-agent-1", reason="no_answer") in commands
    assert ReserveAgent(exclude=("ayse",)) in commands
    # The hung-up leg's late events change nothing.
    for late in (AgentLegEnded(channel_id="c1-agent-1"), AgentAnswered(channel_id="c1-agent-1")):
        assert policy.decide(state, late, at(11)) == (state, [])


def test_each_agent_is_tried_once_per_round_then_the_call_waits(policy: InboundPolicy) -> None:
    state = offering(policy)
    state, _ = policy.decide(state, AgentLegEnded(channel_id="c1-agent-1"), at(1))
    state, _ = policy.decide(state, AgentReserved(agent_id="mehmet", endpoint="P/2"), at(1))
    state, commands = policy.decide(state, AgentLegEnded(channel_id="c1-agent-2"), at(2))
    assert commands[-1] == ReserveAgent(exclude=("ayse", "mehmet"))
    state, commands = policy.decide(state, NoAgentAvailable(), at(2))
    assert commands == [StartTimer(key="retry", at=at(4))]
    state, commands = policy.decide(state, TimerFired(key="retry"), at(4))
    assert commands == [ReserveAgent()]  # a new round: everyone again


def test_no_agent_waits_and_retries(policy: InboundPolicy) -> None:
    state, _ = policy.start("c1", "chan-caller", T0)
    state, commands = policy.decide(state, NoAgentAvailable(), T0)
    assert state.phase is Phase.WAITING
    assert commands == [StartTimer(key="retry", at=at(2))]
    state, commands = policy.decide(state, TimerFired(key="retry"), at(2))
    assert state.phase is Phase.RESERVING
    assert commands == [ReserveAgent()]


def test_max_wait_hands_caller_to_dialplan_message(policy: InboundPolicy) -> None:
    state = offering(policy)
    state, commands = policy.decide(state, TimerFired(key="max_wait"), at(60))
    assert state.phase is Phase.ENDED
    assert HangupChannel(channel_id="c1-agent-1") in commands
    assert ReleaseAgent(agent_id="ayse", missed=True) in commands
    assert EndCall(outcome="no_agent", hangup_by="system") in commands
    assert commands[-1] == ReturnToDialplan(channel_id="chan-caller", label="message")
    assert not any(isinstance(c, HangupChannel) and c.channel_id == "chan-caller" for c in commands)


def test_caller_abandons_while_agent_rings(policy: InboundPolicy) -> None:
    state = offering(policy)
    state, commands = policy.decide(state, CallerHungUp(), at(4))
    assert commands[-1] == EndCall(outcome="abandoned", hangup_by="caller")
    assert HangupChannel(channel_id="c1-agent-1") in commands
    assert ReleaseAgent(agent_id="ayse", missed=True) in commands


def test_caller_abandons_while_waiting(policy: InboundPolicy) -> None:
    state, _ = policy.start("c1", "chan-caller", T0)
    state, _ = policy.decide(state, NoAgentAvailable(), T0)
    state, commands = policy.decide(state, CallerHungUp(), at(1))
    assert not of_type(commands, ReleaseAgent)
    assert commands[-1] == EndCall(outcome="abandoned", hangup_by="caller")


def test_failed_action_returns_caller_to_dialplan(policy: InboundPolicy) -> None:
    state = talking(policy)
    state, commands = policy.decide(state, ActionFailed(what="bridge", detail="409"), at(3))
    assert state.phase is Phase.ENDED
    assert EndCall(outcome="failed", hangup_by="system") in commands
    assert commands[-1] == ReturnToDialplan(channel_id="chan-caller", label="message")


def test_stale_timers_and_late_events_are_ignored(policy: InboundPolicy) -> None:
    state = talking(policy)
    for event in (
        TimerFired(key="agent_ring:1"),
        TimerFired(key="retry"),
        AgentRinging(channel_id="c1-agent-1"),
        AgentAnswered(channel_id="c1-agent-1"),
        AgentLegEnded(channel_id="someone-else"),
    ):
        assert policy.decide(state, event, at(5)) == (state, [])
    ended, _ = policy.decide(state, CallerHungUp(), at(9))
    assert policy.decide(ended, CallerHungUp(), at(10)) == (ended, [])


def test_unexpected_event_is_a_policy_error(policy: InboundPolicy) -> None:
    state = talking(policy)
    with pytest.raises(PolicyError, match="AgentReserved"):
        policy.decide(state, AgentReserved(agent_id="x", endpoint="P/x"), at(5))
    with pytest.raises(PolicyError):
        policy.decide(state, NoAgentAvailable(), at(5))


def test_adopted_call_behaves_like_a_bridged_one(policy: InboundPolicy) -> None:
    state = policy.adopt_talking("c9", "caller9", "ayse", "c9-agent-1", "c9")
    _, commands = policy.decide(state, CallerHungUp(), at(1))
    assert DestroyBridge(bridge_id="c9") in commands
    assert ReleaseAgent(agent_id="ayse", missed=False) in commands


def test_messages_reject_unknown_fields() -> None:
    with pytest.raises(ValueError):
        CallerHungUp(bogus=1)  # type: ignore[call-arg]
