"""The IVR escalation steps (callback offer, voicemail, external) in the inbound policy:
fed events with a fake clock, no I/O, no sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from telephony.policy import messages as m
from telephony.policy.inbound import (
    CallState,
    Escalation,
    InboundPolicy,
    Limits,
    Phase,
    RingPlan,
)

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
LIMITS = Limits(no_agent_retry=timedelta(seconds=2), max_wait=timedelta(seconds=60))
OFFER = Escalation("callback_offer")
VOICEMAIL = Escalation("voicemail")
EXTERNAL = Escalation("external", dial="+905321110000")
QUEUE = Escalation("queue")


def plan(*steps: Escalation) -> RingPlan:
    # A 2-second cycle: 3 rings = the deadline at 6 s; an agent rings 2 rings = 4 s.
    return RingPlan(
        cadence="t", cycle=timedelta(seconds=2), max_rings=3, agent_rings=2, escalation=steps
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def policy() -> InboundPolicy:
    return InboundPolicy(LIMITS)


def of(commands: list[m.Command], kind: type) -> list[Any]:
    return [c for c in commands if isinstance(c, kind)]


def ringing_then_deadline(
    policy: InboundPolicy, *steps: Escalation
) -> tuple[CallState, list[m.Command]]:
    """Ayşe's phone rings from T0 and is given up at the deadline (no answer); then
    Mehmet's rings from 6 s, and the first step is due at 6 s too."""
    state, _ = policy.start("c1", "caller", T0, plan(*steps))
    state, _ = policy.decide(state, m.AgentsReserved(agents=(_offer("ayse"),)), T0)
    state, _ = policy.decide(state, m.AgentRinging(channel_id="c1-agent-1"), T0)
    state, _ = policy.decide(state, m.TimerFired(key="agent_ring:1"), at(4))
    state, _ = policy.decide(state, m.AgentsReserved(agents=(_offer("mehmet"),)), at(4))
    state, _ = policy.decide(state, m.AgentRinging(channel_id="c1-agent-2"), at(4))
    return policy.decide(state, m.TimerFired(key="deadline"), at(6))


def _offer(agent: str) -> m.AgentOffer:
    return m.AgentOffer(agent_id=agent, endpoint=f"PJSIP/{agent}")


def ended(step: CallState, result: str, **detail: Any) -> m.IvrStepEnded:
    assert step.ivr_step is not None
    return m.IvrStepEnded(step_id=step.ivr_step, result=result, detail=detail)


@pytest.mark.parametrize(
    ("step", "dial"),
    [(OFFER, None), (VOICEMAIL, None), (EXTERNAL, "+905321110000")],
)
def test_at_the_deadline_the_system_answers_and_hands_the_caller_to_the_ivr_step(
    policy: InboundPolicy, step: Escalation, dial: str | None
) -> None:
    state, commands = ringing_then_deadline(policy, step)
    assert state.phase is Phase.IVR_STEP and state.legs == () and state.system_answered
    assert commands[0] == m.RecordFacts(fields={"escalation": {"step": step.kind, "ring": 4.0}})
    # Mehmet, still ringing, stops: cancelled (not his miss), released at once.
    assert of(commands, m.HangupChannel) == [m.HangupChannel(channel_id="c1-agent-2")]
    (attempt,) = of(commands, m.RecordAttempt)
    assert (attempt.agent_id, attempt.outcome) == ("mehmet", "cancelled")
    assert m.ReleaseAgent(agent_id="mehmet") in commands
    assert m.CancelTimer(key="agent_ring:2") in commands
    # Answered and recorded like a queued caller; then the step, last.
    assert m.AnswerCaller(channel_id="caller") in commands
    assert m.StartRecording(channel_id="caller", name="c1") in commands
    assert commands[-1] == m.RunIvrStep(
        step_id="c1-esc1", kind=step.kind, channel_id="caller", dial=dial
    )
    assert of(commands, m.ReserveAgents) == []  # nobody else is offered meanwhile


@pytest.mark.parametrize(
    ("result", "end_reason"),
    [("callback", "callback"), ("voicemail", "voicemail"), ("external", "external")],
)
def test_a_step_that_takes_the_call_ends_it_for_our_agents(
    policy: InboundPolicy, result: str, end_reason: str
) -> None:
    state, _ = ringing_then_deadline(policy, OFFER, VOICEMAIL)
    state, commands = policy.decide(state, ended(state, result, callback_id=7), at(20))
    assert state.phase is Phase.ENDED
    assert commands[0] == m.RecordFacts(
        fields={"escalation_result": {"result": result, "callback_id": 7}}
    )
    assert m.RecordFacts(fields={"end_reason": end_reason}) in commands
    assert commands[-1] == m.EndCall(outcome="no_agent", hangup_by="system")
    assert m.HangupChannel(channel_id="caller") in commands  # safe if the step did already


