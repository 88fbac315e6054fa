"""The IVR walker, pure: `decide(state, event, now) -> (state, commands)`.

No I/O and no clock of its own. The runner (`telephony.calls.ivr`) plays the prompts,
turns the caller's keys, the end of a playback and expired timers into events, and
carries out the commands. Every transition is in `_TABLE`, keyed by what the walker is
waiting for and the event; an event that does not fit raises `IvrError`. A playback or
timer that is no longer the current one is ignored (the runner cannot always withdraw
them in time).

    PROMPT  --PromptDone--> next node (play) | INPUT (menu, language, callback)
    PROMPT  --Keyed-->      buffered (play: keys pressed too early reach the next menu)
                            | barge-in: the prompt stops and the key counts (menu...)
    INPUT   --Keyed-->      a choice: next node | a wrong key: retry prompt, then default
    INPUT   --TimerFired--> retry prompt, then default
    CLOSING --PromptDone--> DONE (hand over)
    any     --CallerHungUp--> DONE (abandoned)

Nodes that do not wait (hours, tag) are passed through at once. Every node entered is a
hop; past `max_hops` the caller is handed to the agents with an alarm, never left in a
loop. A prompt file missing at run time is skipped with an alarm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from telephony.ivr import messages as m
from telephony.ivr.flow import (
    AgentsNode,
    CallbackNode,
    ExternalNode,
    Flow,
    HangupNode,
    HoursNode,
    LanguageNode,
    MenuNode,
    PlayNode,
    Prompt,
    TagNode,
    VoicemailNode,
)
from telephony.ivr.hours import is_open, next_open

MAX_BUFFERED_KEYS = 8
MIN_KEYED_NUMBER = 3
MAX_KEYED_NUMBER = 15


class IvrError(Exception):
    """The walker was fed an event its current wait does not allow."""


class Wait(StrEnum):
    PROMPT = "prompt"  # a prompt is playing
    INPUT = "input"  # waiting for a key, the input timer armed
    CLOSING = "closing"  # a last prompt, then the hand-over
    DONE = "done"


@dataclass(frozen=True)
class IvrState:
    call_id: str
    channel_id: str
    caller_number: str | None
    flow: Flow
    started_at: datetime
    node: str
    wait: Wait = Wait.PROMPT
    language: str = "tr"
    playing: str | None = None
    plays: int = 0
    timer: str | None = None
    timers: int = 0
    retries: int = 0
    buffer: str = ""  # keys pressed before a menu was there to take them
    digits: str = ""  # a callback number being keyed
    keys: str = ""  # every key the caller pressed, in order
    path: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    hops: int = 0
    alarms: tuple[str, ...] = ()
    closing: m.Route | None = None  # where the call goes after the closing prompt
    # A keyed callback number must pass this (e.g. a valid phone number), else it is
    # asked again like a wrong key; None: any 3-15 digits.
    number_ok: Callable[[str], bool] | None = None

    def record(self, now: datetime, result: str) -> dict[str, object]:
        """The IVR part of the call, as stored and shown."""
        return {
            "path": list(self.path),
            "keys": self.keys,
            "tags": list(self.tags),
            "language": self.language,
            "started_at": self.started_at.isoformat(),
            "ended_at": now.isoformat(),
            "seconds": round((now - self.started_at).total_seconds(), 3),
            "result": result,
            "alarms": list(self.alarms),
        }


Result = tuple[IvrState, list[m.IvrCommand]]
Handler = Callable[[IvrState, m.IvrEvent, datetime], Result]


def start(
    flow: Flow,
    *,
    call_id: str,
    channel_id: str,
    caller_number: str | None,
    now: datetime,
    number_ok: Callable[[str], bool] | None = None,
) -> Result:
    """A caller reached a DID with a flow: answer, and walk from the first node."""
    state = IvrState(
        call_id=call_id,
        channel_id=channel_id,
        caller_number=caller_number,
        flow=flow,
        started_at=now,
        node=flow.start,
        language=flow.language,
        number_ok=number_ok,
    )
    return _enter(state, flow.start, now, [m.AnswerCaller(channel_id=channel_id)])


def decide(state: IvrState, event: m.IvrEvent, now: datetime) -> Result:
    if state.wait is Wait.DONE:
        return state, []  # late events after the hand-over change nothing
    handler = _TABLE.get((state.wait, type(event)))
    if handler is None:
        raise IvrError(f"{type(event).__name__} is not expected while waiting for {state.wait}")
    return handler(state, event, now)


# --- walking ------------------------------------------------------------------


def _enter(state: IvrState, node_id: str, now: datetime, commands: list[m.IvrCommand]) -> Result:
    """Go to `node_id` and pass through nodes that do not wait, up to the hop limit."""
    flow = state.flow
    while True:
        hops = state.hops + 1
        if hops > flow.max_hops:
            detail = f"{flow.max_hops} hops without reaching an end (path {'→'.join(state.path)})"
            state = replace(state, alarms=(*state.alarms, "ivr_hop_limit"))
            commands.append(m.Alarm(kind="ivr_hop_limit", detail=detail))
            return _finish(state, m.ToAgents(group="default"), now, commands)
        state = replace(
            state, node=node_id, hops=hops, path=(*state.path, node_id), retries=0, digits=""
        )
        node = flow.nodes[node_id]
        match node:
            case HoursNode():
                node_id = node.open if is_open(node, now, flow.zone) else node.closed
            case TagNode():
                state = replace(state, tags=(*state.tags, node.tag))
                node_id = node.next
            case PlayNode():
                return _play(state, (node.prompt,), Wait.PROMPT, commands)
            case MenuNode() | LanguageNode() | CallbackNode():
                if state.buffer:  # keys pressed too early: this node takes them now
                    key, rest = state.buffer[0], state.buffer[1:]
                    return _input(replace(state, buffer=rest), key, now, commands)
                return _play(state, (_main_prompt(state, node),), Wait.PROMPT, commands)
            case AgentsNode():
                return _finish(state, m.ToAgents(group=node.group), now, commands)
            case VoicemailNode():
                return _close(state, node.prompt, m.ToVoicemail(max_s=node.max_s), now, commands)
            case ExternalNode():
                return _finish(state, m.ToExternal(number=node.number), now, commands)
            case HangupNode():
                return _close(state, node.prompt, m.HangUp(), now, commands)


def _main_prompt(state: IvrState, node: MenuNode | LanguageNode | CallbackNode) -> Prompt:
    if isinstance(node, CallbackNode) and not state.caller_number:
        return node.keyin_prompt  # no Caller ID to confirm: key a number
    return node.prompt


def _play(
    state: IvrState, prompts: tuple[Prompt, ...], wait: Wait, commands: list[m.IvrCommand]
) -> Result:
    plays = state.plays + 1
    playback = f"{state.call_id}-ivr-{plays}"
    commands.append(
        m.PlayPrompts(
            channel_id=state.channel_id,
            playback_id=playback,
            prompts=prompts,
            language=state.language,
            fallback_language=state.flow.language,
        )
    )
    return replace(state, plays=plays, playing=playback, wait=wait), commands


def _arm(state: IvrState, now: datetime, commands: list[m.IvrCommand]) -> Result:
    """Wait for a key for the node's timeout (restarted by every key of a number)."""
    node = state.flow.nodes[state.node]
    assert isinstance(node, MenuNode | LanguageNode | CallbackNode)
    if state.timer is not None:
        commands.append(m.CancelTimer(key=state.timer))
    timers = state.timers + 1
    key = f"input:{timers}"
    commands.append(m.StartTimer(key=key, at=now + timedelta(seconds=node.timeout_s)))
    return replace(state, wait=Wait.INPUT, timer=key, timers=timers), commands


