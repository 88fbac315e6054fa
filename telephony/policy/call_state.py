"""The state of one inbound call and the ring plan it runs under (data only).

The transitions live in `telephony.policy.inbound`; this module holds what they
read and return, so other parts (sessions, the admin's policies) can use the types
without the machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

Outcome = Literal["answered", "abandoned", "no_agent", "failed"]
HangupBy = Literal["caller", "agent", "system"]
Selection = Literal["longest_idle", "round_robin", "sequential", "ring_all"]
AttemptOutcome = Literal["answered", "no_answer", "busy", "rejected", "unreachable", "cancelled"]


class PolicyError(Exception):
    """The policy was fed an event its current phase does not allow."""


class Phase(StrEnum):
    WAITING = "waiting"  # ringing; no agent leg right now (asking, or nobody free)
    OFFERING = "offering"  # one or more agents' phones ringing
    TALKING = "talking"  # caller and an agent bridged
    # The system answered and runs an IVR step with the caller (the callback offer,
    # voicemail, an external number); no agent rings meanwhile.
    IVR_STEP = "ivr_step"
    ENDED = "ended"


EscalationKind = Literal["ring_all", "queue", "message", "callback_offer", "voicemail", "external"]
IvrStepKind = Literal["callback_offer", "voicemail", "external"]
# Steps carried out by the IVR's nodes (telephony.calls.ivr), not by the call itself.
IVR_STEP_KINDS: frozenset[str] = frozenset({"callback_offer", "voicemail", "external"})


@dataclass(frozen=True)
class Escalation:
    kind: EscalationKind
    moh_class: str = "default"
    announce_every: timedelta = timedelta(seconds=30)  # queue: position announcements
    dial: str | None = None  # external: a phone number or a dial string


HoldSource = Literal["browser", "phone"]
HoldOutcome = Literal[
    "retrieved", "returned", "requeued", "callback", "agent_hung_up", "caller_hung_up", "ended"
]
HoldOnMax = Literal["return", "requeue", "callback_offer"]


@dataclass(frozen=True)
class HoldPlan:
    """The hold watchdog of one call (from the DID's policy)."""

    warn_after: timedelta = timedelta(seconds=30)  # the agent's screen warns, loudly
    max: timedelta = timedelta(seconds=90)  # then `on_max`
    # return: the caller is put back to the agent (with a beep); requeue: the caller is
    # offered to the free agents again (the agent is released); callback_offer: the
    # caller hears "press 1 to be called back within 15 minutes" (a promise in the
    # agent's name; the agent is released), and is put back to the agent otherwise.
    on_max: HoldOnMax = "return"
    reassure: bool = True  # at `warn_after` the caller hears "thank you for waiting"
    moh_class: str = "default"


@dataclass(frozen=True)
class Hold:
    """The caller is on hold: the agent out of the talk bridge, music in it."""

    since: datetime
    source: HoldSource
    warned: bool = False
    offering: bool = False  # at `max`, the caller hears the callback offer


@dataclass(frozen=True)
class RingPlan:
    """The ring policy of one call, resolved at arrival (a policy change never touches it)."""

    cadence: str = "us"
    cycle: timedelta = timedelta(seconds=6)
    max_rings: float = 3
    min_rings: float = 0
    agent_rings: float = 3
    selection: Selection = "longest_idle"
    auto_pause_on_miss: bool = False
    escalation: tuple[Escalation, ...] = (Escalation("queue"),)
    hold: HoldPlan = field(default_factory=HoldPlan)
    group: str | None = None  # the agent group the IVR routed the caller to

    @property
    def deadline(self) -> timedelta:
        return self.cycle * self.max_rings

    @property
    def agent_limit(self) -> timedelta:
        return self.cycle * self.agent_rings


@dataclass(frozen=True)
class Limits:
    no_agent_retry: timedelta = timedelta(seconds=1)
    max_wait: timedelta = timedelta(seconds=60)
    # An agent's `agent_rings` count from when the phone starts ringing; a phone that
    # has not started ringing this long after the dial is given up as unreachable.
    ring_start_grace: timedelta = timedelta(seconds=5)


@dataclass(frozen=True)
class Leg:
    channel: str
    agent_id: str
    attempt: int
    started_at: datetime
    ringing_at: datetime | None = None


@dataclass(frozen=True)
class CallState:
    call_id: str
    caller_channel: str
    phase: Phase
    ringing_since: datetime
    plan: RingPlan = field(default_factory=RingPlan)
    attempts: int = 0
    legs: tuple[Leg, ...] = ()
    # Agents offered this call in the current round; not offered again until a
    # round finds nobody left and waits `no_agent_retry`.
    tried: tuple[str, ...] = ()
    asking: bool = False  # a ReserveAgents is out (answered before the next event)
    put_through: bool = True  # False until `min_rings` have passed
    next_step: int = 0
    ring_all: bool = False
    system_answered: bool = False
    queue_step: Escalation | None = None  # the queue the caller is held in
    announcements: int = 0
    agent_id: str | None = None
    agent_channel: str | None = None
    bridge_id: str | None = None
    answered: bool = False  # an agent answered once (a later agent keeps that time)
    hold: Hold | None = None
    # Music is playing into the bridge (a hold, or a caller requeued from a hold).
    bridge_moh: bool = False
    holds: int = 0  # holds ended so far
    last_hold_end: datetime | None = None  # the agent's screen says "thank the caller"
    ivr_step: str | None = None  # the IVR step running now (`RunIvrStep.step_id`)
    caller_gone: bool = False  # hung up during an IVR step (its end report follows)
    wait_over: bool = False  # `max_wait` passed during an IVR step

    def leg(self, channel: str) -> Leg | None:
        return next((leg for leg in self.legs if leg.channel == channel), None)

    def past_deadline(self, now: datetime) -> bool:
        return now >= self.ringing_since + self.plan.deadline


def ring_at(state: CallState, now: datetime) -> float:
    """The ring the caller is hearing now (1.0 = the first ring starts)."""
    return 1 + (now - state.ringing_since) / state.plan.cycle
