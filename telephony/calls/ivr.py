"""Runs the IVR walker over ARI for callers whose DID has a flow.

Each caller in the IVR is an `IvrRun` with its own task and event queue (one caller
never waits for another), like a `CallSession`. The run answers, plays the prompts
(`sound:` URIs from `telephony.ivr.sounds`), turns the caller's keys
(ChannelDtmfReceived), the end of playbacks and its timers into walker events, and at
the end hands the call on: to the agents (the inbound ring policy, through
`hand_over`, with the tags and choices on the call), to a callback task, to voicemail
(a recording of the channel, and a task for the agents), to an external number, or
hangs up. The IVR part is stored (`ivr_runs`) whatever the end.

The ring policy's escalation steps (`callback_offer`, `voicemail`, `external`) run here
too (`run_step`), on a caller the call core has answered: the same walker, nodes and
hand-over code, with the flows of `telephony.ivr.escalation`. Such a run is not an IVR
part of the call (nothing in `ivr_runs`): its end is told back to the call (`report`),
which stores it with the call's escalation steps.

DIDs without a flow and without such a step never reach this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from telephony.ari import (
    AriError,
    AriRest,
    CallerId,
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelEnteredBridge,
    ChannelHangupRequest,
    Dial,
    Event,
    NotFound,
    PlaybackFinished,
    RecordingFailed,
    RecordingFinished,
    StasisEnd,
    StasisStart,
)
from telephony.calls.legs import DIAL_ENDED, bridge_together, create_and_dial
from telephony.calls.timers import SessionTimers
from telephony.ivr import messages as m
from telephony.ivr.escalation import FlowStep, step_flow
from telephony.ivr.live import LiveFlows
from telephony.ivr.sounds import Sounds
from telephony.ivr.walker import IvrError, IvrState, decide, start
from telephony.numbers import normalise_number
from telephony.store.callbacks import CallbackStore
from telephony.store.ivr import IvrStore

log = structlog.get_logger("telephony.calls.ivr")

CALLBACK_MAX_ATTEMPTS = 3
# A caller who left a message is called back within the playbook's 10-15 minutes.
VOICEMAIL_CALLBACK = timedelta(minutes=10)
VOICEMAIL_PREFIX = "voicemail-"
# A request about the caller's channel failed with 404: their hangup's event follows
# within this (a channel leaving the app is "not found" before its StasisEnd arrives).
CALLER_GONE_WAIT_S = 2.0
# Q.850 hangup causes of an external leg that never answered -> the Dial status it means.
_HANGUP_CAUSES = {17: "BUSY", 18: "NOANSWER", 19: "NOANSWER", 21: "BUSY"}


_FLOW_STEP: dict[str, FlowStep] = {
    "voicemail": "voicemail",
    "hold_callback_offer": "hold_callback_offer",
}


class HandOver(Protocol):
    """The inbound calls' side: take a caller the IVR is done with (`CallService`)."""

    def hand_over(
        self,
        channel: Channel,
        did: str,
        call_id: str,
        arrived_at: datetime,
        ivr: dict[str, Any],
    ) -> None: ...


AlarmSink = Callable[[str, str, str | None], object]
# How an escalation step ended (see `telephony.policy.messages.IvrStepEnded`), and what
# it did: (result, detail).
StepReport = Callable[[str, dict[str, Any]], None]


def log_alarm(kind: str, detail: str, call_id: str | None) -> None:
    log.error("alarm", kind=kind, detail=detail, alarm_call_id=call_id)


