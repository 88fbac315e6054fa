"""Routes ARI events to the call they belong to, and rebuilds calls after a reconnect.

Each call is a `CallSession` with its own task; this module only translates Asterisk's
events into the policy's events and enqueues them, so one slow call never delays
another. After every (re)connect the calls are reconciled with what Asterisk has:
events lost while the socket was down are replaced by what `/channels` and `/bridges`
show now, calls of an earlier process are adopted, orphans are removed.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from telephony.ari import (
    AriError,
    AriRest,
    Bridge,
    Channel,
    ChannelDestroyed,
    ChannelHold,
    ChannelUnhold,
    Dial,
    Event,
    PlaybackFinished,
    RecordingFailed,
    RecordingFinished,
    StasisEnd,
    StasisStart,
)
from telephony.ari.punctual import PunctualAnswers
from telephony.calls.executor import CommandExecutor
from telephony.calls.legs import DIAL_ENDED
from telephony.calls.presence import AgentPresence
from telephony.calls.queue import QueueInfo
from telephony.calls.session import CallSession
from telephony.numbers import normalise_number
from telephony.policy import messages as m
from telephony.policy.inbound import Hold, InboundPolicy, Phase, RingPlan, event_time
from telephony.recording.keeper import RecordingKeeper, is_recording_channel
from telephony.store.holds import HoldStore
from telephony.store.repo import CallRecord, CallStore
from telephony.store.retry import WRITE_FLUSH_S
from telephony.store.writer import StoreWriter

log = structlog.get_logger("telephony.calls")

# Event types no part of the service reads: Asterisk is asked not to send them to our
# app (a call's ~58 events were 30 ChannelVarset and ~10 more of these), sparing its
# websocket writes and our parsing, which at 200 calls at once are loop time the
# deadlines wait for. A handler for one of these must take it off this list.
UNREAD_EVENTS = (
    "ChannelVarset",
    "ChannelStateChange",
    "ChannelDialplan",
    "ChannelConnectedLine",
    "ChannelCallerId",
    "ChannelLeftBridge",
    "ChannelTalkingStarted",
    "ChannelTalkingFinished",
    "BridgeCreated",
    "BridgeDestroyed",
    "BridgeMerged",
    "RecordingStarted",
)


class OutboundHook(Protocol):
    """The outbound calls' side of event routing and reconcile (telephony.calls.outbound)."""

    def on_event(self, event: Event) -> bool: ...

    def owns(self, resource_id: str) -> bool: ...

    def catch_up(self, channel_ids: set[str]) -> None: ...


class IvrHook(OutboundHook, Protocol):
    """The IVR's side (telephony.calls.ivr): `take` a new caller whose DID has a flow;
    `run_step` an escalation step with its nodes."""

    def take(self, channel: Channel, did: str) -> bool: ...

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
        report: Callable[[str, dict[str, Any]], None],
        agent_id: str | None = None,
    ) -> None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_call_id(now: datetime) -> str:
    """Sortable by arrival, unique without coordination."""
    return f"{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"


