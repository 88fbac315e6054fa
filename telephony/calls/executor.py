"""Carries out the policy's commands: ARI requests, the agent pool, the call store.

"404 from ARI means the channel is gone": hanging up or destroying something that no
longer exists is success. A request that fails in a way that leaves the call unsafe
(bridging) becomes an `ActionFailed` event, and the policy hands the caller back to
the dialplan rather than stranding them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import structlog

from telephony.ari import AriError, AriRest, AriUnavailable, Conflict, NotFound
from telephony.ari.punctual import PunctualAnswers
from telephony.calls.legs import bridge_together, create_and_dial
from telephony.calls.presence import AgentPresence
from telephony.calls.queue import QueueInfo
from telephony.calls.session import CallSession
from telephony.calls.shared_commands import NotShared, run_shared
from telephony.policy import messages as m
from telephony.store.holds import HoldStore
from telephony.store.repo import AttemptRecord, CallStore

log = structlog.get_logger("telephony.calls")


class IvrSteps(Protocol):
    """Runs an escalation step with the IVR's nodes (telephony.calls.service); its end
    is fed to the session as `IvrStepEnded`. False: there is no IVR runner."""

    def __call__(self, session: CallSession, step: m.RunIvrStep) -> bool: ...


class Recorder(Protocol):
    """Starts a call's recording (telephony.recording.keeper.RecordingKeeper)."""

    async def start(self, call_id: str, caller_channel: str, did: str = "") -> None: ...


