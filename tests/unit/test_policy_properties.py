"""Property tests of the inbound policy: whatever the agents do, the ring rules hold.

A tiny simulator plays the adapter with a fake clock: it keeps the armed timers, an
agent pool, and answers each dialled leg the way hypothesis says (answer after t,
reject after t, never answer), then checks invariants over the whole run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

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
AGENTS = ("a", "b", "c")

Response = tuple[str, float]  # ("answer" | "reject" | "never", after seconds)

responses = st.lists(
    st.tuples(st.sampled_from(["answer", "reject", "never"]), st.floats(0.05, 9.0)),
    min_size=1,
    max_size=12,
)
plans = st.builds(
    RingPlan,
    cadence=st.just("t"),
    cycle=st.sampled_from([timedelta(seconds=1), timedelta(seconds=2), timedelta(seconds=3)]),
    max_rings=st.sampled_from([1.0, 2.0, 3.0, 4.5]),
    min_rings=st.sampled_from([0.0, 0.0, 0.5]),
    agent_rings=st.sampled_from([0.5, 1.0, 2.0]),
    selection=st.sampled_from(["longest_idle", "ring_all", "round_robin", "sequential"]),
    escalation=st.sampled_from(
        [
            (Escalation("queue"),),
            (Escalation("ring_all"), Escalation("queue")),
            (Escalation("ring_all"), Escalation("message")),
            (Escalation("message"),),
            # IVR steps (the step's end is scripted by `step_results`).
            (Escalation("callback_offer"), Escalation("queue")),
            (Escalation("callback_offer"), Escalation("voicemail")),
            (Escalation("ring_all"), Escalation("callback_offer")),
            (Escalation("queue"), Escalation("external", dial="+905321110000")),
        ]
    ),
)
# How each IVR step ends, in order, and after how many seconds.
step_results = st.lists(
    st.tuples(
        st.sampled_from(["declined", "callback", "voicemail", "external", "abandoned", "failed"]),
        st.floats(0.0, 20.0),
    ),
    min_size=1,
    max_size=3,
)


@dataclass
class Run:
    plan: RingPlan
    script: list[Response]
    hangup_at: float | None
    available: list[str] = field(default_factory=lambda: list(AGENTS))
    timers: dict[str, datetime] = field(default_factory=dict)
    pending: list[tuple[datetime, m.CallEvent]] = field(default_factory=list)
    dialled: list[str] = field(default_factory=list)
    attempts: dict[str, list[str]] = field(default_factory=dict)
    bridges: int = 0
    escalated_at: list[datetime] = field(default_factory=list)
    system_answered_at: datetime | None = None
    bridged_at: datetime | None = None
    ended: bool = False
    still_ringing: set[str] = field(default_factory=set)  # legs live when the run stopped
    steps: list[tuple[str, float]] = field(default_factory=lambda: [("declined", 1.0)])
    steps_run: int = 0

    def execute(self, command: m.Command, now: datetime) -> m.CallEvent | None:
        if isinstance(command, m.ReserveAgents):
            free = [a for a in self.available if a not in command.exclude]
            chosen = free if command.limit is None else free[: command.limit]
            if not chosen:
                return m.NoAgentAvailable()
            for agent in chosen:
                self.available.remove(agent)
            offers = tuple(m.AgentOffer(agent_id=a, endpoint=f"P/{a}") for a in chosen)
            return m.AgentsReserved(agents=offers)
        if isinstance(command, m.ReleaseAgent):
            assert command.agent_id not in self.available, "released an agent twice"
            self.available.append(command.agent_id)
        elif isinstance(command, m.DialAgent):
            self.dialled.append(command.channel_id)
            kind, after = self.script[(len(self.dialled) - 1) % len(self.script)]
            when = now + timedelta(seconds=after)
            rings = now + timedelta(seconds=min(0.05, after / 2))
            self.pending.append((rings, m.AgentRinging(channel_id=command.channel_id)))
            if kind == "answer":
                self.pending.append((when, m.AgentAnswered(channel_id=command.channel_id)))
            elif kind == "reject":
                self.pending.append(
                    (when, m.AgentLegEnded(channel_id=command.channel_id, reason="busy"))
                )
        elif isinstance(command, m.RecordAttempt):
            self.attempts.setdefault(command.channel_id, []).append(command.outcome)
        elif isinstance(command, m.BridgeCall):
            self.bridges += 1
            self.bridged_at = now
        elif isinstance(command, m.StartMoh):
            self.system_answered_at = now
        elif isinstance(command, m.RecordFacts) and "escalation" in command.fields:
            self.escalated_at.append(now)
        elif isinstance(command, m.StartTimer):
            self.timers[command.key] = command.at
        elif isinstance(command, m.CancelTimer):
            self.timers.pop(command.key, None)
        elif isinstance(command, m.HangupChannel):
            # A hung-up leg says nothing more: drop its scripted answer.
            self.pending = [
                (t, e)
                for t, e in self.pending
                if getattr(e, "channel_id", None) != command.channel_id
            ]
        elif isinstance(command, m.RunIvrStep):
            # The caller is with the system now: no agent leg is left without an outcome.
            assert all(c in self.attempts for c in self.dialled), "an agent still rings"
            result, after = self.steps[self.steps_run % len(self.steps)]
            self.steps_run += 1
            report = m.IvrStepEnded(step_id=command.step_id, result=result)
            self.pending.append((now + timedelta(seconds=after), report))
        elif isinstance(command, m.EndCall):
            self.ended = True
        return None


def simulate(
    plan: RingPlan,
    script: list[Response],
    hangup_at: float | None,
    steps: list[tuple[str, float]] | None = None,
) -> Run:
    run = Run(plan, script, hangup_at)
    if steps:
        run.steps = steps
    policy = InboundPolicy(
        Limits(no_agent_retry=timedelta(seconds=1), max_wait=timedelta(seconds=90))
    )
    state, commands = policy.start("c", "caller", T0, plan)
    if hangup_at is not None:
        run.pending.append((T0 + timedelta(seconds=hangup_at), m.CallerHungUp()))

    def apply(state: CallState, commands: list[m.Command], now: datetime) -> CallState:
        answers = [a for c in commands if (a := run.execute(c, now)) is not None]
        for answer in answers:
            state, more = policy.decide(state, answer, now)
            state = apply(state, more, now)
        return state

    state = apply(state, commands, T0)
    for _ in range(2000):
        if state.phase is Phase.ENDED or state.phase is Phase.TALKING:
            break
        candidates: list[tuple[datetime, m.CallEvent]] = [
            (at, m.TimerFired(key=k)) for k, at in run.timers.items()
        ]
        candidates += run.pending
        if not candidates:
            break
        now, event = min(candidates, key=lambda pair: pair[0])
        if isinstance(event, m.TimerFired):
            run.timers.pop(event.key)
        else:
            run.pending.remove((now, event))
        state, commands = policy.decide(state, event, now)
        state = apply(state, commands, now)
    run.still_ringing = {leg.channel for leg in state.legs}
    return run


@settings(max_examples=300, deadline=None)
@given(plans, responses, st.one_of(st.none(), st.floats(0.1, 30.0)), step_results)
@example(  # everyone rejects for ever: the run stops with legs still ringing
    plan=RingPlan(
        cadence="t",
        cycle=timedelta(seconds=1),
        max_rings=1.0,
        agent_rings=0.5,
        escalation=(Escalation("ring_all"), Escalation("queue")),
    ),
    script=[("reject", 0.25)],
    hangup_at=None,
    steps=[("declined", 1.0)],
)
@example(  # the offer declined, back to the queue, the caller still waiting
    plan=RingPlan(
        cadence="t",
        cycle=timedelta(seconds=1),
        max_rings=2.0,
        agent_rings=1.0,
        escalation=(Escalation("callback_offer"), Escalation("queue")),
    ),
    script=[("never", 1.0)],
    hangup_at=None,
    steps=[("declined", 3.0)],
)
def test_ring_rules_hold_whatever_agents_do(
    plan: RingPlan,
    script: list[Response],
    hangup_at: float | None,
    steps: list[tuple[str, float]],
) -> None:
    run = simulate(plan, script, hangup_at, steps)
    deadline = T0 + plan.deadline
    # Never two agents in the call.
    assert run.bridges <= 1
    # Every agent leg ends with exactly one recorded outcome.
    for channel in run.dialled:
        expected = 0 if channel in run.still_ringing else 1
        assert len(run.attempts.get(channel, [])) == expected, (channel, run.attempts)
    # No caller rings past the deadline without an escalation step starting then.
    humanly_answered_in_time = run.bridged_at is not None and run.bridged_at < deadline
    left_in_time = hangup_at is not None and T0 + timedelta(seconds=hangup_at) < deadline
    if not humanly_answered_in_time and not left_in_time:
        assert run.escalated_at and run.escalated_at[0] == deadline
    # Nothing escalates before the deadline.
    assert all(t >= deadline for t in run.escalated_at)
    # Every agent reserved was released (or is the one talking).
    talking = 1 if run.bridged_at is not None and not run.ended else 0
    assert len(run.available) == len(AGENTS) - talking - len(run.still_ringing)