class CallService:
    def __init__(
        self,
        *,
        rest: AriRest,
        store: CallStore,
        presence: AgentPresence,
        policy: InboundPolicy,
        app: str,
        default_region: str,
        plan_for: Callable[[str, str | None], RingPlan] = lambda did, caller: RingPlan(),
        clock: Callable[[], datetime] = utc_now,
        recorder: RecordingKeeper | None = None,
        holds: HoldStore | None = None,
        writer: StoreWriter,
        punctual: PunctualAnswers | None = None,
    ) -> None:
        """`plan_for(did, caller_e164)` resolves a new call's ring policy (read per call,
        so a policy change applies to new calls at once and never to calls in progress)."""
        self._rest = rest
        self._store = store
        self._pool = presence.pool
        self.presence = presence
        self._policy = policy
        self._app = app
        self._region = default_region
        self._clock = clock
        self._plan_for = plan_for
        self._recorder = recorder
        self._pbx_started: str | None = None  # Asterisk's startup time, as last seen
        self._holds = holds
        self._sessions: dict[str, CallSession] = {}
        self._by_channel: dict[str, CallSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._writer = writer  # every call's and recording's store writes, batched
        # True once state has been rebuilt after the latest (re)connect.
        self.reconciled = False
        # Outbound legs are routed there first; None: inbound only.
        self.outbound: OutboundHook | None = None
        # Callers of DIDs with a call flow go through the IVR first; None: no IVR.
        self.ivr: IvrHook | None = None
        # Told of every call's state changes (the agents' screens); must not block.
        self.on_change: Callable[[CallSession], None] = lambda session: None
        # Told the kind of each escalation step as a call takes it (the metrics).
        self.on_escalation: Callable[[str], None] = lambda step: None
        self.queue = QueueInfo(self.queue_position)
        self._executor = CommandExecutor(
            rest=rest,
            store=store,
            presence=presence,
            app=app,
            clock=clock,
            on_end=self._forget,
            on_agent_channel=self.track_agent_channel,
            queue=self.queue,
            recorder=recorder,
            holds=holds,
            ivr_steps=self._run_ivr_step,
            on_escalation=lambda step: self.on_escalation(step),
            punctual=punctual,
        )

    # --- events -----------------------------------------------------------------

    async def on_event(self, event: Event) -> None:
        if self.outbound is not None and self.outbound.on_event(event):
            return
        if self.ivr is not None and self.ivr.on_event(event):
            return
        if isinstance(event, StasisStart):
            if event.args[:1] == ["inbound"]:
                did = event.args[1] if len(event.args) > 1 else ""
                did = did or _exten(event.channel)
                if self.ivr is None or not self.ivr.take(event.channel, did):
                    # `inbound,DID,ringing`: the dialplan sent the 180 (`Ringing()`) just
                    # before, in the caller's own thread; this event's stamp is when.
                    rang = event.args[2:3] == ["ringing"]
                    rang_at = event_time(event.timestamp, self._clock()) if rang else None
                    self._arrive(event.channel, did, rang_at=rang_at)
            return  # agent legs are known already: we chose their channel ids
        if isinstance(event, Dial):
            self._dial_progress(event)
        elif isinstance(event, PlaybackFinished):
            session = self._by_channel.pop(event.playback.id, None)
            if session is not None:
                session.feed(m.AnnouncementDone())
        elif isinstance(event, StasisEnd | ChannelDestroyed):
            self._channel_gone(event.channel.id, getattr(event, "cause_txt", ""))
        elif isinstance(event, ChannelHold | ChannelUnhold):
            self._phone_hold(event.channel.id, isinstance(event, ChannelHold))
        elif isinstance(event, RecordingFinished) and self._recorder is not None:
            self._recorder.finished(event.recording.name)
        elif isinstance(event, RecordingFailed) and self._recorder is not None:
            self._spawn(self._recorder.failed(event.recording.name, event.recording.cause or ""))

    def _dial_progress(self, event: Dial) -> None:
        channel = event.peer.id
        session = self._by_channel.get(channel)
        if session is None:
            return
        status = event.dialstatus.upper()
        if status == "RINGING":
            session.feed(m.AgentRinging(channel_id=channel, at=event.timestamp))
        elif status == "ANSWER":
            session.feed(m.AgentAnswered(channel_id=channel))
        elif status in DIAL_ENDED:
            session.feed(m.AgentLegEnded(channel_id=channel, reason=status.lower()))

    def _channel_gone(self, channel: str, reason: str) -> None:
        session = self._by_channel.get(channel)
        if session is None:
            return
        if channel == session.caller_channel:
            session.feed(m.CallerHungUp())
        else:
            session.feed(m.AgentLegEnded(channel_id=channel, reason=reason or "hangup"))

    # --- sessions -----------------------------------------------------------------

    def _arrive(
        self,
        channel: Channel,
        did: str,
        call_id: str | None = None,
        *,
        rang_at: datetime | None = None,
    ) -> None:
        now = rang_at or self._clock()  # the caller was there when the dialplan rang them
        session = self._session(call_id or new_call_id(now), channel, did, arrived_at=now)
        session.rang_at = rang_at
        self._spawn(self._record_arrival_then_run(session, channel, fresh=call_id is None))

    def hand_over(
        self, channel: Channel, did: str, call_id: str, arrived_at: datetime, ivr: dict[str, Any]
    ) -> None:
        """The IVR is done with a caller: the call goes to the agents as if it had just
        arrived (its arrival time kept), with the IVR's choices on it for the pop."""
        session = self._session(call_id, channel, did, arrived_at=arrived_at)
        session.ivr = ivr
        group = ivr.get("group")
        if isinstance(group, str) and session.plan is not None:  # the agents of that group
            session.plan = replace(session.plan, group=group)
        self._spawn(self._record_arrival_then_run(session, channel, fresh=True))

    def _run_ivr_step(self, session: CallSession, step: m.RunIvrStep) -> bool:
        """An escalation step through the IVR's nodes; its end comes back to the call
        as `IvrStepEnded`. False: no IVR here (the policy serves the caller otherwise)."""
        if self.ivr is None:
            return False

        def report(result: str, detail: dict[str, Any]) -> None:
            ended = m.IvrStepEnded.model_validate(
                {"step_id": step.step_id, "result": result, "detail": detail}
            )
            session.feed(ended)

        language = session.ivr.get("language") if session.ivr else None
        self.ivr.run_step(
            call_id=session.call_id,
            step_id=step.step_id,
            kind=step.kind,
            channel_id=step.channel_id,
            did=session.did,
            caller_number=session.caller_number,
            caller_name=session.caller_name,
            dial=step.dial,
            language=language if isinstance(language, str) else None,
            report=report,
            agent_id=step.agent_id,
        )
        return True

    def _session(
        self, call_id: str, channel: Channel, did: str, *, arrived_at: datetime
    ) -> CallSession:
        number = normalise_number(channel.caller.number, self._region)
        self._writer.start()  # runs as long as this service (a no-op once running)
        session = CallSession(
            call_id=call_id,
            caller_channel=channel.id,
            did=did,
            caller_number=number,
            caller_name=channel.caller.name,
            arrived_at=arrived_at,
            policy=self._policy,
            executor=self._executor,
            clock=self._clock,
            plan=self._plan_for(did, number),
            writer=self._writer,
            on_change=lambda changed: self.on_change(changed),
        )
        self._sessions[call_id] = session
        self._by_channel[channel.id] = session
        return session

    async def _record_arrival_then_run(
        self, session: CallSession, channel: Channel, *, fresh: bool
    ) -> None:
        if fresh:  # the first write of the call; ringing does not wait for it
            session.write_later(
                "arrival",
                lambda: self._store.call_arrived(
                    call_id=session.call_id,
                    did=session.did,
                    caller_number_raw=channel.caller.number,
                    caller_name_raw=channel.caller.name,
                    caller_channel_id=channel.id,
                    arrived_at=session.arrived_at,
                ),
            )
        await session.run()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("call.task_crashed", error=repr(task.exception()), exc_info=task.exception())

    def _forget(self, session: CallSession) -> None:
        self._sessions.pop(session.call_id, None)
        for channel, owner in list(self._by_channel.items()):
            if owner is session:
                del self._by_channel[channel]

    def track_agent_channel(self, session: CallSession, channel: str) -> None:
        self._by_channel[channel] = session

    def queue_position(self, call_id: str) -> int:
        """1 + the callers held in the queue who arrived before this one."""
        me = self._sessions.get(call_id)
        if me is None:
            return 1
        queued = [
            s
            for s in self._sessions.values()
            if s.state is not None
            and s.state.system_answered
            # Not talking, and not with an IVR step (an offer, a voicemail) either.
            and s.state.phase in (Phase.WAITING, Phase.OFFERING)
        ]
        return 1 + sum(1 for s in queued if s.arrived_at < me.arrived_at)

    def pool_snapshot(self) -> list[dict[str, Any]]:
        return self._pool.snapshot()

    def live_calls(self) -> list[dict[str, Any]]:
        return [s.snapshot() for s in self._sessions.values() if not s.ended]

    def writes_pending(self) -> int:
        """Store writes queued or running (an ended call's may be behind)."""
        return self._writer.pending

    async def close(self) -> None:
        """Stop our tasks; the calls themselves go on in Asterisk and are adopted later."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # What the calls still had to store is written before the database closes.
        await self._writer.close(WRITE_FLUSH_S)

    # --- reconcile ------------------------------------------------------------------

    async def on_connect(self) -> None:
        """Rebuild state from Asterisk: lost hangups, calls of an earlier process, orphans."""
        self._writer.start()  # outbound calls and recordings write too, before any inbound
        await self._drop_unread_events()
        try:
            restarted = await self._pbx_restarted()
            channels = {c.id: c for c in await self._rest.list_channels()}
            bridges = {b.id: b for b in await self._rest.list_bridges()}
            app = await self._rest.get_application(self._app)
            open_calls = await self._store.open_calls()
        except (AriError, OSError) as error:
            log.error("reconcile.failed", error=str(error))
            return
        for session in list(self._sessions.values()):
            self._catch_up(session, channels, restarted)
        if self.outbound is not None:
            self.outbound.catch_up(set(channels))
        if self.ivr is not None:
            self.ivr.catch_up(set(channels))
        for record in open_calls:
            if record.id not in self._sessions:
                await self._adopt_or_close(record, channels, bridges, restarted)
        await self._remove_orphans(set(app.channel_ids), set(app.bridge_ids), channels)
        if self._recorder is not None:  # recordings of calls that ended meanwhile
            await self._recorder.sweep(set(channels))
        self.reconciled = True
        log.info("reconcile.done", live_calls=len(self._sessions), channels=len(app.channel_ids))

    async def _drop_unread_events(self) -> None:
        try:
            await self._rest.filter_events(self._app, disallowed=UNREAD_EVENTS)
        except (AriError, OSError) as error:  # all events come, as before: only slower
            log.warning("ari.event_filter_failed", error=str(error))

    async def on_disconnect(self) -> None:
        """Calls stay up in Asterisk; their events are lost until the next reconcile."""
        self.reconciled = False
        log.warning("ari.disconnected", live_calls=len(self._sessions))

    async def _pbx_restarted(self) -> bool:
        """True when Asterisk started again since we last saw it (its calls are gone)."""
        info = await self._rest.asterisk_info()
        status = info.get("status")
        started = status.get("startup_time") if isinstance(status, dict) else None
        before, self._pbx_started = self._pbx_started, started
        return before is not None and started is not None and started != before

    def _catch_up(
        self, session: CallSession, channels: dict[str, Channel], restarted: bool
    ) -> None:
        state = session.state
        if session.caller_channel not in channels:
            session.feed(m.CallLost(reason="pbx_restarted") if restarted else m.CallerHungUp())
            if self._recorder is not None:  # when it really ended, its recording knows
                self._recorder.end_unseen(session.call_id)
        elif state is not None and state.agent_channel and state.agent_channel not in channels:
            session.feed(m.AgentLegEnded(channel_id=state.agent_channel, reason="gone"))

    async def _adopt_or_close(
        self,
        record: CallRecord,
        channels: dict[str, Channel],
        bridges: dict[str, Bridge],
        restarted: bool = False,
    ) -> None:
        """A call an earlier process left open: Asterisk's view decides what it is now."""
        caller = channels.get(record.caller_channel_id)
        if caller is None:
            outcome = "answered" if record.answered_at else "abandoned"
            log.info("reconcile.closed", call_id=record.id, outcome=outcome)
            await self._store.update_call(
                record.id,
                ended_at=self._clock(),
                outcome=outcome,
                hangup_by="system",
                end_reason="pbx_restarted" if restarted else "ended_while_down",
            )
            if self._recorder is not None:  # its recording knows when it really ended
                self._recorder.end_unseen(record.id)
            return
        bridge = bridges.get(record.id)  # the bridge id is the call id
        agent_id, agent_channel = record.agent_id, record.agent_channel_id
        on_hold = await self._open_hold(record.id)
        members = set(bridge.channels) if bridge is not None else set()
        agent_there = agent_channel in members
        if (
            bridge is not None
            and agent_id is not None
            and agent_channel is not None
            and caller.id in members
            # On hold the agent is out of the bridge (the caller hears its music).
            and (agent_there or (on_hold is not None and agent_channel in channels))
            and self._pool.get(agent_id) is not None
        ):
            session = self._session(record.id, caller, record.did, arrived_at=record.arrived_at)
            session.answered_at = record.answered_at
            self._by_channel[agent_channel] = session
            self._pool.mark_busy(agent_id, record.id)
            state, resume = self._policy.adopt_talking(
                record.id,
                caller.id,
                agent_id,
                agent_channel,
                bridge.id,
                ringing_since=record.ringing_at or record.arrived_at,
                plan=session.plan,
                on_hold=None if agent_there else on_hold,
            )
            # Known at once (the task starts later): the orphan sweep keeps its bridge.
            session.state = state
            self._spawn(session.run(initial=state, resume=tuple(resume)))
            log.info("reconcile.adopted", call_id=record.id, on_hold=state.hold is not None)
        else:
            # Still there but not talking to anyone: offer it again (stale legs and
            # bridges are removed as orphans).
            log.info("reconcile.restart_offer", call_id=record.id)
            self._arrive(caller, record.did, call_id=record.id)

    async def _open_hold(self, call_id: str) -> Hold | None:
        if self._holds is None:
            return None
        row = await self._holds.open_hold(call_id)
        if row is None:
            return None
        return Hold(
            since=datetime.fromisoformat(row["started_at"]),
            source=row["source"],
            warned=row["warned"],
        )

    # --- hold -----------------------------------------------------------------------

    def request_hold(self, call_id: str, on: bool, by: str) -> bool:
        """Hold or retrieve from the browser; False when the call is not talking here."""
        session = self._sessions.get(call_id)
        if session is None or session.state is None or session.state.phase is not Phase.TALKING:
            return False
        event = m.HoldRequested if on else m.RetrieveRequested
        session.feed(event(source="browser", by=by))
        return True

    def agent_on(self, call_id: str) -> str | None:
        session = self._sessions.get(call_id)
        return session.state.agent_id if session and session.state else None

    def _phone_hold(self, channel: str, on: bool) -> None:
        """Hold pressed on the agent's desk phone (a re-INVITE): the same hold."""
        session = self._by_channel.get(channel)
        if session is None or session.state is None or session.state.agent_channel != channel:
            return
        session.feed(m.HoldRequested(source="phone") if on else m.RetrieveRequested(source="phone"))

    async def _remove_orphans(
        self, app_channels: set[str], app_bridges: set[str], channels: dict[str, Channel]
    ) -> None:
        known_bridges = {s.state.bridge_id for s in self._sessions.values() if s.state}
        if self.outbound is not None:  # outbound calls' legs and bridges are theirs
            app_channels = {c for c in app_channels if not self.outbound.owns(c)}
            app_bridges = {b for b in app_bridges if not self.outbound.owns(b)}
        if self.ivr is not None:  # callers in the IVR, its external legs and bridges
            app_channels = {c for c in app_channels if not self.ivr.owns(c)}
            app_bridges = {b for b in app_bridges if not self.ivr.owns(b)}
        for channel in app_channels - set(self._by_channel):
            if is_recording_channel(channel):
                continue  # a recording's snoop: it ends with its caller, never before
            if "-agent-" in channel:
                log.info("reconcile.orphan_agent_leg", channel_id=channel)
                await self._quietly(self._rest.hangup(channel))
            elif channel in channels and _in_stasis(channels[channel]):
                # A caller in our app that no call owns: serve it rather than drop it.
                log.info("reconcile.orphan_caller", channel_id=channel)
                self._arrive(channels[channel], _exten(channels[channel]))
        for bridge in app_bridges - known_bridges:
            log.info("reconcile.orphan_bridge", bridge_id=bridge)
            await self._quietly(self._rest.destroy_bridge(bridge))

    async def _quietly(self, request: Any) -> None:
        try:
            await request
        except AriError as error:
            log.info("reconcile.cleanup_skipped", error=str(error))

    def phase_of(self, call_id: str) -> Phase | None:
        session = self._sessions.get(call_id)
        return session.state.phase if session and session.state else None

    def recording_paused(self, call_id: str, paused: bool) -> None:
        """An agent paused (muted) or resumed the call's recording: the pages show it."""
        session = self._sessions.get(call_id)
        if session is not None:
            session.note_recording_paused(paused)


def _in_stasis(channel: Channel) -> bool:
    return channel.dialplan is not None and channel.dialplan.app_name == "Stasis"


def _exten(channel: Channel) -> str:
    return channel.dialplan.exten if channel.dialplan else ""
