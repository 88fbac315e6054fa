"""Property tests of hold: whatever the agent and caller press, and whenever, a held
caller is never dropped by us, no hold outlives its maximum (and the callback offer's
length, when the policy offers one), every hold is closed. Each watchdog action."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.policy import messages as m
from telephony.policy.call_state import HoldOnMax, HoldPlan
from telephony.policy.inbound import CallState, InboundPolicy, Limits, Phase, RingPlan

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
HOLD = HoldPlan(warn_after=timedelta(seconds=3), max=timedelta(seconds=8))
OFFER_S = 4.0  # the callback offer's prompt and wait for a key
ON_MAX = st.sampled_from(["return", "requeue", "callback_offer"])
OFFER_RESULTS = st.sampled_from(["declined", "callback", "failed"])
ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ["hold_browser", "hold_phone", "retrieve_browser", "retrieve_phone", "agent_hangup"] * 3
            + ["caller_hangup"]
        ),
        st.floats(0.1, 6.0),  # seconds after the previous action
    ),
    max_size=15,
)


@dataclass
class Run:
    available: list[str] = field(default_factory=lambda: ["b", "c"])
    timers: dict[str, datetime] = field(default_factory=dict)
    pending: list[tuple[datetime, m.CallEvent]] = field(default_factory=list)
    open_holds: set[datetime] = field(default_factory=set)
    closed_holds: list[tuple[datetime, datetime]] = field(default_factory=list)
    caller_dropped: bool = False
    offer_result: str = "declined"
    caller_gone: bool = False

    def execute(self, command: m.Command, now: datetime) -> m.CallEvent | None:
        match command:
            case m.ReserveAgents():
                if not self.available:
                    return m.NoAgentAvailable()
                agent = self.available.pop(0)
                return m.AgentsReserved(agents=(m.AgentOffer(agent_id=agent, endpoint="P/x"),))
            case m.DialAgent(channel_id=channel):
                later = now + timedelta(seconds=0.5)
                self.pending.append((later, m.AgentAnswered(channel_id=channel)))
            case m.ReleaseAgent(agent_id=agent):
                assert agent not in self.available, "released twice"
                self.available.append(agent)
            case m.RunIvrStep(step_id=step):
                # The IVR reports the offer's end; "abandoned" if the caller left.
                later = now + timedelta(seconds=OFFER_S)
                self.pending.append((later, m.IvrStepEnded(step_id=step, result="declined")))
            case m.StartTimer(key=key, at=at):
                self.timers[key] = at
            case m.CancelTimer(key=key):
                self.timers.pop(key, None)
            case m.RecordHold(started_at=start, ended_at=None):
                self.open_holds.add(start)
            case m.RecordHold(started_at=start, ended_at=end) if end is not None:
                assert start in self.open_holds, "a hold closed that never began"
                self.open_holds.discard(start)
                self.closed_holds.append((start, end))
        return None


@settings(max_examples=300, deadline=None)
@given(ACTIONS, ON_MAX, OFFER_RESULTS)
def test_hold_rules_hold_whatever_is_pressed(
    actions: list[tuple[str, float]], on_max: HoldOnMax, offer_result: str
) -> None:
    policy = InboundPolicy(Limits(no_agent_retry=timedelta(seconds=1)))
    hold = replace(HOLD, on_max=on_max)
    plan = replace(RingPlan(), hold=hold)
    run = Run(offer_result=offer_result)
    state, commands = policy.start("c", "caller", T0, plan)
    state = _apply(policy, run, state, commands, T0)
    state, commands = policy.decide(
        state, m.AgentsReserved(agents=(m.AgentOffer(agent_id="a", endpoint="P/a"),)), T0
    )
    state = _apply(policy, run, state, commands, T0)
    state, commands = policy.decide(state, m.AgentAnswered(channel_id="c-agent-1"), T0)
    state = _apply(policy, run, state, commands, T0)
    assert state.phase is Phase.TALKING
    at = T0
    for action, gap in actions:
        at += timedelta(seconds=gap)
        state = _until(policy, run, state, at)
        if state.phase is Phase.ENDED:
            break
        event = _event(action, state)
        if event is None:
            continue
        held = state.hold is not None
        run.caller_gone = run.caller_gone or isinstance(event, m.CallerHungUp)
        state, commands = policy.decide(state, event, at)
        if held and not isinstance(event, m.CallerHungUp):
            # A held caller is never dropped by us: no hangup of the caller, no end.
            assert m.HangupChannel(channel_id="caller") not in commands
            assert not any(isinstance(c, m.EndCall) for c in commands)
        state = _apply(policy, run, state, commands, at)
    state = _until(policy, run, state, at + timedelta(seconds=30))
    # No hold outlives its maximum (the watchdog acted), and every hold was closed.
    longest = HOLD.max + timedelta(seconds=OFFER_S if on_max == "callback_offer" else 0)
    for start, end in run.closed_holds:
        assert end - start <= longest
    assert state.hold is None and not run.open_holds


def _event(action: str, state: CallState) -> m.CallEvent | None:
    if action.startswith("hold"):
        return m.HoldRequested(source=action.split("_")[1])
    if action.startswith("retrieve"):
        return m.RetrieveRequested(source=action.split("_")[1])
    if action == "agent_hangup":
        if state.agent_channel is None:
            return None
        return m.AgentLegEnded(channel_id=state.agent_channel, reason="hangup")
    return m.CallerHungUp()


def _apply(
    policy: InboundPolicy, run: Run, state: CallState, commands: list[m.Command], now: datetime
) -> CallState:
    for command in commands:
        answer = run.execute(command, now)
        if answer is not None:
            state, more = policy.decide(state, answer, now)
            state = _apply(policy, run, state, more, now)
    return state


def _until(policy: InboundPolicy, run: Run, state: CallState, until: datetime) -> CallState:
    """Fire timers and scripted answers due by `until`, in time order."""
    while state.phase is not Phase.ENDED:
        due: list[tuple[datetime, m.CallEvent]] = [
            (at, m.TimerFired(key=k)) for k, at in run.timers.items() if at <= until
        ]
        due += [(at, e) for at, e in run.pending if at <= until]
        if not due:
            return state
        now, event = min(due, key=lambda pair: pair[0])
        if isinstance(event, m.TimerFired):
            run.timers.pop(event.key)
        else:
            run.pending.remove((now, event))
        if isinstance(event, m.IvrStepEnded):
            result = "abandoned" if run.caller_gone else run.offer_result
            event = event.model_copy(update={"result": result})
        state, commands = policy.decide(state, event, now)
        state = _apply(policy, run, state, commands, now)
    return state