def _disarm(state: IvrState, commands: list[m.IvrCommand]) -> IvrState:
    if state.timer is not None:
        commands.append(m.CancelTimer(key=state.timer))
    return replace(state, timer=None)


def _input(state: IvrState, key: str, now: datetime, commands: list[m.IvrCommand]) -> Result:
    """A key for the node that waits for one (already recorded in `keys`)."""
    node = state.flow.nodes[state.node]
    match node:
        case MenuNode():
            choice = node.choices.get(key)
            if choice is None:
                return _retry(state, "invalid", now, commands)
            if choice.tag is not None:
                state = replace(state, tags=(*state.tags, choice.tag))
            return _enter(state, choice.next, now, commands)
        case LanguageNode():
            language = node.choices.get(key)
            if language is None:
                return _retry(state, "invalid", now, commands)
            return _enter(replace(state, language=language), node.next, now, commands)
        case CallbackNode():
            return _callback_key(state, node, key, now, commands)
    raise IvrError(f"node {state.node!r} ({node.kind}) takes no keys")


def _callback_key(
    state: IvrState, node: CallbackNode, key: str, now: datetime, commands: list[m.IvrCommand]
) -> Result:
    if key == node.confirm_key and not state.digits and state.caller_number:
        route = m.ToCallback(
            number=state.caller_number, confirmed="caller_id", due_at=_due(state, node, now)
        )
        return _close(state, node.done_prompt, route, now, commands)
    if key.isdigit():
        digits = state.digits + key
        if len(digits) > MAX_KEYED_NUMBER:
            return _retry(state, "invalid", now, commands)
        return _arm(replace(state, digits=digits), now, commands)
    if key == "*":  # start the number again
        return _arm(replace(state, digits=""), now, commands)
    usable = state.number_ok is None or state.number_ok(state.digits)
    if key == "#" and MIN_KEYED_NUMBER <= len(state.digits) and usable:
        route = m.ToCallback(number=state.digits, confirmed="keyed", due_at=_due(state, node, now))
        return _close(state, node.done_prompt, route, now, commands)
    return _retry(state, "invalid", now, commands)


