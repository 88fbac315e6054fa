"""One call's own task: its events in order, through the policy, commands carried out.

A session never waits for another call: each has its queue and task, and `feed` only
enqueues. Commands whose answer is itself an event (the agent pool's reservation, a
failed ARI request) feed that answer back before the next queued event, so nothing
else can slip in between a question and its answer.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from telephony.calls.timers import SessionTimers
from telephony.policy.inbound import CallState, InboundPolicy, Phase, PolicyError, RingPlan
from telephony.policy.messages import CallEvent, Command, RecordHold, TimerFired
from telephony.store.retry import WRITE_FLUSH_S, Write
from telephony.store.writer import StoreWriter

log = structlog.get_logger("telephony.calls")


class Executor(Protocol):
    async def execute(self, session: CallSession, command: Command) -> CallEvent | None: ...


class CallSession:
    def __init__(
        self,
        *,
        call_id: str,
        caller_channel: str,
        did: str,
        caller_number: str | None,
        caller_name: str,
        arrived_at: datetime,
        policy: InboundPolicy,
        executor: Executor,
        clock: Callable[[], datetime],
        plan: RingPlan | None = None,
        writer: StoreWriter,
        on_change: Callable[[CallSession], None] | None = None,
    ) -> None:
        self.call_id = call_id
        self.caller_channel = caller_channel
        self.did = did
        self.caller_number = caller_number
        self.caller_name = caller_name
        self.arrived_at = arrived_at
        self.answered_at: datetime | None = None
        self.facts: dict[str, Any] = {}  # what was stored, for the live view
        self.escalations: list[dict[str, Any]] = []
        self.holds: list[dict[str, Any]] = []  # this call's holds, as stored
        self.recording_paused = False  # an agent muted the recording (card details)
        self.ringing: asyncio.Task[None] | None = None  # the caller's 180, on its way
        # When the dialplan sent the caller's 180, if it did (before the service saw them).
        self.rang_at: datetime | None = None
        # What the IVR learnt before the call reached the agents (tags, choices, path).
        self.ivr: dict[str, Any] | None = None
        self.state: CallState | None = None
        self.plan = plan
        self._policy = policy
        self._executor = executor
        self._clock = clock
        self._queue: asyncio.Queue[CallEvent] = asyncio.Queue()
        self.timers = SessionTimers(clock, lambda key: self.feed(TimerFired(key=key)))
        # Store writes run behind the call (one writer for all calls, in order), so no
        # call waits for the database.
        self._writer = writer
        self._facts_waiting: dict[str, Any] | None = None  # the queued facts update, if last
        self.done = asyncio.Event()
        # Told after every state change, before its commands run (so a screen pop can
        # leave before the agent's phone is dialled). Must not block: it only enqueues.
        self._on_change = on_change or (lambda session: None)

    @property
    def ended(self) -> bool:
        return self.state is not None and self.state.phase is Phase.ENDED

    def feed(self, event: CallEvent) -> None:
        self._queue.put_nowait(event)

    def write_later(self, what: str, write: Write) -> None:
        """Queue a store write; `what` names it in the log if it fails."""
        self._facts_waiting = None  # later facts must not jump ahead of this write
        self._writer.put(what, write)

    def write_facts(
        self, fields: dict[str, Any], write: Callable[[dict[str, Any]], Awaitable[object]]
    ) -> None:
        """Queue an update of the call's columns. Facts come in bursts (a call's start
        records three within milliseconds): while the last queued write is a facts
        update that has not started, these fields join it, and the burst is one write."""
        if self._facts_waiting is not None:
            self._facts_waiting.update(fields)
            return
        pending = dict(fields)

        def run() -> Awaitable[object]:
            if self._facts_waiting is pending:  # started: later facts queue anew
                self._facts_waiting = None
            return write(pending)

        self.write_later(f"update {sorted(pending)}", run)
        self._facts_waiting = pending

    async def run(self, initial: CallState | None = None, resume: tuple[Command, ...] = ()) -> None:
        """Start the call (or resume an adopted one) and process its events to the end."""
        structlog.contextvars.bind_contextvars(call_id=self.call_id, channel_id=self.caller_channel)
        try:
            if initial is None:
                state, commands = self._policy.start(
                    self.call_id, self.caller_channel, self._clock(), self.plan, self.rang_at
                )
                self.state = state
                log.info("call.start", did=self.did, phase=state.phase)
                self._changed()
                await self._apply(*await self._execute_all(commands))
            else:
                self.state = initial
                log.info("call.adopted", phase=initial.phase, on_hold=initial.hold is not None)
                self._changed()
                await self._apply(*await self._execute_all(list(resume)))
            while not self.ended:
                await self._apply(await self._queue.get())
        finally:
            self.timers.close()
            # The call's writes go on behind it, whatever happens here: never cancelled
            # (a database far behind under load must not lose a call's end), and the
            # service's close waits for the writer too.
            try:
                flushed = self._writer.flushed()
                finished, _ = await asyncio.wait({flushed}, timeout=WRITE_FLUSH_S)
                if not finished:
                    log.warning("store.writes_behind", pending=self._writer.pending)
            finally:
                self.done.set()

    async def _apply(self, *events: CallEvent) -> None:
        pending: deque[CallEvent] = deque(events)
        while pending and self.state is not None:
            current = pending.popleft()
            before = self.state.phase
            offered_before = len(self.state.legs)
            try:
                self.state, commands = self._policy.decide(self.state, current, self._clock())
            except PolicyError as error:
                log.error("call.policy_error", error=str(error), phase=before)
                continue
            if self.state.phase is not before:
                log.info(
                    "call.transition",
                    from_=before,
                    trigger=type(current).__name__,
                    to=self.state.phase,
                )
            self._changed()
            if len(self.state.legs) > offered_before:
                # A new offer: its screen pop is queued on the agents' sockets. Their
                # writers send it first, then the dial's requests take the loop (~1 ms
                # at 20 calls/s, the pop's median delivery went from 0.6 to 1.7 ms).
                await asyncio.sleep(0)
            pending.extend(await self._execute_all(commands))

    def note_recording_paused(self, paused: bool) -> None:
        self.recording_paused = paused
        self._changed()

    def _changed(self) -> None:
        try:
            self._on_change(self)
        except Exception as error:  # a watcher's fault must not touch the call
            log.error("call.watcher_failed", error=repr(error))

    async def _execute_all(self, commands: list[Command]) -> list[CallEvent]:
        answers: list[CallEvent] = []
        for command in commands:
            answer = await self._executor.execute(self, command)
            if answer is not None:
                answers.append(answer)
        return answers

    def note_hold(self, hold: RecordHold) -> None:
        """The latest record of each hold (one per start time), for the live view."""
        entry = hold.model_dump(mode="json")
        self.holds = [h for h in self.holds if h["started_at"] != entry["started_at"]]
        self.holds.append(entry)

    def note(self, fields: dict[str, Any]) -> None:
        self.facts.update(fields)

    def snapshot(self) -> dict[str, Any]:
        state = self.state
        plan = state.plan if state else self.plan
        return {
            "id": self.call_id,
            "did": self.did,
            "caller_number": self.caller_number,
            "caller_name": self.caller_name,
            "phase": str(state.phase) if state else "arriving",
            "agent_id": state.agent_id if state else None,
            "arrived_at": self.arrived_at.isoformat(),
            "answered_at": self.answered_at.isoformat() if self.answered_at else None,
            # The page counts rings from these: ring = 1 + (now - ringing_since) / cycle.
            "ringing_since": state.ringing_since.isoformat() if state else None,
            "cycle_ms": plan.cycle / timedelta(milliseconds=1) if plan else None,
            "max_rings": plan.max_rings if plan else None,
            "answered_ring": self.facts.get("answered_ring"),
            "system_answered": bool(state and state.system_answered),
            "announcements": state.announcements if state else 0,
            "escalations": list(self.escalations),
            # On hold now (the agent's screen counts from `since`); holds so far.
            "hold": {
                "since": state.hold.since.isoformat(),
                "source": state.hold.source,
                "warned": state.hold.warned,
                "offering": state.hold.offering,  # the caller hears the callback offer
                "warn_after_s": plan.hold.warn_after.total_seconds(),
                "max_s": plan.hold.max.total_seconds(),
            }
            if state and state.hold and plan
            else None,
            "holds": list(self.holds),
            # The recording (started at the first answer, by an agent or the system): "on",
            # or "paused" while an agent has it muted.
            "recording": ("paused" if self.recording_paused else "on")
            if state and (state.answered or state.system_answered)
            else None,
            # When the last hold ended: the agent's screen says "thank the caller".
            "last_hold_end": state.last_hold_end.isoformat()
            if state and state.last_hold_end
            else None,
            # Agents whose phones are being dialled or ringing for this call now.
            "offered_to": [leg.agent_id for leg in state.legs] if state else [],
            # The IVR's part, for the pop: the tag of the caller's choice, and the rest.
            "tag": self.ivr.get("tag") if self.ivr else None,
            "ivr": self.ivr,
        }
