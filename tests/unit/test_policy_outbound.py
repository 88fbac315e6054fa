"""The outbound callback policy, branch by branch, with a fake clock (no sleeps, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from telephony.policy import messages as m
from telephony.policy.outbound import (
    AGENT_RING,
    APOLOGY,
    APOLOGY_SOUND,
    RING_GRACE,
    RING_LIMIT,
    CustomerAnswered,
    CustomerLegEnded,
    CustomerRinging,
    DialCustomer,
    OutboundCommand,
    OutboundPlan,
    OutboundPolicy,
    OutboundPolicyError,
    OutboundState,
    Phase,
    PlaySound,
    SettleTask,
    customer_endpoint,
)

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
PLAN = OutboundPlan(
    cadence="tr",
    cycle=timedelta(seconds=5),
    max_rings=5,
    retry_after=timedelta(hours=48),
    max_attempts=3,
    no_agent_retry=timedelta(minutes=10),
    ring_start_grace=timedelta(seconds=5),
    agent_limit=timedelta(seconds=15),
    apology=timedelta(seconds=4),
)
CUSTOMER = "cb1-customer"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def after(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def start(attempts: int = 0) -> tuple[OutboundPolicy, OutboundState, list[OutboundCommand]]:
    policy = OutboundPolicy()
    state, commands = policy.start(
        call_id="cb1", task_id=7, number="+905551112233", attempts=attempts, plan=PLAN, now=T0
    )
    return policy, state, commands


def settled(commands: list[OutboundCommand]) -> SettleTask:
    found = [c for c in commands if isinstance(c, SettleTask)]
    assert len(found) == 1, commands
    return found[0]


def test_start_dials_the_customer_through_the_carrier_and_bounds_the_ring_start() -> None:
    _, state, commands = start()
    assert state.phase is Phase.DIALING and state.customer_channel == CUSTOMER
    assert commands == [
        DialCustomer(endpoint="PJSIP/905551112233@carrier", channel_id=CUSTOMER),
        m.StartTimer(key=RING_GRACE, at=T0 + timedelta(seconds=5)),
    ]
    assert customer_endpoint("+441632960000", "trunk2") == "PJSIP/441632960000@trunk2"


def test_never_answering_customer_is_hung_up_after_max_rings_from_ring_start() -> None:
    clock = Clock()
    policy, state, _ = start()
    state, commands = policy.decide(state, CustomerRinging(), clock.after(0.8))
    ring_start = clock.now
    assert m.CancelTimer(key=RING_GRACE) in commands
    assert m.StartTimer(key=RING_LIMIT, at=ring_start + timedelta(seconds=25)) in commands
    # A second RINGING changes nothing: rings count from the first.
    same, again = policy.decide(state, CustomerRinging(), clock.after(1))
    assert same == state and again == []
    state, commands = policy.decide(
        state, m.TimerFired(key=RING_LIMIT), ring_start + PLAN.ring_limit
    )
    assert state.phase is Phase.ENDED
    assert m.HangupChannel(channel_id=CUSTOMER, reason="no_answer") in commands
    task = settled(commands)
    assert task.outcome == "no_answer" and task.rings == 5.0
    assert task.status == "pending"
    assert task.due_at == ring_start + PLAN.ring_limit + timedelta(hours=48)


def test_last_attempt_ringing_out_fails_the_task() -> None:
    policy, state, _ = start(attempts=2)
    state, _ = policy.decide(state, CustomerRinging(), T0)
    state, commands = policy.decide(state, m.TimerFired(key=RING_LIMIT), T0 + PLAN.ring_limit)
    task = settled(commands)
    assert task.status == "failed" and task.due_at is None and task.outcome == "no_answer"


def test_a_leg_that_never_rings_is_given_up_as_unreachable_after_the_grace() -> None:
    policy, state, _ = start()
    state, commands = policy.decide(state, m.TimerFired(key=RING_GRACE), T0 + timedelta(seconds=5))
    assert state.phase is Phase.ENDED
    assert m.HangupChannel(channel_id=CUSTOMER, reason="no_answer") in commands
    task = settled(commands)
    assert task.outcome == "unreachable" and task.rings is None and task.status == "pending"


def test_a_stale_grace_timer_after_ringing_started_is_ignored() -> None:
    policy, state, _ = start()
    state, _ = policy.decide(state, CustomerRinging(), T0 + timedelta(seconds=1))
    same, commands = policy.decide(state, m.TimerFired(key=RING_GRACE), T0 + timedelta(seconds=5))
    assert same == state and commands == []


@pytest.mark.parametrize(
    ("reason", "rang", "outcome"),
    [
        ("busy", False, "busy"),
        ("noanswer", True, "no_answer"),
        ("chanunavail", False, "unreachable"),
        ("congestion", False, "unreachable"),
        ("dial_failed", False, "unreachable"),
        ("hangup", True, "no_answer"),
    ],
)
def test_customer_leg_ending_before_answer(reason: str, rang: bool, outcome: str) -> None:
    policy, state, _ = start()
    if rang:
        state, _ = policy.decide(state, CustomerRinging(), T0)
    state, commands = policy.decide(
        state, CustomerLegEnded(reason=reason), T0 + timedelta(seconds=12.5)
    )
    assert state.phase is Phase.ENDED
    task = settled(commands)
    assert task.outcome == outcome and task.status == "pending"
    assert task.rings == (2.5 if rang else None)


def answered(clock: Clock) -> tuple[OutboundPolicy, OutboundState, list[OutboundCommand]]:
    policy, state, _ = start()
    state, _ = policy.decide(state, CustomerRinging(), clock.after(1))
    state, commands = policy.decide(state, CustomerAnswered(), clock.after(7.5))
    return policy, state, commands


def test_customer_answering_is_held_and_an_agent_is_asked_for() -> None:
    clock = Clock()
    _, state, commands = answered(clock)
    assert state.phase is Phase.CONNECTING and state.rings == 1.5
    assert m.CancelTimer(key=RING_LIMIT) in commands
    assert m.StartMoh(channel_id=CUSTOMER) in commands
    assert commands[-1] == m.ReserveAgents(exclude=(), limit=1, strategy="longest_idle")


def test_agent_answering_bridges_records_and_completes_the_task() -> None:
    clock = Clock()
    policy, state, _ = answered(clock)
    offer = m.AgentOffer(agent_id="ayse", endpoint="PJSIP/agent2001")
    state, commands = policy.decide(state, m.AgentsReserved(agents=(offer,)), clock.after(0.1))
    assert (
        m.DialAgent(agent_id="ayse", endpoint="PJSIP/agent2001", channel_id="cb1-agent-1")
        in commands
    )
    state, commands = policy.decide(
        state, m.AgentRinging(channel_id="cb1-agent-1"), clock.after(0.2)
    )
    assert commands == [m.StartTimer(key=AGENT_RING, at=clock.now + PLAN.agent_limit)]
    state, commands = policy.decide(
        state, m.AgentAnswered(channel_id="cb1-agent-1"), clock.after(2)
    )
    assert state.phase is Phase.TALKING
    assert m.BridgeCall(bridge_id="cb1", channel_ids=(CUSTOMER, "cb1-agent-1")) in commands
    assert m.StartRecording(channel_id=CUSTOMER, name="cb1") in commands
    task = settled(commands)
    assert (task.outcome, task.status, task.agent_id, task.call_id) == (
        "answered",
        "done",
        "ayse",
        "cb1",
    )
    assert task.rings == 1.5
    # Either side hanging up ends the other, the bridge, and frees the agent.
    ended, commands = policy.decide(state, CustomerLegEnded(reason="hangup"), clock.after(30))
    assert ended.phase is Phase.ENDED
    assert commands == [
        m.HangupChannel(channel_id="cb1-agent-1"),
        m.DestroyBridge(bridge_id="cb1"),
        m.ReleaseAgent(agent_id="ayse"),
    ]
    ended, commands = policy.decide(state, m.AgentLegEnded(channel_id="cb1-agent-1"), clock.now)
    assert m.HangupChannel(channel_id=CUSTOMER) in commands
    assert not any(isinstance(c, SettleTask) for c in commands)


def test_agent_not_answering_moves_on_to_the_next_agent() -> None:
    clock = Clock()
    policy, state, _ = answered(clock)
    offer = m.AgentOffer(agent_id="ayse", endpoint="PJSIP/agent2001")
    state, _ = policy.decide(state, m.AgentsReserved(agents=(offer,)), clock.now)
    state, commands = policy.decide(state, m.TimerFired(key=AGENT_RING), clock.after(20))
    assert m.ReleaseAgent(agent_id="ayse", missed=True) in commands
    assert m.HangupChannel(channel_id="cb1-agent-1", reason="no_answer") in commands
    assert commands[-1] == m.ReserveAgents(exclude=("ayse",), limit=1, strategy="longest_idle")
    offer2 = m.AgentOffer(agent_id="mehmet", endpoint="PJSIP/agent2002")
    state, _ = policy.decide(state, m.AgentsReserved(agents=(offer2,)), clock.now)
    state, commands = policy.decide(
        state, m.AgentLegEnded(channel_id="cb1-agent-2", reason="busy"), clock.after(1)
    )
    assert m.ReleaseAgent(agent_id="mehmet", missed=False) in commands
    assert commands[-1] == m.ReserveAgents(exclude=("ayse", "mehmet"), limit=1)


def test_no_agent_free_plays_an_apology_and_retries_soon() -> None:
    clock = Clock()
    policy, state, _ = answered(clock)
    state, commands = policy.decide(state, m.NoAgentAvailable(), clock.after(0.1))
    assert state.phase is Phase.APOLOGISING
    assert PlaySound(channel_id=CUSTOMER, sound=APOLOGY_SOUND) in commands
    task = settled(commands)
    assert task.outcome == "no_agent" and task.status == "pending"
    assert task.due_at == clock.now + timedelta(minutes=10)
    state, commands = policy.decide(state, m.TimerFired(key=APOLOGY), clock.after(4))
    assert state.phase is Phase.ENDED
    assert commands == [m.HangupChannel(channel_id=CUSTOMER)]


def test_customer_hanging_up_during_the_apology_ends_quietly() -> None:
    clock = Clock()
    policy, state, _ = answered(clock)
    state, _ = policy.decide(state, m.NoAgentAvailable(), clock.now)
    state, commands = policy.decide(state, CustomerLegEnded(), clock.after(1))
    assert state.phase is Phase.ENDED and commands == [m.CancelTimer(key=APOLOGY)]


def test_customer_hanging_up_before_an_agent_answers_frees_the_agent_and_retries() -> None:
    clock = Clock()
    policy, state, _ = answered(clock)
    offer = m.AgentOffer(agent_id="ayse", endpoint="PJSIP/agent2001")
    state, _ = policy.decide(state, m.AgentsReserved(agents=(offer,)), clock.now)
    state, commands = policy.decide(state, CustomerLegEnded(reason="hangup"), clock.after(2))
    assert state.phase is Phase.ENDED
    assert m.HangupChannel(channel_id="cb1-agent-1") in commands
    assert m.ReleaseAgent(agent_id="ayse") in commands
    task = settled(commands)
    assert task.outcome == "abandoned" and task.due_at == clock.now + timedelta(minutes=10)


def test_a_failed_bridge_ends_everything_and_frees_the_agent() -> None:
    clock = Clock()
    policy, state, _ = answered(clock)
    offer = m.AgentOffer(agent_id="ayse", endpoint="PJSIP/agent2001")
    state, _ = policy.decide(state, m.AgentsReserved(agents=(offer,)), clock.now)
    state, _ = policy.decide(state, m.AgentAnswered(channel_id="cb1-agent-1"), clock.after(1))
    state, commands = policy.decide(state, m.ActionFailed(what="bridge"), clock.now)
    assert state.phase is Phase.ENDED
    assert m.HangupChannel(channel_id=CUSTOMER) in commands
    assert m.ReleaseAgent(agent_id="ayse") in commands
    assert m.DestroyBridge(bridge_id="cb1") in commands


def test_a_failure_before_answer_settles_the_task_once() -> None:
    policy, state, _ = start()
    state, commands = policy.decide(state, m.ActionFailed(what="dial"), T0)
    assert settled(commands).outcome == "unreachable" and state.settled


def test_events_after_the_end_change_nothing_and_unexpected_ones_raise() -> None:
    policy, state, _ = start()
    ended, _ = policy.decide(state, m.TimerFired(key=RING_GRACE), T0 + timedelta(seconds=5))
    assert policy.decide(ended, CustomerAnswered(), T0) == (ended, [])
    with pytest.raises(OutboundPolicyError):
        policy.decide(state, m.AgentAnswered(channel_id="x"), T0)


def test_a_promised_callback_is_offered_to_the_agent_who_promised_it_first() -> None:
    policy = OutboundPolicy()
    state, _ = policy.start(
        call_id="cb1",
        task_id=7,
        number="+905551112233",
        attempts=0,
        plan=PLAN,
        now=T0,
        owner="ayse",
    )
    state, _ = policy.decide(state, CustomerRinging(), T0 + timedelta(seconds=1))
    _, commands = policy.decide(state, CustomerAnswered(), T0 + timedelta(seconds=3))
    assert commands[-1] == m.ReserveAgents(exclude=(), limit=1, prefer="ayse")
