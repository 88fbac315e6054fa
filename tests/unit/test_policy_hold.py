"""Hold and its watchdog in the pure inbound machine, with a fake clock: no I/O, no sleeps."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from telephony.policy import messages as m
from telephony.policy.call_state import HoldPlan
from telephony.policy.hold import HOLD_MAX, HOLD_WARN
from telephony.policy.inbound import CallState, InboundPolicy, Phase

from .test_policy_inbound import LIMITS, PLAN, T0, at, of_type, offer

HOLD = HoldPlan(warn_after=timedelta(seconds=30), max=timedelta(seconds=90))
BROWSER = m.HoldRequested(source="browser", by="ayse")
PHONE = m.HoldRequested(source="phone")


@pytest.fixture
def policy() -> InboundPolicy:
    return InboundPolicy(LIMITS)


def talking(policy: InboundPolicy, hold: HoldPlan = HOLD) -> CallState:
    state, _ = policy.start("c1", "caller", T0, replace(PLAN, hold=hold))
    state, _ = policy.decide(state, offer("ayse"), T0)
    state, _ = policy.decide(state, m.AgentRinging(channel_id="c1-agent-1"), T0)
    state, _ = policy.decide(state, m.AgentAnswered(channel_id="c1-agent-1"), at(3))
    assert state.phase is Phase.TALKING
    return state


def held(policy: InboundPolicy, hold: HoldPlan = HOLD) -> CallState:
    state, _ = policy.decide(talking(policy, hold), BROWSER, at(10))
    return state


def records(commands: list[m.Command]) -> list[m.RecordHold]:
    return [c for c in commands if isinstance(c, m.RecordHold)]


def test_hold_takes_the_caller_out_to_music_and_arms_the_watchdog(
    policy: InboundPolicy,
) -> None:
    state, commands = policy.decide(talking(policy), BROWSER, at(10))
    assert state.hold is not None and state.hold.since == at(10)
    assert commands[:4] == [
        m.LeaveBridge(bridge_id="c1", channel_id="c1-agent-1"),
        m.StartBridgeMoh(bridge_id="c1", moh_class="default"),
        m.StartTimer(key=HOLD_WARN, at=at(40)),
        m.StartTimer(key=HOLD_MAX, at=at(100)),
    ]
    assert records(commands) == [m.RecordHold(started_at=at(10), source="browser", agent_id="ayse")]


def test_phone_and_browser_are_one_hold(policy: InboundPolicy) -> None:
    state, _ = policy.decide(talking(policy), PHONE, at(10))
    twice, commands = policy.decide(state, BROWSER, at(11))
    assert commands == [] and twice == state  # pressed twice: nothing more
    state, commands = policy.decide(
        state, m.RetrieveRequested(source="browser"), at(15)
    )  # held on the phone, retrieved in the browser
    assert state.hold is None and state.holds == 1 and state.last_hold_end == at(15)
    assert m.BridgeCall(bridge_id="c1", channel_ids=("c1-agent-1",)) in commands
    assert m.StopBridgeMoh(bridge_id="c1") in commands
    assert records(commands)[0].source == "phone"
    assert records(commands)[0].outcome == "retrieved"


def test_unhold_without_hold_changes_nothing(policy: InboundPolicy) -> None:
    state = talking(policy)
    assert policy.decide(state, m.RetrieveRequested(source="phone"), at(5)) == (state, [])


def test_warning_marks_the_hold_and_reassures_the_caller(
    policy: InboundPolicy,
) -> None:
    state, commands = policy.decide(held(policy), m.TimerFired(key=HOLD_WARN), at(40))
    assert state.hold is not None and state.hold.warned
    assert m.StopBridgeMoh(bridge_id="c1") in commands
    plays = of_type(commands, m.PlayToBridge)
    assert plays == [
        m.PlayToBridge(bridge_id="c1", playback_id="c1-hold1", media=("sound:queue-thankyou",))
    ]
    state, commands = policy.decide(state, m.AnnouncementDone(), at(42))
    assert commands == [m.StartBridgeMoh(bridge_id="c1", moh_class="default")]


def test_no_reassurance_when_the_policy_says_so(policy: InboundPolicy) -> None:
    quiet = replace(HOLD, reassure=False)
    state, commands = policy.decide(held(policy, quiet), m.TimerFired(key=HOLD_WARN), at(40))
    assert state.hold is not None and state.hold.warned
    assert of_type(commands, m.PlayToBridge) == [] and of_type(commands, m.StopBridgeMoh) == []


def test_at_max_the_caller_returns_to_the_agent_with_a_beep(
    policy: InboundPolicy,
) -> None:
    state, _ = policy.decide(held(policy), m.TimerFired(key=HOLD_WARN), at(40))
    state, commands = policy.decide(state, m.TimerFired(key=HOLD_MAX), at(100))
    assert state.hold is None and state.phase is Phase.TALKING
    assert m.BridgeCall(bridge_id="c1", channel_ids=("c1-agent-1",)) in commands
    beep = m.PlayToBridge(bridge_id="c1", playback_id="c1-back1", media=("sound:beep",))
    assert beep in commands
    record = records(commands)[0]
    assert (record.outcome, record.warned, record.over_limit) == ("returned", True, True)


def test_at_max_the_caller_can_be_requeued_to_other_agents(
    policy: InboundPolicy,
) -> None:
    state, commands = policy.decide(
        held(policy, replace(HOLD, on_max="requeue")), m.TimerFired(key=HOLD_MAX), at(100)
    )
    assert state.phase is Phase.WAITING and state.system_answered and state.answered
    assert state.agent_id is None and state.hold is None
    assert m.HangupChannel(channel_id="c1-agent-1") in commands
    assert m.ReleaseAgent(agent_id="ayse") in commands
    assert isinstance(commands[-1], m.ReserveAgents)
    # The next agent to answer takes over the caller; the first answer's time stays.
    state, _ = policy.decide(state, offer("mehmet"), at(101))
    state, commands = policy.decide(state, m.AgentAnswered(channel_id="c1-agent-2"), at(104))
    assert state.phase is Phase.TALKING and state.agent_id == "mehmet"
    facts = of_type(commands, m.RecordFacts)[0]
    assert isinstance(facts, m.RecordFacts) and "answered_at" not in facts.fields
    assert m.StopMoh(channel_id="caller") in commands  # no second answer, no second recording
    assert m.StopBridgeMoh(bridge_id="c1") in commands
    assert of_type(commands, m.AnswerCaller) == [] and of_type(commands, m.StartRecording) == []


def test_agent_hanging_up_on_a_held_caller_does_not_drop_them(
    policy: InboundPolicy,
) -> None:
    state, commands = policy.decide(
        held(policy), m.AgentLegEnded(channel_id="c1-agent-1", reason="hangup"), at(20)
    )
    assert state.phase is Phase.WAITING
    assert of_type(commands, m.HangupChannel) == []  # the caller stays; the agent is gone
    assert m.ReleaseAgent(agent_id="ayse") in commands
    assert records(commands)[0].outcome == "agent_hung_up"
    assert not of_type(commands, m.EndCall)


def test_caller_hanging_up_on_hold_ends_the_call_and_the_watchdog(
    policy: InboundPolicy,
) -> None:
    state, commands = policy.decide(held(policy), m.CallerHungUp(), at(25))
    assert state.phase is Phase.ENDED
    assert m.CancelTimer(key=HOLD_WARN) in commands and m.CancelTimer(key=HOLD_MAX) in commands
    assert records(commands)[0].outcome == "caller_hung_up"
    # A late watchdog timer changes nothing.
    assert policy.decide(state, m.TimerFired(key=HOLD_MAX), at(100)) == (state, [])


@pytest.mark.parametrize("event", [BROWSER, m.RetrieveRequested(source="phone")])
def test_hold_before_an_agent_has_the_call_is_ignored(
    policy: InboundPolicy,
    event: m.CallEvent,
) -> None:
    state, _ = policy.start("c1", "caller", T0, PLAN)
    assert policy.decide(state, event, at(1)) == (state, [])


def test_stale_watchdog_timers_after_retrieve_do_nothing(
    policy: InboundPolicy,
) -> None:
    state, _ = policy.decide(held(policy), m.RetrieveRequested(source="browser"), at(12))
    for key in (HOLD_WARN, HOLD_MAX):
        assert policy.decide(state, m.TimerFired(key=key), at(200)) == (state, [])


# --- at the limit, a callback offer --------------------------------------------------

OFFER = replace(HOLD, on_max="callback_offer")
STEP = "c1-holdcb1"


def offered(policy: InboundPolicy) -> tuple[CallState, list[m.Command]]:
    return policy.decide(held(policy, OFFER), m.TimerFired(key=HOLD_MAX), at(100))


def ended(result: str, **detail: object) -> m.IvrStepEnded:
    # validated: `result` is a Literal the tests name by string
    return m.IvrStepEnded.model_validate({"step_id": STEP, "result": result, "detail": detail})


def test_at_max_the_caller_hears_a_callback_offer_in_the_agents_name(
    policy: InboundPolicy,
) -> None:
    state, commands = offered(policy)
    assert state.phase is Phase.TALKING and state.hold is not None and state.hold.offering
    assert state.agent_id == "ayse" and state.ivr_step == STEP
    assert commands[:2] == [
        m.StopBridgeMoh(bridge_id="c1"),
        m.StopMoh(channel_id="caller"),
    ]
    step = of_type(commands, m.RunIvrStep)
    assert step == [
        m.RunIvrStep(step_id=STEP, kind="hold_callback_offer", channel_id="caller", agent_id="ayse")
    ]
    assert of_type(commands, m.BridgeCall) == [] and records(commands) == []
    # Neither the agent's retrieve, a late warning, nor the music's end interrupt it.
    for event in (
        m.RetrieveRequested(source="browser"),
        m.TimerFired(key=HOLD_WARN),
        m.TimerFired(key=HOLD_MAX),
        m.AnnouncementDone(),
    ):
        assert policy.decide(state, event, at(101)) == (state, [])


def test_a_taken_offer_ends_the_call_as_answered_and_releases_the_agent(
    policy: InboundPolicy,
) -> None:
    state, _ = offered(policy)
    state, commands = policy.decide(state, ended("callback", callback_id=7), at(110))
    assert state.phase is Phase.ENDED
    record = records(commands)[0]
    assert (record.outcome, record.over_limit, record.ended_at) == ("callback", True, at(110))
    assert len(records(commands)) == 1  # closed once
    assert m.HangupChannel(channel_id="c1-agent-1") in commands
    assert m.ReleaseAgent(agent_id="ayse") in commands
    assert m.EndCall(outcome="answered", hangup_by="system") in commands
    facts = [c.fields for c in commands if isinstance(c, m.RecordFacts)]
    assert {"escalation_result": {"result": "callback", "callback_id": 7}} in facts
    assert {"end_reason": "hold_callback"} in facts


@pytest.mark.parametrize("result", ["declined", "failed"])
def test_a_declined_offer_puts_the_caller_back_to_the_agent(
    policy: InboundPolicy, result: str
) -> None:
    state, _ = offered(policy)
    state, commands = policy.decide(state, ended(result), at(112))
    assert state.phase is Phase.TALKING and state.hold is None and state.ivr_step is None
    assert m.BridgeCall(bridge_id="c1", channel_ids=("c1-agent-1",)) in commands
    assert records(commands)[0].outcome == "returned"
    # The next hold has its own offer.
    state, _ = policy.decide(state, BROWSER, at(120))
    state, commands = policy.decide(state, m.TimerFired(key=HOLD_MAX), at(210))
    steps = [c.step_id for c in commands if isinstance(c, m.RunIvrStep)]
    assert steps == ["c1-holdcb2"]


def test_the_agent_hanging_up_during_the_offer_leaves_the_caller_to_the_offer(
    policy: InboundPolicy,
) -> None:
    state, _ = offered(policy)
    state, commands = policy.decide(
        state, m.AgentLegEnded(channel_id="c1-agent-1", reason="hangup"), at(103)
    )
    assert commands == [m.ReleaseAgent(agent_id="ayse")]
    assert state.phase is Phase.TALKING and state.agent_id is None
    # Declined: the free agents are offered the caller, with music meanwhile.
    waiting, commands = policy.decide(state, ended("declined"), at(108))
    assert waiting.phase is Phase.WAITING and waiting.hold is None
    assert m.StartBridgeMoh(bridge_id="c1", moh_class="default") in commands
    assert records(commands)[0].outcome == "agent_hung_up"
    assert isinstance(commands[-1], m.ReserveAgents)
    # Taken: the call ends, the promise stays the first agent's (the IVR made it).
    done, commands = policy.decide(state, ended("callback"), at(108))
    assert done.phase is Phase.ENDED and of_type(commands, m.ReleaseAgent) == []
    assert m.EndCall(outcome="answered", hangup_by="system") in commands


def test_a_caller_hanging_up_during_the_offer_is_a_hold_abandon_once_it_reports(
    policy: InboundPolicy,
) -> None:
    state, _ = offered(policy)
    state, commands = policy.decide(state, m.CallerHungUp(), at(104))
    assert commands == [] and state.phase is Phase.TALKING  # the offer's report follows
    state, commands = policy.decide(state, ended("abandoned"), at(104))
    assert state.phase is Phase.ENDED
    assert records(commands)[0].outcome == "caller_hung_up"
    assert m.EndCall(outcome="answered", hangup_by="caller") in commands
    assert m.HangupChannel(channel_id="caller") not in commands


def test_a_report_of_another_step_changes_nothing(policy: InboundPolicy) -> None:
    state, _ = offered(policy)
    other = m.IvrStepEnded(step_id="c1-holdcb0", result="callback")
    assert policy.decide(state, other, at(105)) == (state, [])