class IvrCalls:
    def __init__(
        self,
        *,
        rest: AriRest,
        flows: LiveFlows,
        sounds: Sounds,
        store: IvrStore,
        callbacks: CallbackStore,
        app: str,
        default_region: str,
        clock: Callable[[], datetime],
        new_call_id: Callable[[datetime], str],
        alarm: AlarmSink = log_alarm,
        trunk: str = "carrier",
    ) -> None:
        self._rest = rest
        self._flows = flows
        self.sounds = sounds
        self._store = store
        self._callbacks = callbacks
        self._app = app
        self._region = default_region
        self._clock = clock
        self._new_call_id = new_call_id
        self._alarm = alarm
        self._trunk = trunk
        self.inbound: HandOver | None = None
        self._runs: dict[str, IvrRun] = {}  # by caller channel
        self._by_resource: dict[str, IvrRun] = {}  # playbacks, recordings, external legs
        # Callers handed to the agents, until they are bridged (see `_bridged`): call id
        # -> caller channel.
        self._handed: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def default_language(self) -> str:
        return "tr" if self._region == "TR" else "en"

    def usable_number(self, number: str) -> bool:
        """A keyed callback number we can call back (checked before thanking the caller)."""
        return normalise_number(number, self._region) is not None

    # --- the hook CallService calls ----------------------------------------------

    def take(self, channel: Channel, did: str) -> bool:
        """Start the IVR for a new caller if `did` has a flow; False: not ours."""
        in_force = self._flows.flow_for(did)
        if in_force is None or self.inbound is None:
            return False
        now = self._clock()
        run = IvrRun(
            owner=self,
            call_id=self._new_call_id(now),
            channel=channel,
            did=did,
            version=in_force.version,
            caller_number=normalise_number(channel.caller.number, self._region),
            arrived_at=now,
        )
        self._runs[channel.id] = run
        state, commands = start(
            in_force.flow,
            call_id=run.call_id,
            channel_id=channel.id,
            caller_number=run.caller_number,
            now=now,
            number_ok=self.usable_number,
        )
        self._spawn(run.run(state, commands))
        log.info("ivr.start", call_id=run.call_id, did=did, version=in_force.version)
        return True

    def run_step(
        self,
        *,
        call_id: str,
        step_id: str,
        kind: str,
        channel_id: str,
        did: str,
        caller_number: str | None,
        caller_name: str,
        dial: str | None,
        language: str | None,
        report: StepReport,
        agent_id: str | None = None,
    ) -> None:
        """Run an escalation step on the call's (answered) caller; `report` is told its
        end once. The language: the caller's IVR choice, else the DID's flow's, else
        the default region's. `agent_id`: the hold's callback offer makes the callback
        a promise of this agent's."""
        now = self._clock()
        in_force = self._flows.flow_for(did)
        language = language or (in_force.flow.language if in_force else self.default_language)
        run = IvrRun(
            owner=self,
            call_id=step_id,
            channel=Channel(id=channel_id, caller=CallerId(name=caller_name)),
            did=did,
            version=0,
            caller_number=caller_number,
            arrived_at=now,
            report=report,
            link_call_id=call_id,
            promise_of=agent_id,
        )
        self._runs[channel_id] = run
        # A caller the IVR handed to the agents heard ringback made in-band; it would
        # drown the step's prompts (and it is not waiting for an agent any more).
        ringing = self._handed.pop(call_id, None) is not None
        log.info("ivr.step", call_id=call_id, step=kind, step_id=step_id, language=language)
        if kind == "external":
            route = m.ToExternal(number=dial or "")
            self._spawn(run.run_route(route, stop_ringing=ringing))
            return
        flow = step_flow(_FLOW_STEP.get(kind, "callback_offer"), language)
        state, commands = start(
            flow,
            call_id=step_id,
            channel_id=channel_id,
            caller_number=caller_number,
            now=now,
            number_ok=self.usable_number,
        )
        self._spawn(run.run(state, commands, stop_ringing=ringing))

    def on_event(self, event: Event) -> bool:
        """Route an event to its run; False: not about a caller in the IVR."""
        if self._handed and isinstance(event, ChannelEnteredBridge | StasisEnd | Dial):
            self._bridged(event)  # the call's own session needs these too: not taken
        if isinstance(event, ChannelDtmfReceived):
            run = self._runs.get(event.channel.id)
            if run is None:
                return False
            run.feed(m.Keyed(digit=event.digit))
            return True
        if isinstance(event, PlaybackFinished):
            run = self._by_resource.pop(event.playback.id, None)
            if run is None:
                return False
            # A playback also "fails" when its caller hangs up; only a file that is not
            # there is a missing prompt (the hangup comes as its own event).
            uri = event.playback.media_uri
            if event.playback.state == "failed" and not self.sounds.uri_exists(uri):
                run.feed(m.PromptMissing(playback_id=event.playback.id, missing=(uri,)))
            else:
                run.feed(m.PromptDone(playback_id=event.playback.id))
            return True
        if isinstance(event, RecordingFinished | RecordingFailed):
            run = self._by_resource.pop(event.recording.name, None)
            if run is None:
                return False
            run.outside_done.set()
            return True
        if isinstance(event, Dial):
            run = self._by_resource.get(event.peer.id)
            if run is None:
                return False
            run.dial_status(event.dialstatus.upper())
            return True
        if isinstance(event, StasisStart):
            return event.channel.id in self._by_resource  # our external leg entering
        if isinstance(event, ChannelHangupRequest) and event.channel.id not in self._runs:
            # An external leg refused before answering: ARI's dial gives no final Dial
            # status then; the hangup's cause says busy or no answer.
            other = self._by_resource.get(event.channel.id)
            status = _HANGUP_CAUSES.get(event.cause or 0)
            if other is not None and status is not None:
                other.dial_status(status)
            return other is not None
        if isinstance(event, StasisEnd | ChannelDestroyed):
            run = self._runs.get(event.channel.id)
            if run is not None:
                run.feed(m.CallerHungUp())
                run.caller_left.set()
                run.outside_done.set()
                return True
            other = self._by_resource.get(event.channel.id)
            if other is not None:
                other.outside_done.set()
                return True
        return False

    def _bridged(self, event: ChannelEnteredBridge | StasisEnd | Dial) -> None:
        """An answered caller handed to the agents hears ringback made by Asterisk
        in-band (ringing indicated on an answered channel plays the tone); that tone
        generator keeps the caller's voice from the bridge, so it is stopped when an
        agent answers (before the bridge) and again once the caller is bridged."""
        if isinstance(event, Dial):
            call_id = event.peer.id.split("-agent-")[0]
            if event.dialstatus.upper() == "ANSWER" and call_id in self._handed:
                self._spawn(self._stop_ringing(self._handed[call_id]))
            return
        channel = event.channel
        if channel is None:
            return
        for call_id, caller in list(self._handed.items()):
            if caller == channel.id:
                del self._handed[call_id]
                if isinstance(event, ChannelEnteredBridge):
                    self._spawn(self._stop_ringing(caller))
                else:  # gone before an agent answered: the bridge made for it goes too
                    self._spawn(self._destroy_bridge(call_id))

    async def _destroy_bridge(self, bridge_id: str) -> None:
        with contextlib.suppress(AriError):
            await self._rest.destroy_bridge(bridge_id)

    async def _stop_ringing(self, channel_id: str) -> None:
        try:
            await self._rest.ring_stop(channel_id)
        except AriError as error:
            log.info("ivr.ring_stop_failed", channel_id=channel_id, error=str(error))

    def owns(self, resource_id: str) -> bool:
        return (
            resource_id in self._runs
            or resource_id in self._by_resource
            or resource_id in self._handed  # the bridge made for a handed-over call
        )

    def catch_up(self, channel_ids: set[str]) -> None:
        """After a reconnect: callers that left meanwhile have hung up."""
        for channel, run in list(self._runs.items()):
            if channel not in channel_ids:
                run.feed(m.CallerHungUp())
                run.caller_left.set()
                run.outside_done.set()

    def live(self) -> list[dict[str, Any]]:
        """Callers in a call flow (a step's caller is shown by its call)."""
        return [run.snapshot() for run in self._runs.values() if run.report is None]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Bridges made for calls not bridged yet would outlive us, empty.
        for call_id in list(self._handed):
            await self._destroy_bridge(call_id)
        self._handed.clear()

    # --- used by the runs ------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _release(self, run: IvrRun) -> None:
        if self._runs.get(run.channel.id) is run:  # not the caller's next step's run
            del self._runs[run.channel.id]
        for resource, owner in list(self._by_resource.items()):
            if owner is run:
                del self._by_resource[resource]