def test_a_declined_offer_runs_the_next_step_at_once(policy: InboundPolicy) -> None:
    state, _ = ringing_then_deadline(policy, OFFER, VOICEMAIL)
    state, commands = policy.decide(state, ended(state, "declined", keys="2"), at(15))
    assert state.phase is Phase.IVR_STEP and state.ivr_step == "c1-esc2"
    assert commands[0] == m.RecordFacts(
        fields={"escalation_result": {"result": "declined", "keys": "2"}}
    )
    assert commands[1] == m.RecordFacts(
        fields={"escalation": {"step": "voicemail", "ring": 8.5}}  # 15 s into 2 s cycles
    )
    # Answered already: not again, and no second recording.
    assert of(commands, m.AnswerCaller) == [] and of(commands, m.StartRecording) == []
    assert commands[-1] == m.RunIvrStep(step_id="c1-esc2", kind="voicemail", channel_id="caller")


def test_a_declined_offer_back_to_the_queue_plays_music_and_offers_agents(
    policy: InboundPolicy,
) -> None:
    state, _ = ringing_then_deadline(policy, OFFER, QUEUE)
    state, commands = policy.decide(state, ended(state, "declined"), at(15))
    assert state.phase is Phase.WAITING and state.queue_step == QUEUE
    assert m.StartMoh(channel_id="caller") in commands
    assert of(commands, m.AnswerCaller) == [] and of(commands, m.StartRecording) == []
    # Everyone again: Ayşe and Mehmet were offered before the step.
    assert commands[-1] == m.ReserveAgents(exclude=(), limit=1)
    state, commands = policy.decide(state, m.AgentsReserved(agents=(_offer("ayse"),)), at(15))
    state, _ = policy.decide(state, m.AgentRinging(channel_id="c1-agent-3"), at(15.1))
    state, commands = policy.decide(state, m.AgentAnswered(channel_id="c1-agent-3"), at(16))
    assert state.phase is Phase.TALKING
    assert m.StopMoh(channel_id="caller") in commands  # the system's music, not an answer
    assert of(commands, m.StartRecording) == []  # recording since the system answered


def test_ring_all_after_a_declined_offer_plays_music_to_the_answered_caller(
    policy: InboundPolicy,
) -> None:
    state, _ = ringing_then_deadline(policy, OFFER, Escalation("ring_all"), VOICEMAIL)
    state, commands = policy.decide(state, ended(state, "declined"), at(15))
    assert m.StartMoh(channel_id="caller") in commands
    assert m.StartTimer(key="deadline", at=at(19)) in commands  # voicemail 2 rings later
    assert commands[-1] == m.ReserveAgents(exclude=(), limit=None)


def test_a_declined_offer_as_the_last_step_hands_the_caller_to_the_apology(
    policy: InboundPolicy,
) -> None:
    state, _ = ringing_then_deadline(policy, OFFER)
    state, commands = policy.decide(state, ended(state, "declined"), at(15))
    assert state.phase is Phase.ENDED
    assert commands[-1] == m.ReturnToDialplan(channel_id="caller", label="message")
    assert m.EndCall(outcome="no_agent", hangup_by="system") in commands


def test_the_queue_then_the_offer_stops_the_music_and_announcements(
    policy: InboundPolicy,
) -> None:
    state, _ = policy.start("c1", "caller", T0, plan(QUEUE, OFFER))
    state, _ = policy.decide(state, m.NoAgentAvailable(), T0)
    state, first = policy.decide(state, m.TimerFired(key="deadline"), at(6))
    assert m.StartMoh(channel_id="caller") in first
    state, _ = policy.decide(state, m.NoAgentAvailable(), at(6))
    state, commands = policy.decide(state, m.TimerFired(key="deadline"), at(10))
    assert state.phase is Phase.IVR_STEP
    assert m.StopMoh(channel_id="caller") in commands
    assert m.CancelTimer(key="announce") in commands and m.CancelTimer(key="retry") in commands
    assert of(commands, m.AnswerCaller) == []  # the queue answered already
    assert commands[-1].kind == "callback_offer"  # type: ignore[union-attr]


def test_a_caller_who_hangs_up_during_the_step_is_abandoned_when_it_reports(
    policy: InboundPolicy,
) -> None:
    state, _ = ringing_then_deadline(policy, OFFER, VOICEMAIL)
    state, commands = policy.decide(state, m.CallerHungUp(), at(8))
    assert (state.phase, commands) == (Phase.IVR_STEP, [])  # the step says what it did
    state, commands = policy.decide(state, ended(state, "declined"), at(8.1))
    assert state.phase is Phase.ENDED
    assert commands[-1] == m.EndCall(outcome="abandoned", hangup_by="caller")
    assert of(commands, m.HangupChannel) == [] and of(commands, m.RunIvrStep) == []


