"""The inbound call policy, fed events with a fake clock: no I/O, no sleeps."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from telephony.policy import messages as m
from telephony.policy.inbound import (
    DEADLINE_FIRST,
    CallState,
    Escalation,
    InboundPolicy,
    Limits,
    Phase,
    PolicyError,
    RingPlan,
)

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
LIMITS = Limits(no_agent_retry=timedelta(seconds=2), max_wait=timedelta(seconds=120))
# A 2-second ring cycle: 3 rings = 6 s; an agent rings 2 rings = 4 s at most.
PLAN = RingPlan(cadence="test", cycle=timedelta(seconds=2), max_rings=3, agent_rings=2)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def offer(*agents: str) -> m.AgentsReserved:
    return m.AgentsReserved(
        agents=tuple(m.AgentOffer(agent_id=a, endpoint=f"PJSIP/{a}") for a in agents)
    )


@pytest.fixture
def policy() -> InboundPolicy:
    return InboundPolicy(LIMITS)


def offering(policy: InboundPolicy, plan: RingPlan = PLAN) -> CallState:
    """Ayşe's phone ringing since T0."""
    state, _ = policy.start("c1", "caller", T0, plan)
    state, _ = policy.decide(state, offer("ayse"), T0)
    state, _ = policy.decide(state, m.AgentRinging(channel_id="c1-agent-1"), T0)
    return state


def talking(policy: InboundPolicy) -> CallState:
    state = offering(policy)
    state, _ = policy.decide(state, m.AgentAnswered(channel_id="c1-agent-1"), at(3))
    return state


def of_type(commands: list[m.Command], kind: type) -> list[m.Command]:
    return [c for c in commands if isinstance(c, kind)]


def attempts(commands: list[m.Command]) -> list[m.RecordAttempt]:
    return [c for c in commands if isinstance(c, m.RecordAttempt)]


def test_arrival_rings_caller_arms_deadline_and_asks_for_an_agent(policy: InboundPolicy) -> None:
    state, commands = policy.start("c1", "caller", T0, PLAN)
    assert state.phase is Phase.WAITING
    assert commands == [
        m.RingCaller(channel_id="caller"),
        m.RecordFacts(fields={"ringing_at": T0, "cadence": "test", "max_rings": 3}),
        m.StartTimer(key="max_wait", at=at(120)),
        m.StartTimer(key="deadline", at=at(6)),
        m.AnswerAt(channel_id="caller", at=at(6)),  # the queue step's answer, armed
        m.ReserveAgents(exclude=(), limit=1),
    ]


def test_reserved_agent_is_dialled_for_at_most_agent_rings(policy: InboundPolicy) -> None:
    state, _ = policy.start("c1", "caller", T0, PLAN)
    state, commands = policy.decide(state, offer("ayse"), T0)
    assert state.phase is Phase.OFFERING
    assert commands == [
        m.RecordFacts(fields={"agent_id": "ayse", "agent_channel_id": "c1-agent-1"}),
        m.DialAgent(agent_id="ayse", endpoint="PJSIP/ayse", channel_id="c1-agent-1"),
        # Not ringing yet: 5 s to start ringing, then `agent_rings` (the first step, the
        # queue, keeps agents ringing past the caller's deadline).
        m.StartTimer(key="agent_ring:1", at=at(5 + 4)),
    ]
    # The agent's rings count from when the phone really rings.
    _, commands = policy.decide(state, m.AgentRinging(channel_id="c1-agent-1"), at(0.5))
    assert commands == [m.StartTimer(key="agent_ring:1", at=at(4.5))]


def test_a_phone_that_never_starts_ringing_is_unreachable_not_a_miss(
    policy: InboundPolicy,
) -> None:
    state, _ = policy.start("c1", "caller", T0, RingPlan(cycle=timedelta(seconds=10)))
    state, _ = policy.decide(state, offer("ayse"), T0)
    _, commands = policy.decide(state, m.TimerFired(key="agent_ring:1"), at(5))
    assert attempts(commands)[0].outcome == "unreachable"
    assert m.ReleaseAgent(agent_id="ayse", missed=False, pause=False) in commands