class CommandExecutor:
    def __init__(
        self,
        *,
        rest: AriRest,
        store: CallStore,
        presence: AgentPresence,
        app: str,
        clock: Callable[[], datetime],
        on_end: Callable[[CallSession], None],
        on_agent_channel: Callable[[CallSession, str], None],
        queue: QueueInfo | None = None,
        recorder: Recorder | None = None,
        holds: HoldStore | None = None,
        ivr_steps: IvrSteps | None = None,
        on_escalation: Callable[[str], None] = lambda step: None,
        punctual: PunctualAnswers | None = None,
        # Rides out ~15 s of Asterisk being unreachable (a network blip, the ARI socket
        # cut): the call's own task waits, its events queue up behind, nothing is lost.
        retry_delays: tuple[float, ...] = (0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0),
    ) -> None:
        self._retry_delays = retry_delays
        self._rest = rest
        self._store = store
        self._presence = presence
        self._app = app
        self._clock = clock
        self._on_end = on_end
        self._on_escalation = on_escalation  # told each step's kind as it is taken
        self._on_agent_channel = on_agent_channel
        self._queue = queue or QueueInfo()
        self._recorder = recorder
        self._holds = holds
        self._ivr_steps = ivr_steps
        self._punctual = punctual  # None: every answer is sent when the policy decides it

    async def execute(self, session: CallSession, command: m.Command) -> m.CallEvent | None:
        try:
            return await self._with_retry(session, command)
        except NotFound:
            log.info("call.command_target_gone", command=type(command).__name__)
            return None
        except AriError as error:
            log.error("call.command_failed", command=type(command).__name__, error=str(error))
            if isinstance(command, m.DialAgent):
                return m.AgentLegEnded(channel_id=command.channel_id, reason="dial_failed")
            if isinstance(command, m.BridgeCall):
                return await self._why_bridging_failed(session, command, error)
            return None

    async def _with_retry(self, session: CallSession, command: m.Command) -> m.CallEvent | None:
        """Ride out a short network blip: commands are safe to repeat."""
        for delay in self._retry_delays:
            try:
                return await self._execute(session, command)
            except AriUnavailable as error:
                log.warning(
                    "call.command_retry",
                    command=type(command).__name__,
                    delay=delay,
                    error=str(error),
                )
                await asyncio.sleep(delay)
        return await self._execute(session, command)

    async def _execute(self, session: CallSession, command: m.Command) -> m.CallEvent | None:
        rest = self._rest
        shared = await run_shared(rest, self._presence, session, command)
        if not isinstance(shared, NotShared):
            return shared
        match command:
            case m.RingCaller(channel_id=channel):
                # Not awaited: the agent's dial and the screen pop need not wait for the
                # caller's 180. The answer waits for it (see below).
                session.ringing = asyncio.create_task(self._ring(session, channel))
            case m.AnswerAt(channel_id=channel, at=at):
                if self._punctual is not None:
                    self._punctual.arm(channel, (at - self._clock()).total_seconds())
            case m.AnswerCaller(channel_id=channel):
                if session.ringing is not None:  # a ring after the answer would be a tone
                    await session.ringing
                if not await self._answered_on_time(channel):
                    await rest.answer(channel)
            case m.DialAgent(agent_id=agent, endpoint=endpoint, channel_id=channel):
                structlog.contextvars.bind_contextvars(agent_id=agent)  # this call's task only
                log.info("call.dial_agent", endpoint=endpoint)
                self._on_agent_channel(session, channel)  # before any of its events arrive
                await create_and_dial(
                    rest,
                    app=self._app,
                    endpoint=endpoint,
                    channel_id=channel,
                    app_args=f"agent,{session.call_id}",
                    originator=session.caller_channel,
                )
            case m.BridgeCall(bridge_id=bridge, channel_ids=channels):
                await bridge_together(rest, bridge, list(channels))
                if session.answered_at is None:  # back from hold is not a new answer
                    session.answered_at = self._clock()
                    queued_at = session.facts.get("system_answered_at")
                    if queued_at is not None:  # the wait the next callers are told
                        self._queue.waited((session.answered_at - queued_at).total_seconds())
            case m.LeaveBridge(bridge_id=bridge, channel_id=channel):
                await rest.remove_channel(bridge, channel)
            case m.StartBridgeMoh(bridge_id=bridge, moh_class=moh_class):
                await rest.start_bridge_moh(bridge, moh_class)
            case m.StopBridgeMoh(bridge_id=bridge):
                with contextlib.suppress(Conflict):  # e.g. the reassurance is playing instead
                    await rest.stop_bridge_moh(bridge)
            case m.PlayToBridge(bridge_id=bridge, playback_id=playback, media=media):
                self._on_agent_channel(session, playback)  # its PlaybackFinished comes here
                await rest.play_bridge(bridge, list(media), playback_id=playback)
            case m.RecordHold():
                await self._store_hold(session, command)
            case m.StartRecording(channel_id=channel, name=name):
                if self._recorder is not None:
                    await self._recorder.start(name, channel, session.did)
            case m.ReturnToDialplan(channel_id=channel, label=label):
                self._withdraw_answer(channel)
                await rest.continue_in_dialplan(channel, label=label)
            case m.Announce(channel_id=channel, playback_id=playback):
                self._on_agent_channel(session, playback)  # its PlaybackFinished comes here
                told = self._queue.announcement(session.call_id)
                await rest.play(channel, told, playback_id=playback)
            case m.RunIvrStep(step_id=step_id):
                if self._ivr_steps is None or not self._ivr_steps(session, command):
                    detail = {"error": "no IVR runner"}
                    return m.IvrStepEnded(step_id=step_id, result="failed", detail=detail)
            case m.RecordAttempt():
                await self._store_attempt(session, command)
            case m.RecordFacts(fields=fields):
                await self._store_update(session, fields)
            case m.EndCall(outcome=outcome, hangup_by=hangup_by):
                log.info("call.end", outcome=outcome, hangup_by=hangup_by)
                self._withdraw_answer(session.caller_channel)
                await self._store_update(
                    session, {"ended_at": self._clock(), "outcome": outcome, "hangup_by": hangup_by}
                )
                self._on_end(session)
        return None

    async def _answered_on_time(self, channel: str) -> bool:
        """True if the answer armed for the deadline went and Asterisk took it. Withdrawn
        or failed (it is then sent again as any answer), False."""
        sent = self._punctual.claim(channel) if self._punctual is not None else None
        if sent is None:
            return False
        try:
            await sent
        except AriError as error:
            log.info("call.punctual_answer_failed", error=str(error))
            return False
        return True

    def _withdraw_answer(self, channel: str) -> None:
        if self._punctual is not None:
            self._punctual.withdraw(channel)

    async def _ring(self, session: CallSession, channel: str) -> None:
        """Ring the caller and tell the call when the 180 left: its rings count from there.
        No event says when (the channel's state stays `Ring`): the 180 leaves between the
        request and its answer, which in a burst are ~150 ms apart. The request's start
        is taken: it may make the escalation early, never late (the playbook's limit is
        an upper bound). Measured at 50 callers at once, at the median: the answer's
        arrival made it 82 ms late, the midpoint 10-27 ms late (at 200 callers 1.6 s:
        the answer then waits seconds for the loop), the request's start 16-76 ms early."""
        asked_at = self._clock()
        try:
            await self._rest.ring(channel)
        except AriError as error:  # the caller may have gone already: their call ends
            log.info("call.ring_failed", error=str(error))
            return
        session.feed(m.CallerRingSent(at=asked_at))

    async def _why_bridging_failed(
        self, session: CallSession, command: m.BridgeCall, error: AriError
    ) -> m.CallEvent:
        """A party that just hung up is a hangup, not a fault (ARI says 400 for it)."""
        for channel in command.channel_ids:
            try:
                await self._rest.get_channel(channel)
            except NotFound:
                if channel == session.caller_channel:
                    return m.CallerHungUp()
                return m.AgentLegEnded(channel_id=channel, reason="gone")
            except AriError:
                break
        return m.ActionFailed(what="bridge", detail=str(error))

    async def _store_attempt(self, session: CallSession, attempt: m.RecordAttempt) -> None:
        record = AttemptRecord(**attempt.model_dump())
        session.write_later("attempt", lambda: self._store.add_attempt(session.call_id, record))

    async def _store_hold(self, session: CallSession, hold: m.RecordHold) -> None:
        session.note_hold(hold)
        if self._holds is not None:
            holds = self._holds
            fields = hold.model_dump()
            session.write_later("hold", lambda: holds.record(session.call_id, **fields))

    async def _store_update(self, session: CallSession, fields: dict[str, Any]) -> None:
        if "escalation" in fields:  # steps accumulate: the store keeps the whole list
            session.escalations.append(fields["escalation"])
            self._on_escalation(str(fields["escalation"].get("step", "unknown")))
            fields = {**fields, "escalations": list(session.escalations)}
            del fields["escalation"]
        if "escalation_result" in fields:  # how the latest step ended, on its entry
            if session.escalations:
                latest = {**session.escalations[-1], **fields["escalation_result"]}
                session.escalations[-1] = latest
            fields = {**fields, "escalations": list(session.escalations)}
            del fields["escalation_result"]
        session.note(fields)
        session.write_facts(
            fields, lambda merged: self._store.update_call(session.call_id, **merged)
        )
