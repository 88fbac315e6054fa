"""The inbound call, as a pure state machine: `decide(state, event, now) -> (state, commands)`.

No I/O and no clock of its own: the adapter feeds events and the time, and carries out
the commands. Every transition is in `_TABLE`; an event a phase does not expect raises
`PolicyError`. Events about an agent leg that is no longer ringing (a late answer from a
leg we already gave up on) and timers that are no longer armed are ignored, because the
adapter cannot always withdraw them in time.

Rings are the unit (see `telephony.rings`): the caller's ringing starts at arrival; the
deadline for `max_rings` is `max_rings` ring cycles later. An agent's phone rings at most
`agent_rings` cycles and never past the deadline, while the caller still only rings.
At the deadline the escalation steps run in order, one every `agent_rings` cycles:
`ring_all` offers the call to every free agent at once, `queue` has the system answer
and hold the caller with music while agents keep being offered the call, `message`
hands the caller to the dialplan's apology (terminal). `callback_offer`, `voicemail`
and `external` are IVR steps (`RunIvrStep`, carried out by the IVR's nodes): the
system answers, every agent still ringing stops (the caller is with the system now,
and an agent answering mid-prompt would cut into it), and the policy waits for the
step's end (`IvrStepEnded`). A declined callback offer runs the next step at once;
the others end the call. `max_wait` bounds the ringing and the queue, never an IVR
step in progress (a caller leaving a message is not cut off): passed during one, a
next step that waits for agents (queue, ring_all) is not taken (the apology instead);
a voicemail or an external number still is.

    WAITING --ReserveAgents answered--> OFFERING (1+ agent legs ringing)
    OFFERING --an agent answers--> TALKING --either side hangs up--> ENDED
    OFFERING --last leg ends or times out--> WAITING (ask again / retry)
    WAITING/OFFERING --an IVR step--> IVR_STEP --declined--> the next step
    IVR_STEP --callback / voicemail / external / abandoned / failed--> ENDED
    any live phase --CallerHungUp / max_wait / ActionFailed--> ENDED
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from telephony.policy import hold
from telephony.policy import messages as m
from telephony.policy.call_state import (
    IVR_STEP_KINDS,
    AttemptOutcome,
    CallState,
    Escalation,
    HangupBy,
    Hold,
    Leg,
    Limits,
    Outcome,
    Phase,
    PolicyError,
    RingPlan,
    Selection,
    ring_at,
)

# The call's types are used with the machine; they can be imported from here too.
__all__ = [
    "IVR_STEP_KINDS",
    "AttemptOutcome",
    "CallState",
    "Escalation",
    "HangupBy",
    "Hold",
    "InboundPolicy",
    "Leg",
    "Limits",
    "Outcome",
    "Phase",
    "PolicyError",
    "RingPlan",
    "Selection",
    "ring_at",
]

MAX_WAIT = "max_wait"
RETRY = "retry"
DEADLINE = "deadline"
PUT_THROUGH = "put_through"
AGENT_RING = "agent_ring"
ANNOUNCE = "announce"
# The label in dialplans/pbx/extensions.conf that tells the caller nobody could answer.
NOBODY_LABEL = "message"
EVENT_STAMP_TRUSTED = timedelta(seconds=5)
DEADLINE_FIRST = timedelta(milliseconds=1)

# Why an agent leg ended (Dial status or our own reason) -> what the attempt record says.
_LEG_OUTCOMES: dict[str, AttemptOutcome] = {
    "busy": "busy",
    "noanswer": "no_answer",
    "no_answer": "no_answer",
    "chanunavail": "unreachable",
    "congestion": "unreachable",
    "dial_failed": "unreachable",
    "gone": "unreachable",
}


Result = tuple[CallState, list[m.Command]]
Handler = Callable[["InboundPolicy", CallState, m.CallEvent, datetime], Result]


class InboundPolicy:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def start(
        self,
        call_id: str,
        caller_channel: str,
        now: datetime,
        plan: RingPlan | None = None,
        rang_at: datetime | None = None,
    ) -> Result:
        """A caller arrived: ring them, bound the wait, and offer the call (after `min_rings`).
        `rang_at`: the dialplan sent their 180 already, then (by Asterisk's clock): rings
        count from there, exactly, and nothing is sent (see `_ring_sent` otherwise)."""
        plan = plan or RingPlan()
        ringing_since = rang_at or now
        state = CallState(
            call_id=call_id,
            caller_channel=caller_channel,
            phase=Phase.WAITING,
            ringing_since=ringing_since,
            plan=plan,
            ring_all=plan.selection == "ring_all",
            put_through=plan.min_rings <= 0,
        )
        commands: list[m.Command] = [] if rang_at else [m.RingCaller(channel_id=caller_channel)]
        commands += [
            m.RecordFacts(
                fields={
                    "ringing_at": ringing_since,
                    "cadence": plan.cadence,
                    "max_rings": plan.max_rings,
                }
            ),
            m.StartTimer(key=MAX_WAIT, at=ringing_since + self.limits.max_wait),
            m.StartTimer(key=DEADLINE, at=ringing_since + plan.deadline),
            *self._answer_at_deadline(state),
        ]
        if not state.put_through:
            at = ringing_since + plan.cycle * plan.min_rings
            commands.append(m.StartTimer(key=PUT_THROUGH, at=at))
            return state, commands
        return self._ask(state, commands)

    def adopt_talking(
        self,
        call_id: str,
        caller_channel: str,
        agent_id: str,
        agent_channel: str,
        bridge_id: str,
        ringing_since: datetime,
        plan: RingPlan | None = None,
        on_hold: Hold | None = None,
    ) -> Result:
        """Rebuild a bridged call (or a held one: the agent in the bridge, the caller on
        music) found in Asterisk after a reconnect or restart; a hold's watchdog resumes
        from the hold's real start."""
        state = CallState(
            call_id=call_id,
            caller_channel=caller_channel,
            phase=Phase.TALKING,
            ringing_since=ringing_since,
            plan=plan or RingPlan(),
            agent_id=agent_id,
            agent_channel=agent_channel,
            bridge_id=bridge_id,
            answered=True,
            hold=on_hold,
        )
        return state, hold.resume(state)

    def decide(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        if state.phase is Phase.ENDED:
            return state, []  # late events after the end change nothing
        handler = _TABLE.get((state.phase, type(event)))
        if handler is None:
            raise PolicyError(f"{type(event).__name__} is not expected in phase {state.phase}")
        return handler(self, state, event, now)

    # --- offering the call ----------------------------------------------------------

    def _ask(self, state: CallState, commands: list[m.Command]) -> Result:
        """Ask the pool for the next agent (all free agents in ring-all mode)."""
        busy = tuple(leg.agent_id for leg in state.legs)
        limit = None if state.ring_all else 1
        ask = m.ReserveAgents(
            exclude=(*state.tried, *busy),
            limit=limit,
            strategy=state.plan.selection,
            group=state.plan.group,
        )
        return replace(state, asking=True), [*commands, ask]

    def _reserved(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        assert isinstance(event, m.AgentsReserved)
        state = replace(state, asking=False)
        commands: list[m.Command] = []
        legs = list(state.legs)
        attempts = state.attempts
        for offer in event.agents:
            attempts += 1
            leg = Leg(f"{state.call_id}-agent-{attempts}", offer.agent_id, attempts, now)
            legs.append(leg)
            commands += [
                # Stored before dialling, so a restarted service can find the leg.
                m.RecordFacts(fields={"agent_id": offer.agent_id, "agent_channel_id": leg.channel}),
                m.DialAgent(
                    agent_id=offer.agent_id, endpoint=offer.endpoint, channel_id=leg.channel
                ),
                m.StartTimer(
                    key=f"{AGENT_RING}:{attempts}",
                    at=self._agent_limit(state, now + self.limits.ring_start_grace),
                ),
            ]
        phase = Phase.OFFERING if legs else state.phase
        return replace(state, phase=phase, legs=tuple(legs), attempts=attempts), commands

    def _agent_limit(self, state: CallState, rings_from: datetime) -> datetime:
        """An agent rings `agent_rings` at most (counted from `rings_from`), and never
        past the caller's deadline before it escalates, unless the first step keeps the
        agents ringing: ring-all (the others join) or the queue (the caller hears music
        instead of rings, and the agent ringing may be about to answer). Cut at the
        deadline, a burst's 200 ringing legs were hung up and dialled anew at once, and
        the callers' answers (their 200 OKs) waited behind those SIP requests."""
        limit = rings_from + state.plan.agent_limit
        deadline = state.ringing_since + state.plan.deadline
        steps = state.plan.escalation
        rings_on = bool(steps) and steps[0].kind in ("ring_all", "queue")
        if state.next_step == 0 and not state.system_answered and not rings_on:
            # Just after the caller's deadline, never at it: the escalation (the caller
            # answered) must not wait behind the agent's ring-out, whose hangup and
            # next dial took seconds at 200 calls at once when it happened to go first.
            return min(limit, max(deadline, state.ringing_since) + DEADLINE_FIRST)
        return limit

    @staticmethod
    def _answer_at_deadline(state: CallState) -> list[m.Command]:
        """The queue step's answer, armed for the deadline (see `AnswerAt`)."""
        steps = state.plan.escalation
        if state.system_answered or not steps or steps[0].kind != "queue":
            return []
        at = state.ringing_since + state.plan.deadline
        return [m.AnswerAt(channel_id=state.caller_channel, at=at)]

    def _ring_sent(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        """The caller's rings count from their 180, not from the call's start (in a burst
        the 180 leaves later): the deadline, `min_rings` and the agents' limits move with it."""
        assert isinstance(event, m.CallerRingSent)
        if event.at <= state.ringing_since or state.next_step > 0 or state.system_answered:
            return state, []
        state = replace(state, ringing_since=event.at)
        commands: list[m.Command] = [
            m.RecordFacts(fields={"ringing_at": event.at}),
            m.StartTimer(key=DEADLINE, at=event.at + state.plan.deadline),
            *self._answer_at_deadline(state),
        ]
        if not state.put_through:
            at = event.at + state.plan.cycle * state.plan.min_rings
            commands.append(m.StartTimer(key=PUT_THROUGH, at=at))
        for leg in state.legs:
            rings_from = leg.ringing_at or leg.started_at + self.limits.ring_start_grace
            at = self._agent_limit(state, rings_from)
            commands.append(m.StartTimer(key=f"{AGENT_RING}:{leg.attempt}", at=at))
        return state, commands

    def _nobody(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        state = replace(state, asking=False)
        if state.legs:
            return state, []  # ring-all found nobody more; the ringing legs go on
        return replace(state, tried=()), [
            m.StartTimer(key=RETRY, at=now + self.limits.no_agent_retry)
        ]

    def _leg_ringing(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        assert isinstance(event, m.AgentRinging)
        leg = state.leg(event.channel_id)
        if leg is None or leg.ringing_at is not None:
            return state, []
        # The agent's rings count from when the phone really rang.
        rang = event_time(event.at, now)
        rung = replace(leg, ringing_at=rang)
        legs = tuple(rung if x is leg else x for x in state.legs)
        timer = m.StartTimer(key=f"{AGENT_RING}:{leg.attempt}", at=self._agent_limit(state, rang))
        return replace(state, legs=legs), [timer]

    def _leg_ended(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        assert isinstance(event, m.AgentLegEnded)
        if state.phase is Phase.TALKING:
            if event.channel_id == state.agent_channel:
                if state.hold is not None and state.hold.offering:
                    return hold.agent_left_during_offer(state)
                if state.hold is not None:  # the caller on hold is never dropped
                    return hold.requeue(self, state, now, "agent_hung_up")
                return self._finish(state, now, "answered", "agent")
            return state, []
        leg = state.leg(event.channel_id)
        if leg is None:
            return state, []
        return self._drop_leg(state, leg, now, _LEG_OUTCOMES.get(event.reason, "rejected"))

    def _drop_leg(
        self, state: CallState, leg: Leg, now: datetime, outcome: AttemptOutcome
    ) -> Result:
        commands: list[m.Command] = [
            m.CancelTimer(key=f"{AGENT_RING}:{leg.attempt}"),
            # Also after a failed dial: the leg we created stays in Stasis until hung up.
            m.HangupChannel(channel_id=leg.channel, reason="no_answer"),
            self._attempt(leg, now, outcome),
            m.ReleaseAgent(
                agent_id=leg.agent_id,
                missed=outcome == "no_answer",
                pause=outcome == "no_answer" and state.plan.auto_pause_on_miss,
            ),
        ]
        legs = tuple(x for x in state.legs if x is not leg)
        state = replace(state, legs=legs, tried=(*state.tried, leg.agent_id))
        if legs:
            return state, commands
        return self._ask(replace(state, phase=Phase.WAITING), commands)

    def _answered(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        assert isinstance(event, m.AgentAnswered)
        leg = state.leg(event.channel_id)
        if leg is None:
            return state, []
        commands: list[m.Command] = [
            m.CancelTimer(key=k) for k in (MAX_WAIT, DEADLINE, RETRY, ANNOUNCE)
        ]
        for other in state.legs:
            commands.append(m.CancelTimer(key=f"{AGENT_RING}:{other.attempt}"))
            if other is not leg:  # ring-all: the others stop ringing at once
                commands += [
                    m.HangupChannel(channel_id=other.channel),
                    self._attempt(other, now, "cancelled"),
                    m.ReleaseAgent(agent_id=other.agent_id),
                ]
        bridge = state.call_id
        facts: dict[str, object] = {
            "agent_id": leg.agent_id,
            "agent_channel_id": leg.channel,
            "bridge_id": bridge,
            "recording_name": state.call_id,
        }
        if not state.answered:  # a later agent (after a hold) keeps the first answer's time
            facts["answered_at"] = now
        if not state.system_answered:
            facts["answered_ring"] = round(ring_at(state, now), 2)
        commands += [
            self._attempt(leg, now, "answered"),
            m.RecordFacts(fields=facts),
            m.StopMoh(channel_id=state.caller_channel)
            if state.system_answered
            else m.AnswerCaller(channel_id=state.caller_channel),
            m.BridgeCall(bridge_id=bridge, channel_ids=(state.caller_channel, leg.channel)),
        ]
        if state.bridge_moh:  # requeued from a hold: the music was in the bridge
            commands.insert(-1, m.StopBridgeMoh(bridge_id=bridge))
        if not state.system_answered:  # else recording since the system answered
            commands.append(m.StartRecording(channel_id=state.caller_channel, name=state.call_id))
        new = replace(
            state,
            phase=Phase.TALKING,
            queue_step=None,
            legs=(),
            agent_id=leg.agent_id,
            agent_channel=leg.channel,
            bridge_id=bridge,
            answered=True,
            bridge_moh=False,
        )
        return new, commands

    # --- timers -----------------------------------------------------------------------

    def _timer(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        assert isinstance(event, m.TimerFired)
        key = event.key
        if state.phase is Phase.TALKING:
            if key in hold.HOLD_TIMERS:
                return hold.timer(self, state, key, now)
            return state, []  # every pre-answer timer is stale once talking
        if key == MAX_WAIT:
            return self._give_up(state, now)
        if key == DEADLINE:
            return self._escalate(state, now)
        if key == ANNOUNCE and state.queue_step is not None:
            n = state.announcements + 1
            return replace(state, announcements=n), [
                m.StopMoh(channel_id=state.caller_channel),
                m.Announce(channel_id=state.caller_channel, playback_id=f"{state.call_id}-q{n}"),
            ]
        if key == PUT_THROUGH and not state.put_through:
            return self._ask(replace(state, put_through=True), [])
        if key == RETRY and not state.legs and not state.asking and state.put_through:
            return self._ask(state, [])
        for leg in state.legs:
            if key == f"{AGENT_RING}:{leg.attempt}":
                outcome: AttemptOutcome = "no_answer" if leg.ringing_at else "unreachable"
                return self._drop_leg(state, leg, now, outcome)
        return state, []  # a timer that is no longer armed

    def _escalate(self, state: CallState, now: datetime) -> Result:
        """The caller reached `max_rings` unanswered: take the next escalation step."""
        steps = state.plan.escalation
        if state.next_step >= len(steps):
            return state, []
        step = steps[state.next_step]
        state = replace(state, next_step=state.next_step + 1)
        commands: list[m.Command] = [
            m.RecordFacts(
                fields={"escalation": {"step": step.kind, "ring": round(ring_at(state, now), 2)}}
            )
        ]
        if step.kind == "message":
            new, more = self._give_up(state, now, outcome="no_agent")
            return new, [*commands, *more]
        if step.kind in IVR_STEP_KINDS:
            return self._start_ivr_step(state, step, now, commands)
        if step.kind == "queue":
            if not state.system_answered:
                commands += self._system_answer(state, now)
            commands.append(m.StartMoh(channel_id=state.caller_channel, moh_class=step.moh_class))
            state = replace(state, system_answered=True, put_through=True, queue_step=step)
            commands.append(m.StartTimer(key=ANNOUNCE, at=now + step.announce_every))
            commands += self._rearm(state, now)
            if not state.legs and not state.asking:
                return self._ask(state, commands)
            return state, commands
        # ring_all: every free agent rings too, from now on.
        if state.system_answered and state.queue_step is None:
            # Answered for an IVR step the caller declined: music while agents ring.
            commands.append(m.StartMoh(channel_id=state.caller_channel))
        commands += self._rearm(state, now)
        # Everyone again, those who let it ring before included.
        return self._ask(replace(state, ring_all=True, put_through=True, tried=()), commands)

    @staticmethod
    def _system_answer(state: CallState, now: datetime) -> list[m.Command]:
        """The system answers the caller: recorded from now on (one file to the end)."""
        return [
            m.AnswerCaller(channel_id=state.caller_channel),
            m.StartRecording(channel_id=state.caller_channel, name=state.call_id),
            m.RecordFacts(fields={"system_answered_at": now, "recording_name": state.call_id}),
        ]

    def _start_ivr_step(
        self, state: CallState, step: Escalation, now: datetime, commands: list[m.Command]
    ) -> Result:
        """Hand the caller to an IVR step; agents still ringing stop and are released
        (not a miss: the call left them), no new agent is offered meanwhile."""
        assert step.kind in IVR_STEP_KINDS
        commands += [m.CancelTimer(key=k) for k in (RETRY, DEADLINE, PUT_THROUGH, ANNOUNCE)]
        commands += self._cancel_legs(state, now)
        if state.queue_step is not None:
            commands.append(m.StopMoh(channel_id=state.caller_channel))
        if not state.system_answered:
            commands += self._system_answer(state, now)
        step_id = f"{state.call_id}-esc{state.next_step}"
        commands.append(
            m.RunIvrStep(
                step_id=step_id,
                kind=step.kind,
                channel_id=state.caller_channel,
                dial=step.dial,
            )
        )
        new = replace(
            state,
            phase=Phase.IVR_STEP,
            legs=(),
            tried=(),
            asking=False,
            system_answered=True,
            put_through=True,
            queue_step=None,
            ivr_step=step_id,
        )
        return new, commands

    def _cancel_legs(self, state: CallState, now: datetime) -> list[m.Command]:
        commands: list[m.Command] = []
        for leg in state.legs:
            commands += [
                m.CancelTimer(key=f"{AGENT_RING}:{leg.attempt}"),
                m.HangupChannel(channel_id=leg.channel),
                self._attempt(leg, now, "cancelled"),
                m.ReleaseAgent(agent_id=leg.agent_id),
            ]
        return commands

    # --- IVR steps ----------------------------------------------------------------------

    def _ivr_step_ended(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        assert isinstance(event, m.IvrStepEnded)
        if event.step_id != state.ivr_step:
            return state, []  # not the step running now
        result = {"result": event.result, **event.detail}
        facts: list[m.Command] = [m.RecordFacts(fields={"escalation_result": result})]
        state = replace(state, ivr_step=None)
        if event.result == "abandoned" or (state.caller_gone and event.result == "declined"):
            new, commands = self._finish(state, now, "abandoned", "caller", hangup_caller=False)
            return new, [*facts, *commands]
        if event.result == "failed":
            if state.caller_gone:
                new, commands = self._finish(state, now, "abandoned", "caller")
                return new, [*facts, *commands]
            new, commands = self._give_up(state, now, outcome="failed")
            return new, [*facts, *commands]
        if event.result == "declined":
            state = replace(state, phase=Phase.WAITING)
            steps = state.plan.escalation
            # Past max_wait the caller waits for no agent again; voicemail or an
            # external number still serve them.
            waits = state.next_step < len(steps) and steps[state.next_step].kind in (
                "queue",
                "ring_all",
            )
            if state.next_step >= len(steps) or (state.wait_over and waits):
                new, commands = self._give_up(state, now)
            else:
                new, commands = self._escalate(state, now)
            return new, [*facts, *commands]
        # callback, voicemail, external: the step took the call to its end.
        by: HangupBy = "caller" if state.caller_gone else "system"
        new, commands = self._finish(state, now, "no_agent", by)
        return new, [*facts, m.RecordFacts(fields={"end_reason": event.result}), *commands]

    def _caller_left_step(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        """The IVR step sees the hangup too and reports its end, with what it did."""
        return replace(state, caller_gone=True), []

    def _step_timer(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        assert isinstance(event, m.TimerFired)
        if event.key == MAX_WAIT:
            return replace(state, wait_over=True), []
        return state, []  # the ringing's timers were cancelled when the step began

    def _reserved_late(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        """Agents reserved for a call now in an IVR step go back at once."""
        assert isinstance(event, m.AgentsReserved)
        return state, [m.ReleaseAgent(agent_id=a.agent_id) for a in event.agents]

    @staticmethod
    def _rearm(state: CallState, now: datetime) -> list[m.Command]:
        """The next escalation step, if any, comes `agent_rings` later."""
        if state.next_step >= len(state.plan.escalation):
            return []
        return [m.StartTimer(key=DEADLINE, at=now + state.plan.agent_limit)]

    def _announced(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        """Back to the music, and the next announcement later."""
        step = state.queue_step
        if step is None:
            return state, []
        return state, [
            m.StartMoh(channel_id=state.caller_channel, moh_class=step.moh_class),
            m.StartTimer(key=ANNOUNCE, at=now + step.announce_every),
        ]

    # --- the end ------------------------------------------------------------------------

    def _caller_hung_up(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        if state.phase is Phase.TALKING:
            if state.ivr_step is not None:  # the hold's callback offer reports its end
                return replace(state, caller_gone=True), []
            return self._finish(state, now, "answered", "caller")
        new, commands = self._finish(state, now, "abandoned", "caller")
        if state.system_answered:
            return new, commands  # left the queue: the caller heard music, not rings
        ring = {"abandoned_ring": round(ring_at(state, now), 2)}
        return new, [m.RecordFacts(fields=ring), *commands]

    def _lost(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        """Gone without a hangup we saw (the PBX restarted): closed, with the reason."""
        assert isinstance(event, m.CallLost)
        outcome: Outcome = "answered" if state.answered else "failed"
        new, commands = self._finish(state, now, outcome, "system", hangup_caller=False)
        return new, [m.RecordFacts(fields={"end_reason": event.reason}), *commands]

    def _action_failed(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        new, commands = self._finish(state, now, "failed", "system", hangup_caller=False)
        back = m.ReturnToDialplan(channel_id=state.caller_channel, label=NOBODY_LABEL)
        return new, [*commands, back]

    def _give_up(self, state: CallState, now: datetime, outcome: Outcome = "no_agent") -> Result:
        """Nobody answered within the longest wait: the dialplan tells the caller."""
        new, commands = self._finish(state, now, outcome, "system", hangup_caller=False)
        back = m.ReturnToDialplan(channel_id=state.caller_channel, label=NOBODY_LABEL)
        return new, [*commands, back]

    def _finish(
        self,
        state: CallState,
        now: datetime,
        outcome: Outcome,
        hangup_by: HangupBy,
        *,
        hangup_caller: bool = True,
    ) -> Result:
        commands: list[m.Command] = [
            m.CancelTimer(key=k) for k in (MAX_WAIT, RETRY, DEADLINE, PUT_THROUGH, ANNOUNCE)
        ]
        commands += hold.closing_record(
            state, now, "caller_hung_up" if hangup_by == "caller" else "ended"
        )
        commands += self._cancel_legs(state, now)
        if state.agent_channel is not None and hangup_by != "agent":
            commands.append(m.HangupChannel(channel_id=state.agent_channel))
        if hangup_caller and hangup_by != "caller":
            commands.append(m.HangupChannel(channel_id=state.caller_channel))
        if state.bridge_id is not None:
            commands.append(m.DestroyBridge(bridge_id=state.bridge_id))
        if state.agent_id is not None and state.phase is Phase.TALKING:
            commands.append(m.ReleaseAgent(agent_id=state.agent_id))
        commands.append(m.EndCall(outcome=outcome, hangup_by=hangup_by))
        return replace(state, phase=Phase.ENDED, legs=(), hold=None), commands

    @staticmethod
    def _attempt(leg: Leg, now: datetime, outcome: AttemptOutcome) -> m.RecordAttempt:
        return m.RecordAttempt(
            agent_id=leg.agent_id,
            channel_id=leg.channel,
            started_at=leg.started_at,
            ringing_at=leg.ringing_at,
            ended_at=now,
            outcome=outcome,
        )

    def _nothing(self, state: CallState, event: m.CallEvent, now: datetime) -> Result:
        """A late event of a leg we already left behind."""
        return state, []


def event_time(at: datetime | None, now: datetime) -> datetime:
    """When an event happened, by Asterisk's clock: a burst of events waits its turn here
    (hundreds of ms at 200 calls at once), and a deadline counted from the turn would be
    that much late. A stamp in the future or over `EVENT_STAMP_TRUSTED` old says the two
    clocks disagree (Asterisk on another host): then the turn."""
    if at is None or not now - EVENT_STAMP_TRUSTED <= at <= now:
        return now
    return at


_LIVE = (Phase.WAITING, Phase.OFFERING, Phase.TALKING)
_RINGING = (Phase.WAITING, Phase.OFFERING)
_HOLD_EVENTS = (m.HoldRequested, m.RetrieveRequested)
_TABLE: dict[tuple[Phase, type], Handler] = {
    **{(p, m.AgentsReserved): InboundPolicy._reserved for p in _RINGING},
    **{(p, m.NoAgentAvailable): InboundPolicy._nobody for p in _RINGING},
    **{(p, m.AgentRinging): InboundPolicy._leg_ringing for p in _RINGING},
    **{(p, m.CallerRingSent): InboundPolicy._ring_sent for p in _RINGING},
    **{(p, m.AgentAnswered): InboundPolicy._answered for p in _RINGING},
    **{(p, m.AgentLegEnded): InboundPolicy._leg_ended for p in _LIVE},
    **{(p, m.TimerFired): InboundPolicy._timer for p in _LIVE},
    **{(p, m.CallerHungUp): InboundPolicy._caller_hung_up for p in _LIVE},
    **{(p, m.ActionFailed): InboundPolicy._action_failed for p in _LIVE},
    **{(p, m.CallLost): InboundPolicy._lost for p in _LIVE},
    **{(p, m.AnnouncementDone): InboundPolicy._announced for p in _RINGING},
    (Phase.TALKING, m.AnnouncementDone): hold.reassured,
    (Phase.TALKING, m.HoldRequested): hold.hold,
    (Phase.TALKING, m.RetrieveRequested): hold.retrieve,
    # Hold means nothing before an agent has the call (e.g. during an escalation).
    **{(p, e): InboundPolicy._nothing for p in _RINGING for e in _HOLD_EVENTS},
    (Phase.TALKING, m.AgentRinging): InboundPolicy._nothing,
    (Phase.TALKING, m.AgentAnswered): InboundPolicy._nothing,
    (Phase.TALKING, m.CallerRingSent): InboundPolicy._nothing,
    # The report of an IVR step that already handed back (a repeat) changes nothing.
    **{(p, m.IvrStepEnded): InboundPolicy._nothing for p in _RINGING},
    (Phase.TALKING, m.IvrStepEnded): hold.offer_ended,
    # An IVR step runs: the legs it stopped may still say something; nothing else rings.
    (Phase.IVR_STEP, m.IvrStepEnded): InboundPolicy._ivr_step_ended,
    (Phase.IVR_STEP, m.CallerHungUp): InboundPolicy._caller_left_step,
    (Phase.IVR_STEP, m.TimerFired): InboundPolicy._step_timer,
    (Phase.IVR_STEP, m.AgentsReserved): InboundPolicy._reserved_late,
    (Phase.IVR_STEP, m.ActionFailed): InboundPolicy._action_failed,
    (Phase.IVR_STEP, m.CallLost): InboundPolicy._lost,
    **{
        (Phase.IVR_STEP, e): InboundPolicy._nothing
        for e in (
            m.NoAgentAvailable,
            m.AgentRinging,
            m.AgentAnswered,
            m.AgentLegEnded,
            m.AnnouncementDone,
            m.CallerRingSent,
            *_HOLD_EVENTS,
        )
    },
}
