"""The outbound callback call, as a pure state machine: `decide(state, event, now)`.

No I/O and no clock: the adapter (`telephony.calls.outbound`) feeds events and the
time and carries out the commands. Rings are the unit: the customer's leg rings at
most `max_rings` cycles of the plan's cadence, counted from the leg's Dial RINGING;
a leg that never starts ringing is given up after `ring_start_grace`. Every attempt
ends with exactly one `SettleTask`: done (an agent took the call), rescheduled, or
failed (no attempts left).

    DIALING --customer answers--> CONNECTING (agent reserved and rung, customer on hold)
    DIALING --rings out / busy / unreachable--> ENDED (task rescheduled or failed)
    CONNECTING --agent answers--> TALKING (bridged, recorded; task done) --hangup--> ENDED
    CONNECTING --no agent free--> APOLOGISING (short message) --> ENDED (retry soon)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from telephony.policy import messages as m

RING_LIMIT = "ring_limit"
RING_GRACE = "ring_grace"
AGENT_RING = "agent_ring"
APOLOGY = "apology"

Outcome = Literal["answered", "no_answer", "busy", "unreachable", "no_agent", "abandoned"]
TaskStatus = Literal["pending", "done", "failed"]
APOLOGY_SOUND = "sorry-youre-having-problems"

_LEG_OUTCOMES: dict[str, Outcome] = {
    "busy": "busy",
    "noanswer": "no_answer",
    "no_answer": "no_answer",
}


class OutboundPolicyError(Exception):
    """The policy was fed an event its current phase does not allow."""


# --- events of the customer's leg (agent legs reuse the inbound messages) -----------


class CustomerRinging(m.Message):
    pass


class CustomerAnswered(m.Message):
    pass


class CustomerLegEnded(m.Message):
    reason: str = ""


OutboundEvent = (
    CustomerRinging
    | CustomerAnswered
    | CustomerLegEnded
    | m.AgentsReserved
    | m.NoAgentAvailable
    | m.AgentRinging
    | m.AgentAnswered
    | m.AgentLegEnded
    | m.TimerFired
    | m.ActionFailed
)


# --- commands ------------------------------------------------------------------------


class DialCustomer(m.Message):
    """Create the customer's leg through the carrier trunk and dial it."""

    endpoint: str
    channel_id: str


class PlaySound(m.Message):
    channel_id: str
    sound: str


class SettleTask(m.Message):
    """The attempt's result, for the callback task: its new status and due time."""

    outcome: Outcome
    status: TaskStatus
    rings: float | None = None
    due_at: datetime | None = None
    agent_id: str | None = None
    call_id: str | None = None


OutboundCommand = (
    DialCustomer
    | PlaySound
    | SettleTask
    | m.ReserveAgents
    | m.ReleaseAgent
    | m.DialAgent
    | m.HangupChannel
    | m.BridgeCall
    | m.StartRecording
    | m.DestroyBridge
    | m.StartMoh
    | m.StopMoh
    | m.StartTimer
    | m.CancelTimer
)


class Phase(StrEnum):
    DIALING = "dialing"  # customer leg created; ringing (or not yet)
    CONNECTING = "connecting"  # customer answered; looking for / ringing an agent
    APOLOGISING = "apologising"  # no agent: the customer hears a short message
    TALKING = "talking"
    ENDED = "ended"


@dataclass(frozen=True)
class OutboundPlan:
    """One attempt's rules, resolved from the DID's ring policy when it starts."""

    cadence: str = "us"
    cycle: timedelta = timedelta(seconds=6)
    max_rings: int = 5
    retry_after: timedelta = timedelta(hours=48)
    max_attempts: int = 3
    no_agent_retry: timedelta = timedelta(minutes=10)
    ring_start_grace: timedelta = timedelta(seconds=5)
    agent_limit: timedelta = timedelta(seconds=15)
    apology: timedelta = timedelta(seconds=4)
    selection: Literal["longest_idle", "round_robin", "sequential", "ring_all"] = "longest_idle"

    @property
    def ring_limit(self) -> timedelta:
        return self.cycle * self.max_rings


@dataclass(frozen=True)
class OutboundState:
    call_id: str
    task_id: int
    number: str  # E.164
    attempts: int  # attempts made before this one
    phase: Phase
    customer_channel: str
    plan: OutboundPlan
    started_at: datetime
    ringing_at: datetime | None = None
    answered_at: datetime | None = None
    rings: float | None = None  # rings the customer's phone rang (heard by us)
    agent_id: str | None = None
    agent_channel: str | None = None
    agent_tries: int = 0
    tried: tuple[str, ...] = ()
    bridged: bool = False
    settled: bool = False
    owner: str | None = None  # the agent who promised this callback