@pytest.mark.parametrize("first_step", ["voicemail", "callback_offer", "message", "external"])
def test_an_agent_never_rings_past_the_deadline_of_a_step_that_takes_the_caller(
    policy: InboundPolicy, first_step: str
) -> None:
    plan = replace(PLAN, escalation=(Escalation(first_step, dial="+902120000000"),))  # type: ignore[arg-type]
    state, _ = policy.start("c1", "caller", T0, plan)
    _, commands = policy.decide(state, offer("ayse"), at(5))  # 1 s before the deadline
    # Just after the deadline, never at it: the escalation goes first.
    assert m.StartTimer(key="agent_ring:1", at=at(6) + DEADLINE_FIRST) in commands


def test_an_agent_ringing_into_the_queue_rings_on_and_can_answer(policy: InboundPolicy) -> None:
    """The queue (the default first step) answers the caller with music at the deadline;
    the agent already ringing rings their full `agent_rings` and may still answer."""
    state, _ = policy.start("c1", "caller", T0, PLAN)
    state, _ = policy.decide(state, offer("ayse"), at(5))  # 1 s before the deadline
    state, commands = policy.decide(state, m.AgentRinging(channel_id="c1-agent-1"), at(5.2))
    assert commands == [m.StartTimer(key="agent_ring:1", at=at(9.2))]
    state, commands = policy.decide(state, m.TimerFired(key="deadline"), at(6))
    assert m.AnswerCaller(channel_id="caller") in commands
    assert not [c for c in commands if isinstance(c, m.HangupChannel)]
    assert [leg.agent_id for leg in state.legs] == ["ayse"]
    state, commands = policy.decide(state, m.AgentAnswered(channel_id="c1-agent-1"), at(7))
    assert state.phase is Phase.TALKING
    assert m.StopMoh(channel_id="caller") in commands


def test_answer_bridges_records_and_stores_the_ring(policy: InboundPolicy) -> None:
    state, _ = policy.start("c1", "caller", T0, PLAN)
    state, _ = policy.decide(state, offer("ayse"), T0)
    state, commands = policy.decide(state, m.AgentRinging(channel_id="c1-agent-1"), at(0.2))
    assert commands == [m.StartTimer(key="agent_ring:1", at=at(4.2))]
    state, commands = policy.decide(state, m.AgentAnswered(channel_id="c1-agent-1"), at(3))
    assert state.phase is Phase.TALKING
    facts = of_type(commands, m.RecordFacts)[0]
    assert isinstance(facts, m.RecordFacts)
    assert facts.fields["answered_ring"] == 2.5  # 3 s into 2 s cycles: ring 2.5
    assert attempts(commands)[0] == m.RecordAttempt(
        agent_id="ayse",
        channel_id="c1-agent-1",
        started_at=T0,
        ringing_at=at(0.2),
        ended_at=at(3),
        outcome="answered",
    )
    tail = commands[-3:]
    assert tail == [
        m.AnswerCaller(channel_id="caller"),
        m.BridgeCall(bridge_id="c1", channel_ids=("caller", "c1-agent-1")),
        m.StartRecording(channel_id="caller", name="c1"),
    ]
    for key in ("max_wait", "deadline", "agent_ring:1"):
        assert m.CancelTimer(key=key) in commands


@pytest.mark.parametrize("who", ["caller", "agent"])
def test_hangup_of_either_side_tears_down(policy: InboundPolicy, who: str) -> None:
    state = talking(policy)
    event: m.CallEvent = (
        m.CallerHungUp() if who == "caller" else m.AgentLegEnded(channel_id="c1-agent-1")
    )
    state, commands = policy.decide(state, event, at(30))
    assert state.phase is Phase.ENDED
    other = "c1-agent-1" if who == "caller" else "caller"
    assert m.HangupChannel(channel_id=other) in commands
    assert m.DestroyBridge(bridge_id="c1") in commands
    assert m.ReleaseAgent(agent_id="ayse", missed=False) in commands
    assert commands[-1] == m.EndCall(outcome="answered", hangup_by=who)


