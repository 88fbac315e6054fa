"""What flows into and out of the pure call policies.

Events are facts the adapter observed (translated from ARI); commands are what the
policy wants done. Both are frozen and reject unknown fields: they are our own
messages, unlike Asterisk's, which are parsed tolerantly in `telephony.ari`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- events -------------------------------------------------------------------


class AgentOffer(Message):
    agent_id: str
    endpoint: str


class AgentsReserved(Message):
    """The agent pool reserved these agents for the call (answer to `ReserveAgents`)."""

    agents: tuple[AgentOffer, ...]


class NoAgentAvailable(Message):
    pass


class AgentRinging(Message):
    """The agent's phone rings (the Dial's RINGING); `at`: when, by Asterisk's clock (the
    event's timestamp), which in a burst is earlier than the event's turn here."""

    channel_id: str
    at: datetime | None = None


class AgentAnswered(Message):
    channel_id: str


class AgentLegEnded(Message):
    """The agent's leg is gone: rejected, unreachable, or hung up after answering."""

    channel_id: str
    reason: str = ""


class CallerHungUp(Message):
    pass


class TimerFired(Message):
    key: str


class CallerRingSent(Message):
    """The caller's 180 was handed to Asterisk at `at`: the caller's ringback starts
    there, which in a burst of arrivals is later than the call's start."""

    at: datetime


class AnnouncementDone(Message):
    """The queue announcement to the caller finished."""


class CallLost(Message):
    """The call is gone and nobody saw it end (e.g. the PBX restarted): `reason` says so."""

    reason: str


class HoldRequested(Message):
    """The agent pressed hold: in the browser, or on the desk phone (a re-INVITE)."""

    source: Literal["browser", "phone"]
    by: str = ""


class RetrieveRequested(Message):
    source: Literal["browser", "phone"]
    by: str = ""


class IvrStepEnded(Message):
    """The IVR step started by `RunIvrStep` is over. `declined`: the caller did not take
    the callback offer (no key, another key, or no usable number): the next step runs;
    `callback`, `voicemail`, `external`: the step handled the call (terminal);
    `abandoned`: the caller hung up during it; `failed`: it could not run."""

    step_id: str
    result: Literal["declined", "callback", "voicemail", "external", "abandoned", "failed"]
    detail: dict[str, Any] = {}


class ActionFailed(Message):
    """A command could not be carried out; `what` names it for the log."""

    what: str
    detail: str = ""


CallEvent = (
    AgentsReserved
    | NoAgentAvailable
    | AgentRinging
    | AgentAnswered
    | AgentLegEnded
    | CallerHungUp
    | TimerFired
    | CallerRingSent
    | AnnouncementDone
    | CallLost
    | HoldRequested
    | RetrieveRequested
    | IvrStepEnded
    | ActionFailed
)


# --- commands -----------------------------------------------------------------


class RingCaller(Message):
    """Send ringing to the caller (a SIP 180: the caller's side plays its own ringback)."""

    channel_id: str


class AnswerCaller(Message):
    channel_id: str


class AnswerAt(Message):
    """The system will answer the caller at `at` (the deadline, when its step answers):
    sent then however busy the service is. The `AnswerCaller` that follows takes that
    answer; an earlier `AnswerCaller` (an agent answered) withdraws it."""

    channel_id: str
    at: datetime


class ReserveAgents(Message):
    """Ask the pool for up to `limit` available agents (None: all), not one of `exclude`."""

    exclude: tuple[str, ...] = ()
    limit: int | None = 1
    strategy: Literal["longest_idle", "round_robin", "sequential", "ring_all"] = "longest_idle"
    prefer: str | None = None  # this agent first when available (a promised callback's)
    group: str | None = None  # only agents of this group (the caller's IVR choice)


class ReleaseAgent(Message):
    """The agent is free again; `pause`: auto-paused instead (let a call ring out)."""

    agent_id: str
    missed: bool = False
    pause: bool = False


class DialAgent(Message):
    agent_id: str
    endpoint: str
    channel_id: str


class HangupChannel(Message):
    channel_id: str
    reason: Literal["normal", "busy", "congestion", "no_answer"] = "normal"


class BridgeCall(Message):
    """Put caller and agent into one mixing bridge."""

    bridge_id: str
    channel_ids: tuple[str, ...]


class StartRecording(Message):
    """Record what this caller says and hears until they hang up (one file per call)."""

    channel_id: str
    name: str


class LeaveBridge(Message):
    """Take a channel out of a bridge (the agent's, for a hold)."""

    bridge_id: str
    channel_id: str


class StartBridgeMoh(Message):
    """Music to everyone in the bridge (on hold: the caller alone)."""

    bridge_id: str
    moh_class: str = "default"


class StopBridgeMoh(Message):
    bridge_id: str


class PlayToBridge(Message):
    """Play media into a bridge; its end comes back as `AnnouncementDone`."""

    bridge_id: str
    playback_id: str
    media: tuple[str, ...]


class RecordHold(Message):
    """Store one hold: when it began (ended_at None: still on hold), how it ended."""

    started_at: datetime
    source: Literal["browser", "phone"]
    agent_id: str | None
    ended_at: datetime | None = None
    outcome: str | None = None
    warned: bool = False
    over_limit: bool = False


class DestroyBridge(Message):
    bridge_id: str


class ReturnToDialplan(Message):
    """Hand the caller back to the dialplan at `label` (served there, never stranded)."""

    channel_id: str
    label: str


class StartMoh(Message):
    """Music on hold to the caller (the system answered and holds them in the queue)."""

    channel_id: str
    moh_class: str = "default"


class StopMoh(Message):
    channel_id: str


class Announce(Message):
    """Tell a queued caller their place in the queue (music stops meanwhile)."""

    channel_id: str
    playback_id: str


class RunIvrStep(Message):
    """Run an escalation step with the IVR's nodes on the (answered) caller: the
    callback offer, voicemail, or an external number (`dial`); or, at a hold's limit,
    the offer of a callback within 15 minutes (`hold_callback_offer`: the task is a
    promise of `agent_id`). Its end comes back as `IvrStepEnded` with the same
    `step_id`."""

    step_id: str
    kind: Literal["callback_offer", "voicemail", "external", "hold_callback_offer"]
    channel_id: str
    dial: str | None = None
    agent_id: str | None = None


class RecordAttempt(Message):
    """One offer of the call to one agent, as it ended."""

    agent_id: str
    channel_id: str
    started_at: datetime
    ringing_at: datetime | None
    ended_at: datetime
    outcome: Literal["answered", "no_answer", "busy", "rejected", "unreachable", "cancelled"]


class StartTimer(Message):
    key: str
    at: datetime


class CancelTimer(Message):
    key: str


class RecordFacts(Message):
    """Persist these fields of the call record."""

    fields: dict[str, Any]


class EndCall(Message):
    outcome: Literal["answered", "abandoned", "no_agent", "failed"]
    hangup_by: Literal["caller", "agent", "system"]


Command = (
    RingCaller
    | AnswerCaller
    | AnswerAt
    | ReserveAgents
    | ReleaseAgent
    | DialAgent
    | HangupChannel
    | BridgeCall
    | StartRecording
    | DestroyBridge
    | LeaveBridge
    | StartBridgeMoh
    | StopBridgeMoh
    | PlayToBridge
    | RecordHold
    | ReturnToDialplan
    | StartMoh
    | StopMoh
    | Announce
    | RunIvrStep
    | RecordAttempt
    | StartTimer
    | CancelTimer
    | RecordFacts
    | EndCall
)