Result = tuple[OutboundState, list[OutboundCommand]]
Handler = Callable[["OutboundPolicy", OutboundState, OutboundEvent, datetime], Result]


def customer_endpoint(number: str, trunk: str = "carrier") -> str:
    """`PJSIP/905551112233@carrier` for +905551112233."""
    return f"PJSIP/{number.lstrip('+')}@{trunk}"


class OutboundPolicy:
    def __init__(self, trunk: str = "carrier") -> None:
        self.trunk = trunk

    def start(
        self,
        *,
        call_id: str,
        task_id: int,
        number: str,
        attempts: int,
        plan: OutboundPlan,
        now: datetime,
        owner: str | None = None,
    ) -> Result:
        """`owner`: the agent whose promise this is, offered the call first."""
        channel = f"{call_id}-customer"
        state = OutboundState(
            call_id=call_id,
            task_id=task_id,
            number=number,
            attempts=attempts,
            phase=Phase.DIALING,
            customer_channel=channel,
            plan=plan,
            started_at=now,
            owner=owner,
        )
        return state, [
            DialCustomer(endpoint=customer_endpoint(number, self.trunk), channel_id=channel),
            m.StartTimer(key=RING_GRACE, at=now + plan.ring_start_grace),
        ]

    def decide(self, state: OutboundState, event: OutboundEvent, now: datetime) -> Result:
        if state.phase is Phase.ENDED:
            return state, []
        handler = _TABLE.get((state.phase, type(event)))
        if handler is None:
            if isinstance(event, m.TimerFired | m.AgentRinging | CustomerRinging):
                return state, []  # a stale timer or a late ring
            raise OutboundPolicyError(f"{type(event).__name__} is not expected in {state.phase}")
        return handler(self, state, event, now)

    # --- the customer's phone ----------------------------------------------------------

    def _customer_ringing(
        self, state: OutboundState, event: OutboundEvent, now: datetime
    ) -> Result:
        if state.ringing_at is not None:
            return state, []
        return replace(state, ringing_at=now), [
            m.CancelTimer(key=RING_GRACE),
            m.StartTimer(key=RING_LIMIT, at=now + state.plan.ring_limit),
        ]

    def _rings(self, state: OutboundState, now: datetime) -> float | None:
        if state.ringing_at is None:
            return None
        return round((now - state.ringing_at) / state.plan.cycle, 2)

    def _dial_timer(self, state: OutboundState, event: OutboundEvent, now: datetime) -> Result:
        assert isinstance(event, m.TimerFired)
        if event.key == RING_LIMIT and state.ringing_at is not None:
            rings = float(state.plan.max_rings)
            return self._not_reached(state, now, "no_answer", rings, hangup=True)
        if event.key == RING_GRACE and state.ringing_at is None:
            return self._not_reached(state, now, "unreachable", None, hangup=True)
        return state, []

    def _customer_gone(self, state: OutboundState, event: OutboundEvent, now: datetime) -> Result:
        assert isinstance(event, CustomerLegEnded)
        outcome = _LEG_OUTCOMES.get(event.reason.lower())
        if outcome is None:
            outcome = "no_answer" if state.ringing_at is not None else "unreachable"
        return self._not_reached(state, now, outcome, self._rings(state, now), hangup=True)

    def _not_reached(
        self,
        state: OutboundState,
        now: datetime,
        outcome: Outcome,
        rings: float | None,
        *,
        hangup: bool,
    ) -> Result:
        commands: list[OutboundCommand] = [m.CancelTimer(key=k) for k in (RING_GRACE, RING_LIMIT)]
        if hangup:  # also when already gone: the leg we created may linger in Stasis
            commands.append(m.HangupChannel(channel_id=state.customer_channel, reason="no_answer"))
        commands.append(self._settle(state, now, outcome, rings, state.plan.retry_after))
        return replace(state, phase=Phase.ENDED, rings=rings, settled=True), commands

    def _settle(
        self,
        state: OutboundState,
        now: datetime,
        outcome: Outcome,
        rings: float | None,
        retry_after: timedelta,
    ) -> SettleTask:
        attempts = state.attempts + 1
        if outcome == "answered":
            return SettleTask(
                outcome=outcome,
                status="done",
                rings=rings,
                agent_id=state.agent_id,
                call_id=state.call_id,
            )
        if attempts >= state.plan.max_attempts:
            return SettleTask(outcome=outcome, status="failed", rings=rings)
        return SettleTask(outcome=outcome, status="pending", rings=rings, due_at=now + retry_after)

    def _customer_answered(
        self, state: OutboundState, event: OutboundEvent, now: datetime
    ) -> Result:
        rings = self._rings(state, now) if state.ringing_at else 0.0
        state = replace(state, phase=Phase.CONNECTING, answered_at=now, rings=rings)
        commands: list[OutboundCommand] = [
            m.CancelTimer(key=RING_GRACE),
            m.CancelTimer(key=RING_LIMIT),
            m.StartMoh(channel_id=state.customer_channel),
        ]
        return self._ask(state, commands)

    # --- the agent ------------------------------------------------------------------------

    def _ask(self, state: OutboundState, commands: list[OutboundCommand]) -> Result:
        ask = m.ReserveAgents(
            exclude=state.tried, limit=1, strategy=state.plan.selection, prefer=state.owner
        )
        return state, [*commands, ask]

    def _reserved(self, state: OutboundState, event: OutboundEvent, now: datetime) -> Result:
        assert isinstance(event, m.AgentsReserved)
        if not event.agents:
            return self._no_agent(state, m.NoAgentAvailable(), now)
        offer = event.agents[0]
        extra = [m.ReleaseAgent(agent_id=o.agent_id) for o in event.agents[1:]]
        tries = state.agent_tries + 1
        channel = f"{state.call_id}-agent-{tries}"
        state = replace(
            state,
            agent_id=offer.agent_id,
            agent_channel=channel,
            agent_tries=tries,
            tried=(*state.tried, offer.agent_id),
        )
        return state, [
            *extra,
            m.DialAgent(agent_id=offer.agent_id, endpoint=offer.endpoint, channel_id=channel),
            m.StartTimer(
                key=AGENT_RING, at=now + state.plan.ring_start_grace + state.plan.agent_limit
            ),
        ]

    def _agent_ringing(self, state: OutboundState, event: OutboundEvent, now: datetime) -> Result:
        assert isinstance(event, m.AgentRinging)
        if event.channel_id != state.agent_channel:
            return state, []
        return state, [m.StartTimer(key=AGENT_RING, at=now + state.plan.agent_limit)]

    def _agent_timer(self, state: OutboundState, event: OutboundEvent, now: datetime) -> Result:
        assert isinstance(event, m.TimerFired)
        if event.key != AGENT_RING or state.agent_channel is None:
            return state, []
        return self._next_agent(state, missed=True)

    def _agent_gone(self, state: OutboundState, event: OutboundEvent, now: datetime) -> Result:
        assert isinstance(event, m.AgentLegEnded)
        if event.channel_id != state.agent_channel:
            return state, []
        if state.phase is Phase.TALKING:
            return self._hang_up(state, now, by="agent")
        return self._next_agent(state, missed=False)

    def _next_agent(self, state: OutboundState, *, missed: bool) -> Result:
        assert state.agent_channel is not None and state.agent_id is not None
        commands: list[OutboundCommand] = [
            m.CancelTimer(key=AGENT_RING),
            m.HangupChannel(channel_id=state.agent_channel, reason="no_answer"),
            m.ReleaseAgent(agent_id=state.agent_id, missed=missed),
        ]
        state = replace(state, agent_id=None, agent_channel=None)
        return self._ask(state, commands)

    def _no_agent(self, state: OutboundState, event: OutboundEvent, now: datetime) -> Result:
        """Nobody free: a short apology, then hang up; try again soon."""
        state = replace(state, phase=Phase.APOLOGISING, settled=True)
        return state, [
            m.StopMoh(channel_id=state.customer_channel),
            PlaySound(channel_id=state.customer_channel, sound=APOLOGY_SOUND),
            m.StartTimer(key=APOLOGY, at=now + state.plan.apology),
            self._settle(state, now, "no_agent", state.rings, state.plan.no_agent_retry),
        ]

    def _apology_over(self, state: OutboundState, event: OutboundEvent, now: datetime) -> Result:
        assert isinstance(event, m.TimerFired)
        if event.key != APOLOGY:
            return state, []
        return replace(state, phase=Phase.ENDED), [
            m.HangupChannel(channel_id=state.customer_channel)
        ]

    def _customer_left_apology(
        self, state: OutboundState, event: OutboundEvent, now: datetime
    ) -> Result:
        return replace(state, phase=Phase.ENDED), [m.CancelTimer(key=APOLOGY)]

    def _agent_answered(self, state: OutboundState, event: OutboundEvent, now: datetime) -> Result:
        assert isinstance(event, m.AgentAnswered)
        if event.channel_id != state.agent_channel:
            return state, []
        assert state.agent_channel is not None
        bridge = state.call_id
        state = replace(state, phase=Phase.TALKING, bridged=True, settled=True)
        return state, [
            m.CancelTimer(key=AGENT_RING),
            m.StopMoh(channel_id=state.customer_channel),
            m.BridgeCall(
                bridge_id=bridge, channel_ids=(state.customer_channel, state.agent_channel)
            ),
            m.StartRecording(channel_id=state.customer_channel, name=state.call_id),
            self._settle(state, now, "answered", state.rings, timedelta(0)),
        ]

    def _customer_left(self, state: OutboundState, event: OutboundEvent, now: datetime) -> Result:
        """The customer hung up after answering."""
        if state.phase is Phase.TALKING:
            return self._hang_up(state, now, by="customer")
        # Before an agent took it: the attempt counts, try again soon.
        commands: list[OutboundCommand] = [m.CancelTimer(key=AGENT_RING)]
        if state.agent_channel is not None and state.agent_id is not None:
            commands += [
                m.HangupChannel(channel_id=state.agent_channel),
                m.ReleaseAgent(agent_id=state.agent_id),
            ]
        commands.append(
            self._settle(state, now, "abandoned", state.rings, state.plan.no_agent_retry)
        )
        return replace(state, phase=Phase.ENDED, settled=True), commands

    def _hang_up(self, state: OutboundState, now: datetime, *, by: str) -> Result:
        commands: list[OutboundCommand] = []
        if by == "customer" and state.agent_channel is not None:
            commands.append(m.HangupChannel(channel_id=state.agent_channel))
        if by == "agent":
            commands.append(m.HangupChannel(channel_id=state.customer_channel))
        commands.append(m.DestroyBridge(bridge_id=state.call_id))
        if state.agent_id is not None:
            commands.append(m.ReleaseAgent(agent_id=state.agent_id))
        return replace(state, phase=Phase.ENDED), commands

    def _failed(self, state: OutboundState, event: OutboundEvent, now: datetime) -> Result:
        """A command could not be carried out: end the attempt cleanly, retry later."""
        commands: list[OutboundCommand] = [
            m.CancelTimer(key=k) for k in (RING_GRACE, RING_LIMIT, AGENT_RING, APOLOGY)
        ]
        if state.agent_channel is not None:
            commands.append(m.HangupChannel(channel_id=state.agent_channel))
        commands.append(m.HangupChannel(channel_id=state.customer_channel))
        if state.bridged:
            commands.append(m.DestroyBridge(bridge_id=state.call_id))
        if state.agent_id is not None:
            commands.append(m.ReleaseAgent(agent_id=state.agent_id))
        if not state.settled:
            outcome: Outcome = "unreachable" if state.answered_at is None else "abandoned"
            retry = (
                state.plan.retry_after if state.answered_at is None else state.plan.no_agent_retry
            )
            commands.append(self._settle(state, now, outcome, self._rings(state, now), retry))
        return replace(state, phase=Phase.ENDED, settled=True), commands

    def _nothing(self, state: OutboundState, event: OutboundEvent, now: datetime) -> Result:
        """A late event of a leg already left behind."""
        return state, []