def test_rejecting_agent_is_hung_up_recorded_and_the_next_asked(policy: InboundPolicy) -> None:
    state = offering(policy)
    state, commands = policy.decide(
        state, m.AgentLegEnded(channel_id="c1-agent-1", reason="busy"), at(1)
    )
    assert state.phase is Phase.WAITING
    assert m.HangupChannel(channel_id="c1-agent-1", reason="no_answer") in commands
    assert m.ReleaseAgent(agent_id="ayse", missed=False) in commands
    assert attempts(commands)[0].outcome == "busy"
    assert commands[-1] == m.ReserveAgents(exclude=("ayse",), limit=1)
    state, commands = policy.decide(state, offer("mehmet"), at(1))
    assert (
        m.DialAgent(agent_id="mehmet", endpoint="PJSIP/mehmet", channel_id="c1-agent-2") in commands
    )


def test_agent_ring_timeout_is_a_miss_and_moves_on(policy: InboundPolicy) -> None:
    state = offering(policy)
    state, commands = policy.decide(state, m.TimerFired(key="agent_ring:1"), at(4))
    assert m.HangupChannel(channel_id="c1-agent-1", reason="no_answer") in commands
    assert m.ReleaseAgent(agent_id="ayse", missed=True) in commands
    assert commands[-1] == m.ReserveAgents(exclude=("ayse",), limit=1)
    # The hung-up leg's late events change nothing.
    for late in (
        m.AgentLegEnded(channel_id="c1-agent-1"),
        m.AgentAnswered(channel_id="c1-agent-1"),
    ):
        assert policy.decide(state, late, at(4.1)) == (state, [])


def test_each_agent_is_tried_once_per_round_then_the_call_waits(policy: InboundPolicy) -> None:
    state = offering(policy)
    state, _ = policy.decide(state, m.AgentLegEnded(channel_id="c1-agent-1", reason="busy"), at(1))
    state, _ = policy.decide(state, offer("mehmet"), at(1))
    state, commands = policy.decide(
        state, m.AgentLegEnded(channel_id="c1-agent-2", reason="busy"), at(2)
    )
    assert commands[-1] == m.ReserveAgents(exclude=("ayse", "mehmet"), limit=1)
    state, commands = policy.decide(state, m.NoAgentAvailable(), at(2))
    assert commands == [m.StartTimer(key="retry", at=at(4))]
    state, commands = policy.decide(state, m.TimerFired(key="retry"), at(4))
    assert commands == [m.ReserveAgents(exclude=(), limit=1)]  # a new round: everyone again


def test_deadline_escalates_to_queue_system_answers_with_music(policy: InboundPolicy) -> None:
    state = offering(policy)
    state, commands = policy.decide(state, m.TimerFired(key="agent_ring:1"), at(4))
    state, commands = policy.decide(state, offer("mehmet"), at(4))
    assert m.StartTimer(key="agent_ring:2", at=at(4 + 5 + 4)) in commands  # rings into the queue
    state, commands = policy.decide(state, m.TimerFired(key="deadline"), at(6))
    assert m.AnswerCaller(channel_id="caller") in commands
    assert m.StartMoh(channel_id="caller", moh_class="default") in commands
    assert m.RecordFacts(fields={"escalation": {"step": "queue", "ring": 4.0}}) in commands
    assert state.system_answered
    # Agents go on being offered the call; when one answers, the music stops.
    state, commands = policy.decide(state, m.AgentAnswered(channel_id="c1-agent-2"), at(7))
    assert m.StopMoh(channel_id="caller") in commands
    assert m.AnswerCaller(channel_id="caller") not in commands
    facts = of_type(commands, m.RecordFacts)[0]
    assert isinstance(facts, m.RecordFacts) and "answered_ring" not in facts.fields