def _due(state: IvrState, node: CallbackNode, now: datetime) -> datetime:
    """When the requested callback is due: after the next opening, or from now."""
    start = now
    hours = state.flow.nodes.get(node.after_opening) if node.after_opening else None
    if isinstance(hours, HoursNode):
        start = next_open(hours, now, state.flow.zone)
    return start + timedelta(minutes=node.due_in_minutes)


def _retry(state: IvrState, why: str, now: datetime, commands: list[m.IvrCommand]) -> Result:
    """A wrong key or no key: say so and ask again, `retries` times; then the default."""
    node = state.flow.nodes[state.node]
    assert isinstance(node, MenuNode | LanguageNode | CallbackNode)
    state = replace(_disarm(state, commands), retries=state.retries + 1, buffer="", digits="")
    if state.retries > node.retries:
        match node:
            case MenuNode():
                return _enter(state, node.default, now, commands)
            case LanguageNode():
                return _enter(state, node.next, now, commands)
            case CallbackNode():
                if node.fallback is not None:
                    return _enter(state, node.fallback, now, commands)
                return _finish(state, m.HangUp(), now, commands)
    notice: Prompt | None = None
    if isinstance(node, MenuNode):
        notice = node.invalid_prompt if why == "invalid" else node.timeout_prompt
    elif isinstance(node, CallbackNode) and why == "invalid":
        notice = node.invalid_prompt
    prompts = (notice, _main_prompt(state, node)) if notice else (_main_prompt(state, node),)
    return _play(state, prompts, Wait.PROMPT, commands)


def _close(
    state: IvrState,
    prompt: Prompt | None,
    route: m.Route,
    now: datetime,
    commands: list[m.IvrCommand],
) -> Result:
    state = _disarm(state, commands)
    if prompt is None:
        return _finish(state, route, now, commands)
    state, commands = _play(replace(state, closing=route), (prompt,), Wait.CLOSING, commands)
    return state, commands


def _finish(state: IvrState, route: m.Route, now: datetime, commands: list[m.IvrCommand]) -> Result:
    state = replace(_disarm(state, commands), wait=Wait.DONE, playing=None, closing=None)
    record = state.record(now, route.kind)
    if isinstance(route, m.ToAgents):
        record["group"] = route.group
    commands.append(m.Finish(route=route, record=record))
    return state, commands


# --- handlers -----------------------------------------------------------------