_TABLE: dict[tuple[Phase, type], Handler] = {
    (Phase.DIALING, CustomerRinging): OutboundPolicy._customer_ringing,
    (Phase.DIALING, CustomerAnswered): OutboundPolicy._customer_answered,
    (Phase.DIALING, CustomerLegEnded): OutboundPolicy._customer_gone,
    (Phase.DIALING, m.TimerFired): OutboundPolicy._dial_timer,
    (Phase.DIALING, m.ActionFailed): OutboundPolicy._failed,
    (Phase.CONNECTING, m.AgentsReserved): OutboundPolicy._reserved,
    (Phase.CONNECTING, m.NoAgentAvailable): OutboundPolicy._no_agent,
    (Phase.CONNECTING, m.AgentRinging): OutboundPolicy._agent_ringing,
    (Phase.CONNECTING, m.AgentAnswered): OutboundPolicy._agent_answered,
    (Phase.CONNECTING, m.AgentLegEnded): OutboundPolicy._agent_gone,
    (Phase.CONNECTING, m.TimerFired): OutboundPolicy._agent_timer,
    (Phase.CONNECTING, CustomerLegEnded): OutboundPolicy._customer_left,
    (Phase.CONNECTING, m.ActionFailed): OutboundPolicy._failed,
    (Phase.APOLOGISING, m.TimerFired): OutboundPolicy._apology_over,
    (Phase.APOLOGISING, CustomerLegEnded): OutboundPolicy._customer_left_apology,
    (Phase.APOLOGISING, m.ActionFailed): OutboundPolicy._customer_left_apology,
    (Phase.TALKING, CustomerLegEnded): OutboundPolicy._customer_left,
    (Phase.TALKING, m.AgentLegEnded): OutboundPolicy._agent_gone,
    (Phase.TALKING, m.ActionFailed): OutboundPolicy._failed,
    (Phase.TALKING, m.AgentAnswered): OutboundPolicy._nothing,
    (Phase.APOLOGISING, m.AgentLegEnded): OutboundPolicy._nothing,
}