class IvrRun:
    """One caller in the IVR: events in order through the walker, commands carried out."""

    def __init__(
        self,
        *,
        owner: IvrCalls,
        call_id: str,
        channel: Channel,
        did: str,
        version: int,
        caller_number: str | None,
        arrived_at: datetime,
        report: StepReport | None = None,
        link_call_id: str | None = None,
        promise_of: str | None = None,
    ) -> None:
        self.owner = owner
        # An escalation step: its end is told to the call, not stored as an IVR run.
        self.report = report
        self.link_call_id = link_call_id  # the call a step's callback task belongs to
        self.promise_of = promise_of  # the agent whose promise a step's callback is
        self.call_id = call_id
        self.channel = channel
        self.did = did
        self.version = version
        self.caller_number = caller_number
        self.arrived_at = arrived_at
        self.state: IvrState | None = None
        self._queue: asyncio.Queue[m.IvrEvent] = asyncio.Queue()
        self._timers = SessionTimers(owner._clock, lambda key: self.feed(m.TimerFired(key=key)))
        self.outside_done = asyncio.Event()  # voicemail recorded, or the far end gone
        self.caller_left = asyncio.Event()  # the caller's channel left our app
        self._dial: asyncio.Queue[str] = asyncio.Queue()

    def feed(self, event: m.IvrEvent) -> None:
        self._queue.put_nowait(event)

    def dial_status(self, status: str) -> None:
        self._dial.put_nowait(status)

    def snapshot(self) -> dict[str, Any]:
        state = self.state
        return {
            "id": self.call_id,
            "did": self.did,
            "caller_number": self.caller_number,
            "caller_name": self.channel.caller.name,
            "phase": "ivr",
            "arrived_at": self.arrived_at.isoformat(),
            "ivr": {
                "node": state.node if state else None,
                "path": list(state.path) if state else [],
                "keys": state.keys if state else "",
                "tags": list(state.tags) if state else [],
            },
        }

    async def run(
        self, state: IvrState, commands: list[m.IvrCommand], *, stop_ringing: bool = False
    ) -> None:
        structlog.contextvars.bind_contextvars(call_id=self.call_id, channel_id=self.channel.id)
        self.state = state
        try:
            if stop_ringing:
                await self._stop_ringing()
            # Answers to commands (a prompt that could not play) come before queued events.
            pending = await self._execute_all(commands)
            while state.wait != "done":
                if not pending:
                    pending.append(await self._queue.get())
                event = pending.pop(0)
                try:
                    state, commands = decide(state, event, self.owner._clock())
                except IvrError as error:
                    log.error("ivr.walker_error", error=str(error))
                    continue
                self.state = state
                pending += await self._execute_all(commands)
        finally:
            self._timers.cancel_all()
            self.owner._release(self)

    async def run_route(self, route: m.Route, *, stop_ringing: bool = False) -> None:
        """A step without prompts or keys (the external number): straight to its end."""
        structlog.contextvars.bind_contextvars(call_id=self.call_id, channel_id=self.channel.id)
        now = self.owner._clock()
        record = {"path": [route.kind], "keys": "", "seconds": 0.0, "started_at": now}
        try:
            if stop_ringing:
                await self._stop_ringing()
            await self._finish(route, record)
        finally:
            self.owner._release(self)

    async def _stop_ringing(self) -> None:
        with contextlib.suppress(AriError):
            await self.owner._rest.ring_stop(self.channel.id)

    async def _execute_all(self, commands: list[m.IvrCommand]) -> list[m.IvrEvent]:
        answers: list[m.IvrEvent] = []
        for command in commands:
            try:
                answer = await self._execute(command)
            except NotFound:  # 404: the caller's channel is gone
                log.info("ivr.command_target_gone", command=type(command).__name__)
                if isinstance(command, m.AnswerCaller | m.PlayPrompts):
                    answers.append(m.CallerHungUp())
                continue
            except AriError as error:
                log.error("ivr.command_failed", command=type(command).__name__, error=str(error))
                if isinstance(command, m.PlayPrompts):  # never a silent dead end
                    answer = m.PromptMissing(
                        playback_id=command.playback_id, missing=(f"play failed: {error}",)
                    )
                else:
                    continue
            if answer is not None:
                answers.append(answer)
        return answers

    async def _execute(self, command: m.IvrCommand) -> m.IvrEvent | None:
        rest = self.owner._rest
        match command:
            case m.AnswerCaller(channel_id=channel):
                await rest.answer(channel)
            case m.PlayPrompts():
                return await self._play(command)
            case m.StopPrompt(playback_id=playback):
                self.owner._by_resource.pop(playback, None)
                with contextlib.suppress(NotFound):
                    await rest.stop_playback(playback)
            case m.StartTimer(key=key, at=at):
                self._timers.start(key, at)
            case m.CancelTimer(key=key):
                self._timers.cancel(key)
            case m.Alarm(kind=kind, detail=detail):
                self.owner._alarm(kind, f"DID {self.did}: {detail}", self.call_id)
            case m.Finish(route=route, record=record):
                await self._finish(route, record)
        return None

    async def _play(self, command: m.PlayPrompts) -> m.IvrEvent | None:
        resolved = await self.owner.sounds.resolve(
            command.prompts, command.language, command.fallback_language
        )
        missing = tuple(resolved.missing)
        if not resolved.media:
            return m.PromptMissing(playback_id=command.playback_id, missing=missing or ("-",))
        self.owner._by_resource[command.playback_id] = self  # before its events can arrive
        await self.owner._rest.play(
            command.channel_id, resolved.media, playback_id=command.playback_id
        )
        if missing:
            return m.PromptMissing(
                playback_id=command.playback_id, missing=missing, played_rest=True
            )
        return None

    # --- the hand-over ------------------------------------------------------------

    async def _finish(self, route: m.Route, record: dict[str, Any]) -> None:
        log.info("ivr.finish", route=route.kind, path=record["path"], keys=record["keys"])
        if self.report is not None:
            await self._hand_back(route, record, self.report)
            return
        detail: dict[str, Any] = {}
        rest = self.owner._rest
        owner = self.owner
        try:
            match route:
                case m.ToAgents(group=group):
                    detail = {"group": group}
                    owner._release(self)  # the call's events go to its CallSession now
                    owner._handed[self.call_id] = self.channel.id
                    tags = record["tags"]
                    assert owner.inbound is not None
                    owner.inbound.hand_over(
                        self.channel,
                        self.did,
                        self.call_id,
                        self.arrived_at,
                        {
                            "group": group,
                            "tag": tags[-1] if tags else None,
                            "tags": tags,
                            "language": record["language"],
                            "path": record["path"],
                            "keys": record["keys"],
                            "seconds": record["seconds"],
                        },
                    )
                case m.ToCallback():
                    detail = await self._callback(route)
                    await rest.hangup(self.channel.id)
                case m.ToVoicemail(max_s=max_s):
                    detail = await self._voicemail(max_s)
                case m.ToExternal(number=number):
                    detail = await self._external(number)
                case m.HangUp():
                    await rest.hangup(self.channel.id)
                case m.Abandoned():
                    pass
        except AriError as error:
            log.info("ivr.hand_over_failed", route=route.kind, error=str(error))
            detail = {**detail, "error": str(error)[:200]}
        finally:
            try:
                await owner._store.record_run(
                    call_id=self.call_id,
                    did=self.did,
                    flow_version=self.version,
                    caller_number=self.caller_number,
                    record=record,
                    detail=detail,
                )
            except Exception as error:  # a storage fault must not touch the call
                log.error("store.write_failed", write="ivr_run", error=repr(error))

    async def _hand_back(self, route: m.Route, record: dict[str, Any], report: StepReport) -> None:
        """An escalation step's end: the node's own action, then the call is told (once,
        whatever happens here). The caller's hangup events come to this run until it
        ends, so the call learns what the step did before it can see the hangup."""
        result = "failed"
        detail: dict[str, Any] = {}
        rest = self.owner._rest
        try:
            match route:
                case m.ToAgents() | m.HangUp():
                    result = "declined"  # the call's ring policy takes the next step
                case m.ToCallback():
                    detail = await self._callback(route)
                    result = "callback" if "callback_id" in detail else "declined"
                case m.ToVoicemail(max_s=max_s):
                    detail = await self._voicemail(max_s)
                    result = "voicemail"
                case m.ToExternal(number=number):
                    detail = await self._external(number)
                    result = "external"
                case m.Abandoned():
                    result = "abandoned"
        except AriError as error:
            log.info("ivr.step_failed", route=route.kind, error=str(error))
            detail = {**detail, "error": str(error)[:200]}
            if isinstance(error, NotFound) and await self._caller_gone():
                result = "abandoned"  # e.g. hung up as the voicemail's prompt ended
        except Exception as error:  # a store fault: the call is still told
            log.error("ivr.step_failed", route=route.kind, error=repr(error))
            detail = {**detail, "error": repr(error)[:200]}
        finally:
            seen: dict[str, Any] = {
                k: record[k] for k in ("path", "keys", "seconds") if k in record
            }
            report(result, {**seen, **detail})
        if result == "callback":
            with contextlib.suppress(AriError):
                await rest.hangup(self.channel.id)

    async def _caller_gone(self) -> bool:
        """After a 404: the caller hung up (their StasisEnd may come just after it)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.caller_left.wait(), CALLER_GONE_WAIT_S)
        return self.caller_left.is_set()

    async def _callback(self, route: m.ToCallback) -> dict[str, Any]:
        number = normalise_number(route.number, self.owner._region)
        if number is None:
            self.owner._alarm("ivr_callback_number", f"unusable number {route.number!r}", None)
            return {"number": route.number, "error": "unusable number"}
        task = await self.owner._callbacks.create(
            number=number,
            did=self.did,
            due_at=route.due_at,
            max_attempts=CALLBACK_MAX_ATTEMPTS,
            created_by="ivr" if self.promise_of is None else "hold_offer",
            call_id=self.link_call_id,
            agent_id=self.promise_of,
            promise=self.promise_of is not None,
        )
        log.info("ivr.callback_created", callback_id=task.id, confirmed=route.confirmed)
        return {
            "callback_id": task.id,
            "number": number,
            "confirmed": route.confirmed,
            "due_at": route.due_at.isoformat(),
        }

    async def _voicemail(self, max_s: int) -> dict[str, Any]:
        """Record the caller (a beep first; `#` or hanging up ends it), then a task for the
        agents to call back, when the Caller ID allows."""
        rest = self.owner._rest
        name = f"{VOICEMAIL_PREFIX}{self.call_id}"
        self.outside_done.clear()
        self.owner._by_resource[name] = self
        await rest.record_channel(
            self.channel.id,
            name,
            format="wav",
            beep=True,
            max_duration_seconds=max_s,
            terminate_on="#",
            if_exists="overwrite",
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.outside_done.wait(), max_s + 10)
        with contextlib.suppress(AriError):
            await rest.hangup(self.channel.id)
        detail: dict[str, Any] = {"recording": name}
        if self.caller_number:
            task = await self.owner._callbacks.create(
                number=self.caller_number,
                did=self.did,
                due_at=self.owner._clock() + VOICEMAIL_CALLBACK,
                max_attempts=CALLBACK_MAX_ATTEMPTS,
                created_by="voicemail",
                call_id=self.link_call_id,
            )
            detail["callback_id"] = task.id
        return detail

    async def _external(self, number: str) -> dict[str, Any]:
        """Dial the number through the carrier trunk (a step may give a dial string,
        validated by the ring policy: dialled as it is) and bridge the caller to it."""
        rest = self.owner._rest
        leg = f"{self.call_id}-ext-{secrets.token_hex(2)}"
        self.owner._by_resource[leg] = self
        self.outside_done.clear()
        if "/" in number:
            endpoint = number
        else:
            endpoint = f"PJSIP/{number.lstrip('+')}@{self.owner._trunk}"
        await rest.ring(self.channel.id)
        await create_and_dial(
            rest,
            app=self.owner._app,
            endpoint=endpoint,
            channel_id=leg,
            app_args=f"ivr-external,{self.call_id}",
            originator=self.channel.id,
        )
        status = ""
        while status not in DIAL_ENDED and status != "ANSWER":
            getter = asyncio.ensure_future(self._dial.get())
            gone = asyncio.ensure_future(self.outside_done.wait())
            done, _ = await asyncio.wait({getter, gone}, return_when=asyncio.FIRST_COMPLETED)
            for waiter in (getter, gone):
                if waiter not in done:
                    waiter.cancel()
            if getter in done:
                status = getter.result()
            else:
                break
        if status != "ANSWER":
            for channel in (leg, self.channel.id):
                with contextlib.suppress(AriError):
                    await rest.hangup(channel)
            return {"number": number, "status": status.lower() or "gone"}
        bridge = f"{self.call_id}-ext"
        self.owner._by_resource[bridge] = self
        await bridge_together(rest, bridge, [self.channel.id, leg])
        self.outside_done.clear()
        await self.outside_done.wait()  # either side hangs up
        for channel in (leg, self.channel.id):
            with contextlib.suppress(AriError):
                await rest.hangup(channel)
        with contextlib.suppress(AriError):
            await rest.destroy_bridge(bridge)
        return {"number": number, "status": "answered"}
