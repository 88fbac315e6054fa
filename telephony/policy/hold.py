"""Hold, as part of the inbound machine: the transitions of a TALKING call on hold.

Pure like the rest (`(policy, state, event, now) -> (state, commands)`); the table in
`telephony.policy.inbound` refers to these functions. Hold from the browser and hold
on the desk phone are the same event with a different `source`.

Mechanism (why): the *agent's* channel leaves the talk bridge and music plays into the
bridge, so nothing from the agent's side (a word, the room) can reach the caller, and
the agent may talk to colleagues. The caller never moves: their channel stays in the
same bridge from answer to hangup, so the recording attached to it (see
telephony.recording) is one file with the hold's music in it. Moving the caller out to
music on their own channel instead was tried: Asterisk then intermittently stopped
feeding the snoop what the caller hears after the caller rejoined the bridge.

    TALKING --hold--> TALKING+hold --retrieve--> TALKING
    TALKING+hold --warn_after--> warned (screen; "thank you for waiting" to the caller)
    TALKING+hold --max--> returned to the agent (beep) | requeued to the free agents
                        | offered a callback (the IVR's nodes on the caller, in the bridge)
    TALKING+hold+offer --1, number confirmed--> a promise of the agent's; the call ends
    TALKING+hold+offer --no key, another key--> returned to the agent (or requeued if the
                                               agent hung up meanwhile)
    TALKING+hold --agent hangs up--> requeued (the caller is never dropped)
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from telephony.policy import messages as m
from telephony.policy.call_state import CallState, Escalation, HangupBy, Hold, HoldOutcome, Phase

if TYPE_CHECKING:
    from telephony.policy.inbound import InboundPolicy, Result

HOLD_WARN = "hold_warn"
HOLD_MAX = "hold_max"
HOLD_TIMERS = (HOLD_WARN, HOLD_MAX)
MAX_WAIT = "max_wait"  # the same key as the ring policy's longest wait
REASSURANCE = ("sound:queue-thankyou",)  # Asterisk's "thank you for waiting"
BEEP = ("sound:beep",)


def hold(policy: InboundPolicy, state: CallState, event: m.CallEvent, now: datetime) -> Result:
    assert isinstance(event, m.HoldRequested)
    if state.hold is not None or state.bridge_id is None:
        return state, []  # pressed twice: already on hold
    plan = state.plan.hold
    held = Hold(since=now, source=event.source)
    commands: list[m.Command] = []
    if state.agent_channel is not None:
        commands.append(m.LeaveBridge(bridge_id=state.bridge_id, channel_id=state.agent_channel))
    return replace(state, hold=held, bridge_moh=True), [
        *commands,
        m.StartBridgeMoh(bridge_id=state.bridge_id, moh_class=plan.moh_class),
        m.StartTimer(key=HOLD_WARN, at=now + plan.warn_after),
        m.StartTimer(key=HOLD_MAX, at=now + plan.max),
        _record(state, held),
    ]


def retrieve(policy: InboundPolicy, state: CallState, event: m.CallEvent, now: datetime) -> Result:
    assert isinstance(event, m.RetrieveRequested)
    if state.hold is None:
        return state, []  # unhold without hold
    if state.hold.offering:
        return state, []  # the offer's end puts the caller back, unless they take it
    return back_to_agent(state, now, "retrieved")


def back_to_agent(state: CallState, now: datetime, outcome: HoldOutcome) -> Result:
    held, bridge, agent = state.hold, state.bridge_id, state.agent_channel
    assert held is not None and bridge is not None and agent is not None
    commands: list[m.Command] = [
        *(m.CancelTimer(key=k) for k in HOLD_TIMERS),
        m.StopBridgeMoh(bridge_id=bridge),
        # A desk phone's hold may also have started music on the caller's channel.
        m.StopMoh(channel_id=state.caller_channel),
        m.BridgeCall(bridge_id=bridge, channel_ids=(agent,)),
        _record(state, held, now, outcome),
    ]
    if outcome == "returned":  # the agent hears the caller is back
        playback = f"{state.call_id}-back{state.holds + 1}"
        commands.append(m.PlayToBridge(bridge_id=bridge, playback_id=playback, media=BEEP))
    return replace(_ended(state, now), bridge_moh=False), commands


def timer(policy: InboundPolicy, state: CallState, key: str, now: datetime) -> Result:
    held = state.hold
    if held is None:
        return state, []  # retrieved meanwhile
    if key == HOLD_WARN and not held.warned and not held.offering:
        warned = replace(held, warned=True)
        state = replace(state, hold=warned)
        commands: list[m.Command] = [_record(state, warned)]
        if state.plan.hold.reassure and state.bridge_id is not None:
            playback = f"{state.call_id}-hold{state.holds + 1}"
            commands += [
                m.StopBridgeMoh(bridge_id=state.bridge_id),
                m.PlayToBridge(bridge_id=state.bridge_id, playback_id=playback, media=REASSURANCE),
            ]
        return state, commands
    if key == HOLD_MAX and not held.offering:
        if state.plan.hold.on_max == "requeue":
            return requeue(policy, state, now, "requeued")
        if state.plan.hold.on_max == "callback_offer":
            return offer_callback(state)
        return back_to_agent(state, now, "returned")
    return state, []


def offer_callback(state: CallState) -> Result:
    """At the hold's limit the caller is offered a callback instead of a longer wait (the
    playbook: promise a call back within 10-15 minutes). The caller stays in the talk
    bridge (one recording); the agent stays out of it until the offer's end."""
    held, bridge = state.hold, state.bridge_id
    assert held is not None and bridge is not None
    step_id = f"{state.call_id}-holdcb{state.holds + 1}"
    step = {"step": "hold_callback_offer", "ring": None}
    return replace(state, hold=replace(held, offering=True), ivr_step=step_id, bridge_moh=False), [
        m.StopBridgeMoh(bridge_id=bridge),
        m.StopMoh(channel_id=state.caller_channel),  # a desk phone's hold's music
        m.RecordFacts(fields={"escalation": step}),
        m.RunIvrStep(
            step_id=step_id,
            kind="hold_callback_offer",
            channel_id=state.caller_channel,
            agent_id=state.agent_id,
        ),
    ]