@pytest.mark.parametrize("gone_first", [False, True])
def test_an_abandoned_step_ends_the_call_as_abandoned(
    policy: InboundPolicy, gone_first: bool
) -> None:
    state, _ = ringing_then_deadline(policy, OFFER)
    if gone_first:
        state, _ = policy.decide(state, m.CallerHungUp(), at(8))
    state, commands = policy.decide(state, ended(state, "abandoned", path=["offer"]), at(8))
    assert commands[-1] == m.EndCall(outcome="abandoned", hangup_by="caller")
    assert of(commands, m.HangupChannel) == []


def test_a_voicemail_the_caller_ended_by_hanging_up_is_still_a_voicemail(
    policy: InboundPolicy,
) -> None:
    state, _ = ringing_then_deadline(policy, VOICEMAIL)
    state, _ = policy.decide(state, m.CallerHungUp(), at(20))
    state, commands = policy.decide(state, ended(state, "voicemail", recording="v"), at(21))
    assert m.RecordFacts(fields={"end_reason": "voicemail"}) in commands
    assert commands[-1] == m.EndCall(outcome="no_agent", hangup_by="caller")


def test_max_wait_never_cuts_a_step_and_ends_the_call_when_the_step_hands_back(
    policy: InboundPolicy,
) -> None:
    state, _ = ringing_then_deadline(policy, OFFER, QUEUE)
    state, commands = policy.decide(state, m.TimerFired(key="max_wait"), at(60))
    assert (state.phase, commands) == (Phase.IVR_STEP, [])
    state, commands = policy.decide(state, ended(state, "declined"), at(61))
    assert commands[-1] == m.ReturnToDialplan(channel_id="caller", label="message")


def test_past_max_wait_a_declined_offer_still_leads_to_voicemail(
    policy: InboundPolicy,
) -> None:
    state, _ = ringing_then_deadline(policy, OFFER, VOICEMAIL)
    state, _ = policy.decide(state, m.TimerFired(key="max_wait"), at(60))
    state, commands = policy.decide(state, ended(state, "declined"), at(61))
    assert commands[-1] == m.RunIvrStep(step_id="c1-esc2", kind="voicemail", channel_id="caller")


def test_a_step_that_could_not_run_hands_the_caller_to_the_apology(
    policy: InboundPolicy,
) -> None:
    state, _ = ringing_then_deadline(policy, OFFER, QUEUE)
    state, commands = policy.decide(state, ended(state, "failed", error="no IVR"), at(6))
    assert m.EndCall(outcome="failed", hangup_by="system") in commands
    assert commands[-1] == m.ReturnToDialplan(channel_id="caller", label="message")


def test_late_events_during_a_step_change_nothing_or_release_what_they_hold(
    policy: InboundPolicy,
) -> None:
    state, _ = ringing_then_deadline(policy, OFFER)
    for event in (
        m.AgentAnswered(channel_id="c1-agent-2"),  # Mehmet picked up as we hung up
        m.AgentLegEnded(channel_id="c1-agent-2", reason="cancel"),
        m.AgentRinging(channel_id="c1-agent-2"),
        m.TimerFired(key="deadline"),
        m.TimerFired(key="agent_ring:2"),
        m.AnnouncementDone(),
        m.NoAgentAvailable(),
        m.HoldRequested(source="phone"),
        m.IvrStepEnded(step_id="c1-esc9", result="callback"),  # not the step running
    ):
        after, commands = policy.decide(state, event, at(7))
        assert (after, commands) == (state, []), event
    _, commands = policy.decide(state, m.AgentsReserved(agents=(_offer("ayse"),)), at(7))
    assert commands == [m.ReleaseAgent(agent_id="ayse")]


def test_a_repeated_report_after_the_step_handed_back_changes_nothing(
    policy: InboundPolicy,
) -> None:
    state, _ = ringing_then_deadline(policy, OFFER, QUEUE)
    report = ended(state, "declined")
    state, _ = policy.decide(state, report, at(15))
    assert policy.decide(state, report, at(15.5)) == (state, [])


def test_the_pbx_lost_during_a_step_closes_the_call(policy: InboundPolicy) -> None:
    state, _ = ringing_then_deadline(policy, EXTERNAL)
    state, commands = policy.decide(state, m.CallLost(reason="pbx_restarted"), at(30))
    assert state.phase is Phase.ENDED
    assert commands[-1] == m.EndCall(outcome="failed", hangup_by="system")


def test_a_step_as_the_first_step_with_nobody_ringing(policy: InboundPolicy) -> None:
    state, _ = policy.start("c1", "caller", T0, plan(EXTERNAL))
    state, _ = policy.decide(state, m.NoAgentAvailable(), T0)
    state, commands = policy.decide(state, m.TimerFired(key="deadline"), at(6))
    assert of(commands, m.RecordAttempt) == []
    assert m.CancelTimer(key="retry") in commands  # no agent asked for during the step
    assert commands[-1] == m.RunIvrStep(
        step_id="c1-esc1", kind="external", channel_id="caller", dial="+905321110000"
    )
    # The retry timer, had it fired anyway, asks for nobody.
    assert policy.decide(state, m.TimerFired(key="retry"), at(8)) == (state, [])