def test_queued_caller_hears_announcements_between_music(policy: InboundPolicy) -> None:
    plan = RingPlan(
        cycle=timedelta(seconds=2),
        escalation=(Escalation("queue", announce_every=timedelta(seconds=10)),),
    )
    state = offering(policy, plan)
    state, commands = policy.decide(state, m.TimerFired(key="deadline"), at(6))
    assert m.StartTimer(key="announce", at=at(16)) in commands
    state, commands = policy.decide(state, m.TimerFired(key="announce"), at(16))
    assert commands == [
        m.StopMoh(channel_id="caller"),
        m.Announce(channel_id="caller", playback_id="c1-q1"),
    ]
    state, commands = policy.decide(state, m.AnnouncementDone(), at(19))
    assert commands == [
        m.StartMoh(channel_id="caller", moh_class="default"),
        m.StartTimer(key="announce", at=at(29)),
    ]
    state, commands = policy.decide(state, m.AgentAnswered(channel_id="c1-agent-1"), at(20))
    assert m.CancelTimer(key="announce") in commands
    assert policy.decide(state, m.AnnouncementDone(), at(21)) == (state, [])
    assert policy.decide(state, m.TimerFired(key="announce"), at(29)) == (state, [])


def test_leaving_the_queue_is_abandoned_without_a_ring(policy: InboundPolicy) -> None:
    state = offering(policy)
    state, _ = policy.decide(state, m.TimerFired(key="deadline"), at(6))
    state, commands = policy.decide(state, m.CallerHungUp(), at(9))
    assert commands[-1] == m.EndCall(outcome="abandoned", hangup_by="caller")
    assert not [c for c in commands if isinstance(c, m.RecordFacts)]


def test_after_the_deadline_agents_ring_their_full_agent_rings(policy: InboundPolicy) -> None:
    state, _ = policy.start("c1", "caller", T0, PLAN)
    state, _ = policy.decide(state, m.NoAgentAvailable(), T0)
    state, _ = policy.decide(state, m.TimerFired(key="deadline"), at(6))
    state, commands = policy.decide(state, m.TimerFired(key="retry"), at(6.5))
    state, _ = policy.decide(state, offer("ayse"), at(6.5))
    _, commands = policy.decide(state, m.AgentRinging(channel_id="c1-agent-1"), at(6.5))
    assert commands == [m.StartTimer(key="agent_ring:1", at=at(10.5))]


def test_ring_all_escalation_rings_every_free_agent_and_first_answer_wins(
    policy: InboundPolicy,
) -> None:
    plan = RingPlan(
        cadence="t",
        cycle=timedelta(seconds=2),
        max_rings=3,
        agent_rings=2,
        escalation=(Escalation("ring_all"), Escalation("message")),
    )
    state = offering(policy, plan)
    state, commands = policy.decide(state, m.TimerFired(key="deadline"), at(6))
    assert commands[-1] == m.ReserveAgents(exclude=("ayse",), limit=None)
    assert m.StartTimer(key="deadline", at=at(10)) in commands  # the next step
    state, commands = policy.decide(state, offer("mehmet", "zeynep"), at(6))
    assert len(state.legs) == 3
    state, commands = policy.decide(state, m.AgentAnswered(channel_id="c1-agent-3"), at(7))
    assert state.phase is Phase.TALKING
    assert m.HangupChannel(channel_id="c1-agent-1") in commands
    assert m.HangupChannel(channel_id="c1-agent-2") in commands
    assert len(of_type(commands, m.BridgeCall)) == 1
    cancelled = [a for a in attempts(commands) if a.outcome == "cancelled"]
    assert len(cancelled) == 2


def test_message_step_hands_the_caller_to_the_dialplan(policy: InboundPolicy) -> None:
    plan = RingPlan(cycle=timedelta(seconds=2), escalation=(Escalation("message"),))
    state = offering(policy, plan)
    state, commands = policy.decide(state, m.TimerFired(key="deadline"), at(6))
    assert state.phase is Phase.ENDED
    assert m.EndCall(outcome="no_agent", hangup_by="system") in commands
    assert commands[-1] == m.ReturnToDialplan(channel_id="caller", label="message")