def _prompt_done(state: IvrState, event: m.IvrEvent, now: datetime) -> Result:
    assert isinstance(event, m.PromptDone | m.PromptMissing)
    if event.playback_id != state.playing:
        return state, []  # a prompt stopped by a key, or an older one
    state = replace(state, playing=None)
    node = state.flow.nodes[state.node]
    if isinstance(node, PlayNode):
        return _enter(state, node.next, now, [])
    return _arm(state, now, [])


def _prompt_missing(state: IvrState, event: m.IvrEvent, now: datetime) -> Result:
    """Skip what is missing, with an alarm; never a silent dead end."""
    assert isinstance(event, m.PromptMissing)
    if event.playback_id != state.playing:
        return state, []
    alarm = m.Alarm(
        kind="ivr_prompt_missing",
        detail=f"node {state.node}: {', '.join(event.missing)} not found; skipped",
    )
    state = replace(state, alarms=(*state.alarms, "ivr_prompt_missing"))
    if event.played_rest:
        return state, [alarm]  # the rest plays; its PromptDone moves on
    handler = _closed if state.wait is Wait.CLOSING else _prompt_done
    state, commands = handler(state, event, now)
    return state, [alarm, *commands]


def _key_in_prompt(state: IvrState, event: m.IvrEvent, now: datetime) -> Result:
    assert isinstance(event, m.Keyed)
    state = replace(state, keys=state.keys + event.digit)
    node = state.flow.nodes[state.node]
    if isinstance(node, PlayNode):  # too early: kept for the next node that takes keys
        if len(state.buffer) < MAX_BUFFERED_KEYS:
            state = replace(state, buffer=state.buffer + event.digit)
        return state, []
    commands: list[m.IvrCommand] = []
    if state.playing is not None:
        commands.append(m.StopPrompt(playback_id=state.playing))
    return _input(replace(state, playing=None), event.digit, now, commands)


def _key_waiting(state: IvrState, event: m.IvrEvent, now: datetime) -> Result:
    assert isinstance(event, m.Keyed)
    state = replace(state, keys=state.keys + event.digit)
    return _input(state, event.digit, now, [])


def _timeout(state: IvrState, event: m.IvrEvent, now: datetime) -> Result:
    assert isinstance(event, m.TimerFired)
    if event.key != state.timer:
        return state, []
    return _retry(replace(state, timer=None), "timeout", now, [])


def _closed(state: IvrState, event: m.IvrEvent, now: datetime) -> Result:
    assert isinstance(event, m.PromptDone | m.PromptMissing)
    if event.playback_id != state.playing or state.closing is None:
        return state, []
    return _finish(state, state.closing, now, [])


def _note_key(state: IvrState, event: m.IvrEvent, now: datetime) -> Result:
    assert isinstance(event, m.Keyed)
    return replace(state, keys=state.keys + event.digit), []


def _hung_up(state: IvrState, event: m.IvrEvent, now: datetime) -> Result:
    return _finish(state, m.Abandoned(), now, [])


def _stale(state: IvrState, event: m.IvrEvent, now: datetime) -> Result:
    return state, []


_TABLE: dict[tuple[Wait, type[m.IvrEvent]], Handler] = {
    (Wait.PROMPT, m.PromptDone): _prompt_done,
    (Wait.PROMPT, m.PromptMissing): _prompt_missing,
    (Wait.PROMPT, m.Keyed): _key_in_prompt,
    (Wait.PROMPT, m.TimerFired): _stale,
    (Wait.PROMPT, m.CallerHungUp): _hung_up,
    (Wait.INPUT, m.Keyed): _key_waiting,
    (Wait.INPUT, m.TimerFired): _timeout,
    (Wait.INPUT, m.PromptDone): _stale,
    (Wait.INPUT, m.PromptMissing): _stale,
    (Wait.INPUT, m.CallerHungUp): _hung_up,
    (Wait.CLOSING, m.PromptDone): _closed,
    (Wait.CLOSING, m.PromptMissing): _prompt_missing,
    (Wait.CLOSING, m.Keyed): _note_key,
    (Wait.CLOSING, m.TimerFired): _stale,
    (Wait.CLOSING, m.CallerHungUp): _hung_up,
}
