"""The inbound call, as a pure state machine: `decide(state, event, now) -> (state, commands)`.

No I/O and no clock of its own: the adapter feeds events and the time, and carries out
the commands. Every transition is in `_TABLE`; an event a phase does not expect raises
`PolicyError`. Events about an agent leg that is no longer the current one (a late
answer from a leg we already gave up on) and timers that are no longer armed are
ignored, because the adapter cannot always withdraw them in time.

    RESERVING --AgentReserved--> OFFERING --AgentAnswered--> TALKING --hangup--> ENDED
        |  ^                        |
        |  +--AgentLegEnded/timeout-+
        +--NoAgentAvailable--> WAITING --retry timer--> RESERVING
    any live phase --CallerHungUp / max_wait / ActionFailed--> ENDED
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from telephony.policy.messages import (
    ActionFailed,
    AgentAnswered,
    AgentLegEnded,
    AgentReserved,
    AgentRinging,
    AnswerCaller,
    BridgeCall,
    CallerHungUp,
    CallEvent,
    CancelTimer,
    Command,
    DestroyBridge,
    DialAgent,
    EndCall,
    HangupChannel,
    NoAgentAvailable,
    RecordFacts,
    ReleaseAgent,
    ReserveAgent,
    ReturnToDialplan,
    RingCaller,
    StartRecording,
    StartTimer,
    TimerFired,
)

MAX_WAIT = "max_wait"
RETRY = "retry"
AGENT_RING = "agent_ring"
# The label in dialplans/pbx/extensions.conf that tells the caller nobody could answer.
NOBODY_LABEL = "message"


Outcome = Literal["answered", "abandoned", "no_agent", "failed"]
HangupBy = Literal["caller", "agent", "system"]


class PolicyError(Exception):
    """The policy was fed an event its current phase does not allow."""


class Phase(StrEnum):
    RESERVING = "reserving"  # asked the pool for an agent
    WAITING = "waiting"  # nobody free; retry soon
    OFFERING = "offering"  # an agent's phone is being dialled
    TALKING = "talking"  # caller and agent bridged
    ENDED = "ended"


@dataclass(frozen=True)
class Limits:
    agent_ring_timeout: timedelta = timedelta(seconds=15)
    no_agent_retry: timedelta = timedelta(seconds=1)
    max_wait: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class CallState:
    call_id: str
    caller_channel: str
    phase: Phase
    attempts: int = 0
    # Agents offered this call in the current round; not offered again until a
    # round finds nobody left and waits `no_agent_retry`.
    tried: tuple[str, ...] = ()
    agent_id: str | None = None
    agent_channel: str | None = None
    bridge_id: str | None = None

    @property
    def agent_ring_key(self) -> str:
        return f"{AGENT_RING}:{self.attempts}"


Result = tuple[CallState, list[Command]]
Handler = Callable[["InboundPolicy", CallState, CallEvent, datetime], Result]


class InboundPolicy:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def start(self, call_id: str, caller_channel: str, now: datetime) -> Result:
        """A caller arrived: ring them, look for an agent, and bound the wait."""
        state = CallState(call_id=call_id, caller_channel=caller_channel, phase=Phase.RESERVING)
        return state, [
            RingCaller(channel_id=caller_channel),
            RecordFacts(fields={"ringing_at": now}),
            StartTimer(key=MAX_WAIT, at=now + self.limits.max_wait),
            ReserveAgent(),
        ]

    def adopt_talking(
        self, call_id: str, caller_channel: str, agent_id: str, agent_channel: str, bridge_id: str
    ) -> CallState:
        """Rebuild a bridged call found in Asterisk after a reconnect or restart."""
        return CallState(
            call_id=call_id,
            caller_channel=caller_channel,
            phase=Phase.TALKING,
            agent_id=agent_id,
            agent_channel=agent_channel,
            bridge_id=bridge_id,
        )

    def decide(self, state: CallState, event: CallEvent, now: datetime) -> Result:
        if state.phase is Phase.ENDED:
            return state, []  # late events after the end change nothing
        handler = _TABLE.get((state.phase, type(event)))
        if handler is None:
            raise PolicyError(f"{type(event).__name__} is not expected in phase {state.phase}")
        return handler(self, state, event, now)

    # --- transitions ----------------------------------------------------------

    def _dial(self, state: CallState, event: CallEvent, now: datetime) -> Result:
        assert isinstance(event, AgentReserved)
        attempts = state.attempts + 1
        channel = f"{state.call_id}-agent-{attempts}"
        new = replace(
            state,
            phase=Phase.OFFERING,
            attempts=attempts,
            agent_id=event.agent_id,
            agent_channel=channel,
        )
        return new, [
            # Stored before dialling, so a restarted service can find the leg.
            RecordFacts(fields={"agent_id": event.agent_id, "agent_channel_id": channel}),
            DialAgent(agent_id=event.agent_id, endpoint=event.endpoint, channel_id=channel),
            StartTimer(key=new.agent_ring_key, at=now + self.limits.agent_ring_timeout),
        ]

    def _wait(self, state: CallState, event: CallEvent, now: datetime) -> Result:
        return replace(state, phase=Phase.WAITING, tried=()), [
            StartTimer(key=RETRY, at=now + self.limits.no_agent_retry)
        ]

    def _timer(self, state: CallState, event: CallEvent, now: datetime) -> Result:
        assert isinstance(event, TimerFired)
        if event.key == MAX_WAIT:
            return self._give_up(state)
        if event.key == RETRY and state.phase is Phase.WAITING:
            return replace(state, phase=Phase.RESERVING), [ReserveAgent()]
        if event.key == state.agent_ring_key and state.phase is Phase.OFFERING:
            return self._next_agent(state)
        return state, []  # a timer that is no longer armed

    def _nothing(self, state: CallState, event: CallEvent, now: datetime) -> Result:
        """Agent ringing (the caller already hears ringing), or a late event of an old leg."""
        return state, []

    def _agent_answered(self, state: CallState, event: CallEvent, now: datetime) -> Result:
        assert isinstance(event, AgentAnswered)
        if event.channel_id != state.agent_channel:
            return state, []
        assert state.agent_id is not None
        bridge = state.call_id
        new = replace(state, phase=Phase.TALKING, bridge_id=bridge)
        return new, [
            CancelTimer(key=state.agent_ring_key),
            CancelTimer(key=MAX_WAIT),
            RecordFacts(
                fields={"answered_at": now, "bridge_id": bridge, "recording_name": state.call_id}
            ),
            AnswerCaller(channel_id=state.caller_channel),
            BridgeCall(bridge_id=bridge, channel_ids=(state.caller_channel, event.channel_id)),
            StartRecording(bridge_id=bridge, name=state.call_id),
        ]

    def _agent_leg_ended(self, state: CallState, event: CallEvent, now: datetime) -> Result:
        assert isinstance(event, AgentLegEnded)
        if event.channel_id != state.agent_channel:
            return state, []
        if state.phase is Phase.OFFERING:
            return self._next_agent(state)
        return self._finish(state, "answered", "agent")

    def _caller_hung_up(self, state: CallState, event: CallEvent, now: datetime) -> Result:
        outcome: Outcome = "answered" if state.phase is Phase.TALKING else "abandoned"
        return self._finish(state, outcome, "caller")

    def _action_failed(self, state: CallState, event: CallEvent, now: datetime) -> Result:
        new, commands = self._finish(state, "failed", "system", hangup_caller=False)
        return new, [
            *commands,
            ReturnToDialplan(channel_id=state.caller_channel, label=NOBODY_LABEL),
        ]

    # --- shared steps ---------------------------------------------------------

    def _next_agent(self, state: CallState) -> Result:
        assert state.agent_id is not None and state.agent_channel is not None
        commands: list[Command] = [
            CancelTimer(key=state.agent_ring_key),
            # Also after a failed dial: the leg we created stays in Stasis until hung up.
            HangupChannel(channel_id=state.agent_channel, reason="no_answer"),
        ]
        tried = (*state.tried, state.agent_id)
        commands += [
            ReleaseAgent(agent_id=state.agent_id, missed=True),
            ReserveAgent(exclude=tried),
        ]
        new = replace(state, phase=Phase.RESERVING, agent_id=None, agent_channel=None, tried=tried)
        return new, commands

    def _give_up(self, state: CallState) -> Result:
        """Nobody answered within the longest wait: the dialplan tells the caller."""
        new, commands = self._finish(state, "no_agent", "system", hangup_caller=False)
        return new, [
            *commands,
            ReturnToDialplan(channel_id=state.caller_channel, label=NOBODY_LABEL),
        ]

    def _finish(
        self,
        state: CallState,
        outcome: Outcome,
        hangup_by: HangupBy,
        *,
        hangup_caller: bool = True,
    ) -> Result:
        commands: list[Command] = [CancelTimer(key=MAX_WAIT), CancelTimer(key=RETRY)]
        if state.phase is Phase.OFFERING:
            commands.append(CancelTimer(key=state.agent_ring_key))
        if state.agent_channel is not None and hangup_by != "agent":
            commands.append(HangupChannel(channel_id=state.agent_channel))
        if hangup_caller and hangup_by != "caller":
            commands.append(HangupChannel(channel_id=state.caller_channel))
        if state.bridge_id is not None:
            commands.append(DestroyBridge(bridge_id=state.bridge_id))
        if state.agent_id is not None:
            missed = state.phase is Phase.OFFERING
            commands.append(ReleaseAgent(agent_id=state.agent_id, missed=missed))
        commands.append(EndCall(outcome=outcome, hangup_by=hangup_by))
        return replace(state, phase=Phase.ENDED), commands


_LIVE = (Phase.RESERVING, Phase.WAITING, Phase.OFFERING, Phase.TALKING)
_NOT_OFFERING = (Phase.RESERVING, Phase.WAITING, Phase.TALKING)
_TABLE: dict[tuple[Phase, type], Handler] = {
    (Phase.RESERVING, AgentReserved): InboundPolicy._dial,
    (Phase.RESERVING, NoAgentAvailable): InboundPolicy._wait,
    (Phase.OFFERING, AgentRinging): InboundPolicy._nothing,
    (Phase.OFFERING, AgentAnswered): InboundPolicy._agent_answered,
    **{(phase, AgentLegEnded): InboundPolicy._agent_leg_ended for phase in _LIVE},
    **{(phase, TimerFired): InboundPolicy._timer for phase in _LIVE},
    **{(phase, CallerHungUp): InboundPolicy._caller_hung_up for phase in _LIVE},
    **{(phase, ActionFailed): InboundPolicy._action_failed for phase in _LIVE},
    # Ringing/answer of a leg we already gave up on (or a repeat) arrive late.
    **{(phase, AgentRinging): InboundPolicy._nothing for phase in _NOT_OFFERING},
    **{(phase, AgentAnswered): InboundPolicy._nothing for phase in _NOT_OFFERING},
}
