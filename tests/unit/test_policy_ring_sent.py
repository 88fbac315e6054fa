"""The caller's rings count from the 180 actually sent (`CallerRingSent`), not from the
call's start: in a burst of arrivals the 180 leaves later. An agent's rings count from
their phone's RINGING by Asterisk's clock, not from the event's turn here. Fake clock,
no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from telephony.policy import messages as m
from telephony.policy.inbound import (
    DEADLINE_FIRST,
    CallState,
    Escalation,
    InboundPolicy,
    Limits,
    Phase,
    RingPlan,
)

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
LIMITS = Limits(no_agent_retry=timedelta(seconds=2), max_wait=timedelta(seconds=60))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def plan(
    *, min_rings: float = 0, agent_rings: float = 3, first_step: str = "voicemail"
) -> RingPlan:
    # A 2-second cycle: 3 rings = the deadline 6 s after the caller's ringback starts.
    # The first step takes the caller away from the agents (so their rings are capped).
    return RingPlan(
        cadence="t",
        cycle=timedelta(seconds=2),
        max_rings=3,
        min_rings=min_rings,
        agent_rings=agent_rings,
        escalation=(Escalation(first_step),),  # type: ignore[arg-type]
    )


@pytest.fixture
def policy() -> InboundPolicy:
    return InboundPolicy(LIMITS)


def timers(commands: list[m.Command]) -> dict[str, datetime]:
    return {c.key: c.at for c in commands if isinstance(c, m.StartTimer)}


def offered(policy: InboundPolicy, **kwargs: Any) -> CallState:
    state, _ = policy.start("c1", "caller", T0, plan(**kwargs))
    agent = m.AgentOffer(agent_id="ayse", endpoint="PJSIP/ayse")
    state, _ = policy.decide(state, m.AgentsReserved(agents=(agent,)), T0)
    return state


def test_the_deadline_moves_to_the_180_sent(policy: InboundPolicy) -> None:
    state = offered(policy)
    state, commands = policy.decide(state, m.CallerRingSent(at=at(0.15)), at(0.16))
    assert state.ringing_since == at(0.15)
    assert timers(commands)["deadline"] == at(6.15)
    assert m.RecordFacts(fields={"ringing_at": at(0.15)}) in commands
    # The agent's phone, capped by the caller's deadline, is given up with it, not before.
    assert timers(commands)["agent_ring:1"] == at(6.15) + DEADLINE_FIRST


def test_an_agent_ringing_already_keeps_their_own_limit_when_it_is_shorter(
    policy: InboundPolicy,
) -> None:
    state = offered(policy, agent_rings=1)
    state, _ = policy.decide(state, m.AgentRinging(channel_id="c1-agent-1"), at(0.1))
    state, commands = policy.decide(state, m.CallerRingSent(at=at(0.2)), at(0.2))
    assert timers(commands)["agent_ring:1"] == at(2.1)  # 1 ring from their phone's ringing


def test_min_rings_count_from_the_180_too(policy: InboundPolicy) -> None:
    state, _ = policy.start("c1", "caller", T0, plan(min_rings=1))
    assert not state.put_through
    state, commands = policy.decide(state, m.CallerRingSent(at=at(0.3)), at(0.3))
    assert timers(commands) == {"deadline": at(6.3), "put_through": at(2.3)}


def test_a_ring_sent_no_later_than_the_start_changes_nothing(policy: InboundPolicy) -> None:
    state = offered(policy)
    assert policy.decide(state, m.CallerRingSent(at=T0), T0) == (state, [])


def test_after_the_deadline_has_escalated_the_ring_changes_nothing(policy: InboundPolicy) -> None:
    state = offered(policy)
    state, _ = policy.decide(state, m.TimerFired(key="deadline"), at(6))
    assert state.next_step == 1
    assert policy.decide(state, m.CallerRingSent(at=at(0.2)), at(6.1)) == (state, [])


def test_a_ring_reported_after_the_answer_changes_nothing(policy: InboundPolicy) -> None:
    state = offered(policy)
    state, _ = policy.decide(state, m.AgentAnswered(channel_id="c1-agent-1"), at(1))
    assert state.phase is Phase.TALKING
    assert policy.decide(state, m.CallerRingSent(at=at(0.2)), at(1.1)) == (state, [])


def test_an_agents_rings_count_from_the_ringing_by_asterisks_clock(policy: InboundPolicy) -> None:
    state = offered(policy, agent_rings=1)
    ringing = m.AgentRinging(channel_id="c1-agent-1", at=at(0.1))
    state, commands = policy.decide(state, ringing, at(0.4))  # the event's turn came late
    assert timers(commands)["agent_ring:1"] == at(2.1)
    assert state.legs[0].ringing_at == at(0.1)


@pytest.mark.parametrize(
    "stamp",
    [at(0.5), at(-10), None],  # in the future, too old to trust (another host's clock), none
    ids=["future", "stale", "none"],
)
def test_a_ringing_stamp_the_clocks_disagree_on_counts_from_its_turn(
    policy: InboundPolicy, stamp: datetime | None
) -> None:
    state = offered(policy, agent_rings=1)
    ringing = m.AgentRinging(channel_id="c1-agent-1", at=stamp)
    state, commands = policy.decide(state, ringing, at(0.4))
    assert timers(commands)["agent_ring:1"] == at(2.4)


def test_a_caller_the_dialplan_rang_counts_from_then_and_is_not_rung_again(
    policy: InboundPolicy,
) -> None:
    """`Ringing()` before `Stasis`: StasisStart's stamp is the 180; the service, busy,
    starts the call 0.4 s later and still counts every ring from the stamp."""
    state, commands = policy.start("c1", "caller", at(0.4), plan(min_rings=1), rang_at=T0)
    assert state.ringing_since == T0
    assert not any(isinstance(c, m.RingCaller) for c in commands)
    assert timers(commands) == {"max_wait": at(60), "deadline": at(6), "put_through": at(2)}
    assert m.RecordFacts(fields={"ringing_at": T0, "cadence": "t", "max_rings": 3}) in commands


def test_a_caller_the_dialplan_did_not_ring_is_rung_by_the_service(policy: InboundPolicy) -> None:
    _, commands = policy.start("c1", "caller", T0, plan())
    assert m.RingCaller(channel_id="caller") in commands


def answers_at(commands: list[m.Command]) -> list[datetime]:
    return [c.at for c in commands if isinstance(c, m.AnswerAt)]


def test_the_queue_steps_answer_is_armed_for_the_deadline_and_moves_with_it(
    policy: InboundPolicy,
) -> None:
    state, commands = policy.start("c1", "caller", T0, plan(first_step="queue"))
    assert answers_at(commands) == [at(6)]
    state, commands = policy.decide(state, m.CallerRingSent(at=at(0.15)), at(0.16))
    assert answers_at(commands) == [at(6.15)]  # armed again: it replaces the first


@pytest.mark.parametrize("first_step", ["ring_all", "message", "voicemail", "callback_offer"])
def test_no_answer_is_armed_when_the_first_step_does_not_answer_into_the_queue(
    policy: InboundPolicy, first_step: str
) -> None:
    # ring_all and message do not answer; the IVR steps answer through the IVR's nodes.
    state, commands = policy.start("c1", "caller", T0, plan(first_step=first_step))
    state, more = policy.decide(state, m.CallerRingSent(at=at(0.15)), at(0.16))
    assert answers_at(commands + more) == []


def test_the_deadline_still_answers_the_caller_as_before(policy: InboundPolicy) -> None:
    # The armed answer goes first; the deadline's `AnswerCaller` then takes it.
    state = offered(policy, first_step="queue")
    state, commands = policy.decide(state, m.TimerFired(key="deadline"), at(6))
    assert m.AnswerCaller(channel_id="caller") in commands