def offer_ended(
    policy: InboundPolicy, state: CallState, event: m.CallEvent, now: datetime
) -> Result:
    """The callback offer's end: taken (the call ends, a promise of the agent's), or not
    (back to the agent; to the free agents if the agent hung up meanwhile)."""
    assert isinstance(event, m.IvrStepEnded)
    held = state.hold
    if event.step_id != state.ivr_step or held is None:
        return state, []
    facts: list[m.Command] = [
        m.RecordFacts(fields={"escalation_result": {"result": event.result, **event.detail}})
    ]
    state = replace(state, ivr_step=None, hold=replace(held, offering=False))
    if event.result == "callback":
        closing: list[m.Command] = [
            m.CancelTimer(key=HOLD_WARN),
            _record(state, held, now, "callback"),
            m.RecordFacts(fields={"end_reason": "hold_callback"}),
        ]
        by: HangupBy = "caller" if state.caller_gone else "system"
        new, commands = policy._finish(replace(state, hold=None), now, "answered", by)
        return new, [*facts, *closing, *commands]
    if state.caller_gone or event.result == "abandoned":
        new, commands = policy._finish(state, now, "answered", "caller", hangup_caller=False)
        return new, [*facts, *commands]
    if state.agent_channel is None:  # the agent hung up during the offer
        moh = m.StartBridgeMoh(bridge_id=state.bridge_id or "", moh_class=state.plan.hold.moh_class)
        new, commands = requeue(policy, replace(state, bridge_moh=True), now, "agent_hung_up")
        return new, [*facts, moh, *commands]
    new, commands = back_to_agent(state, now, "returned")
    return new, [*facts, *commands]


def agent_left_during_offer(state: CallState) -> Result:
    """The agent hung up while the caller hears the offer: released now; the offer's end
    decides the caller's way on."""
    assert state.agent_id is not None
    return replace(state, agent_id=None, agent_channel=None), [
        m.ReleaseAgent(agent_id=state.agent_id)
    ]


def reassured(policy: InboundPolicy, state: CallState, event: m.CallEvent, now: datetime) -> Result:
    """The reassurance ended: the music again, if the caller is still on hold (and not
    hearing the callback offer)."""
    if state.hold is None or state.hold.offering or state.bridge_id is None:
        return state, []  # e.g. the beep after a return
    moh = state.plan.hold.moh_class
    return state, [m.StartBridgeMoh(bridge_id=state.bridge_id, moh_class=moh)]


def requeue(policy: InboundPolicy, state: CallState, now: datetime, outcome: HoldOutcome) -> Result:
    """The caller on hold loses their agent: offered to the free agents, the music on
    in the bridge until the next agent answers."""
    held = state.hold
    assert held is not None
    commands: list[m.Command] = [
        *(m.CancelTimer(key=k) for k in HOLD_TIMERS),
        _record(state, held, now, outcome),
        m.RecordFacts(fields={"escalation": {"step": f"hold_{outcome}", "ring": None}}),
    ]
    if state.agent_id is not None:
        if outcome != "agent_hung_up" and state.agent_channel is not None:
            commands.append(m.HangupChannel(channel_id=state.agent_channel))
        commands.append(m.ReleaseAgent(agent_id=state.agent_id))
    commands.append(m.StartTimer(key=MAX_WAIT, at=now + policy.limits.max_wait))
    moh = state.plan.hold.moh_class
    waiting = replace(
        _ended(state, now),
        phase=Phase.WAITING,
        system_answered=True,
        put_through=True,
        queue_step=Escalation("queue", moh_class=moh),
        tried=(),
        agent_id=None,
        agent_channel=None,
    )
    return policy._ask(waiting, commands)


def resume(state: CallState) -> list[m.Command]:
    """The watchdog of a hold found after a restart, timed from the hold's real start."""
    held = state.hold
    if held is None:
        return []
    plan = state.plan.hold
    commands: list[m.Command] = [m.StartTimer(key=HOLD_MAX, at=held.since + plan.max)]
    if not held.warned:
        commands.insert(0, m.StartTimer(key=HOLD_WARN, at=held.since + plan.warn_after))
    return commands


def closing_record(state: CallState, now: datetime, outcome: HoldOutcome) -> list[m.Command]:
    """The call ends while on hold: the hold's record is closed too."""
    if state.hold is None:
        return []
    return [*(m.CancelTimer(key=k) for k in HOLD_TIMERS), _record(state, state.hold, now, outcome)]


def _ended(state: CallState, now: datetime) -> CallState:
    return replace(state, hold=None, holds=state.holds + 1, last_hold_end=now)


def _record(
    state: CallState, held: Hold, ended_at: datetime | None = None, outcome: str | None = None
) -> m.RecordHold:
    over = ended_at is not None and ended_at - held.since > state.plan.hold.warn_after
    return m.RecordHold(
        started_at=held.since,
        source=held.source,
        agent_id=state.agent_id,
        ended_at=ended_at,
        outcome=outcome,
        warned=held.warned,
        over_limit=over,
    )