def test_min_rings_delays_offering(policy: InboundPolicy) -> None:
    plan = RingPlan(cycle=timedelta(seconds=2), max_rings=3, min_rings=1)
    state, commands = policy.start("c1", "caller", T0, plan)
    assert not of_type(commands, m.ReserveAgents)
    assert m.StartTimer(key="put_through", at=at(2)) in commands
    state, commands = policy.decide(state, m.TimerFired(key="put_through"), at(2))
    assert commands == [m.ReserveAgents(exclude=(), limit=1)]


def test_selection_ring_all_asks_for_everyone(policy: InboundPolicy) -> None:
    plan = RingPlan(cycle=timedelta(seconds=2), selection="ring_all")
    _, commands = policy.start("c1", "caller", T0, plan)
    assert commands[-1] == m.ReserveAgents(exclude=(), limit=None, strategy="ring_all")


def test_max_wait_hands_caller_to_dialplan_message(policy: InboundPolicy) -> None:
    state = offering(policy)
    state, commands = policy.decide(state, m.TimerFired(key="max_wait"), at(120))
    assert state.phase is Phase.ENDED
    assert m.HangupChannel(channel_id="c1-agent-1") in commands
    assert m.ReleaseAgent(agent_id="ayse", missed=False) in commands
    assert m.EndCall(outcome="no_agent", hangup_by="system") in commands
    assert commands[-1] == m.ReturnToDialplan(channel_id="caller", label="message")


def test_caller_abandons_while_agent_rings_at_ring_n(policy: InboundPolicy) -> None:
    state = offering(policy)
    state, commands = policy.decide(state, m.CallerHungUp(), at(5))
    assert commands[0] == m.RecordFacts(fields={"abandoned_ring": 3.5})
    assert commands[-1] == m.EndCall(outcome="abandoned", hangup_by="caller")
    assert m.HangupChannel(channel_id="c1-agent-1") in commands
    assert m.ReleaseAgent(agent_id="ayse", missed=False) in commands


def test_failed_action_returns_caller_to_dialplan(policy: InboundPolicy) -> None:
    state = talking(policy)
    state, commands = policy.decide(state, m.ActionFailed(what="bridge", detail="409"), at(3))
    assert state.phase is Phase.ENDED
    assert m.EndCall(outcome="failed", hangup_by="system") in commands
    assert commands[-1] == m.ReturnToDialplan(channel_id="caller", label="message")


def test_stale_timers_and_late_events_are_ignored(policy: InboundPolicy) -> None:
    state = talking(policy)
    for event in (
        m.TimerFired(key="agent_ring:1"),
        m.TimerFired(key="retry"),
        m.TimerFired(key="deadline"),
        m.AgentRinging(channel_id="c1-agent-1"),
        m.AgentAnswered(channel_id="c1-agent-1"),
        m.AgentLegEnded(channel_id="someone-else"),
    ):
        assert policy.decide(state, event, at(5)) == (state, [])
    ended, _ = policy.decide(state, m.CallerHungUp(), at(9))
    assert policy.decide(ended, m.CallerHungUp(), at(10)) == (ended, [])


def test_unexpected_event_is_a_policy_error(policy: InboundPolicy) -> None:
    state = talking(policy)
    with pytest.raises(PolicyError, match="AgentsReserved"):
        policy.decide(state, offer("x"), at(5))
    with pytest.raises(PolicyError):
        policy.decide(state, m.NoAgentAvailable(), at(5))


def test_adopted_call_behaves_like_a_bridged_one(policy: InboundPolicy) -> None:
    state, resume = policy.adopt_talking("c9", "caller9", "ayse", "c9-agent-1", "c9", T0)
    assert resume == []  # not on hold: no watchdog to resume
    _, commands = policy.decide(state, m.CallerHungUp(), at(1))
    assert m.DestroyBridge(bridge_id="c9") in commands
    assert m.ReleaseAgent(agent_id="ayse", missed=False) in commands


def test_messages_reject_unknown_fields() -> None:
    with pytest.raises(ValueError):
        m.CallerHungUp(bogus=1)  # type: ignore[call-arg]
