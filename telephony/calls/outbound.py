"""Outbound callbacks: the scheduler that takes due tasks, and the calls it places.

Every `interval` seconds the scheduler takes the due pending tasks (marked `calling`
in the store, so each is called once) and starts one `OutboundSession` per task: its
events in order through the pure `OutboundPolicy`, its commands carried out here
over ARI, the agent pool and the callback store. ARI events of outbound legs reach
this module through `CallService.outbound` (`on_event`); reconcile leaves the
channels and bridges it owns alone (`owns`) and reports lost ones (`catch_up`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog

from telephony.ari import (
    AriError,
    AriRest,
    ChannelDestroyed,
    Dial,
    Event,
    NotFound,
    StasisEnd,
    StasisStart,
)
from telephony.calls.executor import Recorder
from telephony.calls.legs import DIAL_ENDED, bridge_together, create_and_dial
from telephony.calls.policies import LivePolicies
from telephony.calls.presence import AgentPresence
from telephony.calls.service import new_call_id, utc_now
from telephony.calls.shared_commands import NotShared, run_shared
from telephony.calls.timers import SessionTimers
from telephony.policy import messages as m
from telephony.policy.outbound import (
    CustomerAnswered,
    CustomerLegEnded,
    CustomerRinging,
    DialCustomer,
    OutboundCommand,
    OutboundEvent,
    OutboundPlan,
    OutboundPolicy,
    OutboundPolicyError,
    OutboundState,
    Phase,
    PlaySound,
    SettleTask,
)
from telephony.store.callbacks import CallbackRecord, CallbackStore

log = structlog.get_logger("telephony.outbound")

OUTBOUND_ARG = "outbound"
CUSTOMER_SUFFIX = "-customer"  # the customer leg's channel id: "<call id>-customer"


class OutboundSession:
    """One attempt of one callback task: its events in order, one at a time."""

    def __init__(self, calls: OutboundCalls, task: CallbackRecord, plan: OutboundPlan) -> None:
        self.calls = calls
        self.task = task
        self.plan = plan
        self.call_id = new_call_id(calls.clock())
        self.state: OutboundState | None = None
        self._queue: asyncio.Queue[OutboundEvent] = asyncio.Queue()
        self.timers = SessionTimers(calls.clock, lambda key: self.feed(m.TimerFired(key=key)))

    def feed(self, event: OutboundEvent) -> None:
        self._queue.put_nowait(event)

    async def run(self) -> None:
        structlog.contextvars.bind_contextvars(call_id=self.call_id, callback_id=self.task.id)
        policy = self.calls.policy
        stopping = False
        try:
            state, commands = policy.start(
                call_id=self.call_id,
                task_id=self.task.id,
                number=self.task.number,
                attempts=self.task.attempts,
                plan=self.plan,
                now=self.calls.clock(),
                owner=self.task.agent_id,
            )
            self.state = state
            log.info("outbound.start", number=self.task.number, cadence=self.plan.cadence)
            await self._apply(*await self._execute_all(commands))
            while self.state.phase is not Phase.ENDED:
                await self._apply(await self._queue.get())
        except asyncio.CancelledError:
            stopping = True  # the task stays `calling`; the next start requeues it
            raise
        finally:
            self.timers.close()
            if not stopping and (self.state is None or not self.state.settled):
                # Never leave a task `calling`: whatever happened, it is tried again later.
                await self.calls.settle_quietly(
                    self.task.id,
                    SettleTask(
                        outcome="unreachable",
                        status="pending",
                        due_at=self.calls.clock() + self.plan.retry_after,
                    ),
                )
            self.calls.forget(self)
            log.info("outbound.end", phase=str(self.state.phase) if self.state else None)

    async def _apply(self, *events: OutboundEvent) -> None:
        pending = list(events)
        while pending and self.state is not None:
            event = pending.pop(0)
            try:
                self.state, commands = self.calls.policy.decide(
                    self.state, event, self.calls.clock()
                )
            except OutboundPolicyError as error:
                log.error("outbound.policy_error", error=str(error))
                continue
            pending.extend(await self._execute_all(commands))

    async def _execute_all(self, commands: list[OutboundCommand]) -> list[OutboundEvent]:
        answers: list[OutboundEvent] = []
        for command in commands:
            answer = await self.calls.execute(self, command)
            if answer is not None:
                answers.append(answer)
        return answers


class OutboundCalls:
    def __init__(
        self,
        *,
        rest: AriRest,
        callbacks: CallbackStore,
        presence: AgentPresence,
        policies: LivePolicies,
        app: str,
        clock: Callable[[], datetime] = utc_now,
        interval: float = 1.0,
        no_agent_retry: timedelta = timedelta(minutes=10),
        trunk: str = "carrier",
        recorder: Recorder | None = None,
    ) -> None:
        self._rest = rest
        self.recorder = recorder
        self._callbacks = callbacks
        self._presence = presence
        self._policies = policies
        self._app = app
        self.clock = clock
        self._interval = interval
        self._no_agent_retry = no_agent_retry
        self.policy = OutboundPolicy(trunk)
        self._by_channel: dict[str, OutboundSession] = {}
        self._sessions: dict[str, OutboundSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # --- the scheduler ----------------------------------------------------------------

    async def run(self) -> None:
        """Take due tasks every `interval` seconds until cancelled."""
        try:
            requeued = await self._callbacks.requeue_calling()
            if requeued:
                log.warning("outbound.requeued", tasks=requeued)
        except Exception as error:
            log.error("outbound.requeue_failed", error=repr(error))
        while True:
            await self.tick()
            await asyncio.sleep(self._interval)

    async def tick(self) -> int:
        """Start the calls of the tasks due now; returns how many started."""
        try:
            due = await self._callbacks.take_due(self.clock())
        except Exception as error:  # the database is away: try again next tick
            log.error("outbound.take_failed", error=repr(error))
            return 0
        for task in due:
            self.start(task)
        return len(due)

    def start(self, task: CallbackRecord) -> OutboundSession:
        session = OutboundSession(self, task, self.plan_for(task))
        self._sessions[session.call_id] = session
        self._spawn(session.run())
        return session

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("outbound.task_crashed", error=repr(task.exception()))

    def plan_for(self, task: CallbackRecord) -> OutboundPlan:
        """The DID's policy: its (or the customer's country's) cadence, rings, retries."""
        ring = self._policies.plan_for(task.did, task.number)
        policy = self._policies.current.for_did(task.did)
        selection = "longest_idle" if ring.selection == "ring_all" else ring.selection
        return OutboundPlan(
            cadence=ring.cadence,
            cycle=ring.cycle,
            max_rings=policy.max_rings_outbound,
            retry_after=timedelta(hours=policy.outbound_retry_after_hours),
            max_attempts=task.max_attempts,
            no_agent_retry=self._no_agent_retry,
            agent_limit=ring.agent_limit,
            selection=selection,
        )

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def forget(self, session: OutboundSession) -> None:
        self._sessions.pop(session.call_id, None)
        for channel, owner in list(self._by_channel.items()):
            if owner is session:
                del self._by_channel[channel]

    def live(self) -> list[dict[str, Any]]:
        return [
            {"call_id": s.call_id, "callback_id": s.task.id, "phase": str(s.state.phase)}
            for s in self._sessions.values()
            if s.state is not None
        ]

    # --- ARI events (from CallService) ---------------------------------------------------

    def owns(self, resource_id: str) -> bool:
        """A channel or bridge (bridge id = call id) of an outbound call in progress, or
        a customer leg of an earlier process (hung up by `catch_up`, never taken for an
        inbound caller)."""
        return (
            resource_id in self._by_channel
            or resource_id in self._sessions
            or resource_id.endswith(CUSTOMER_SUFFIX)
        )

    def on_event(self, event: Event) -> bool:
        """Route an event of an outbound leg; False: not ours."""
        if isinstance(event, StasisStart):
            return event.args[:1] == [OUTBOUND_ARG] or event.channel.id in self._by_channel
        if isinstance(event, Dial):
            session = self._by_channel.get(event.peer.id)
            if session is None:
                return False
            translated = self._dial_event(session, event.peer.id, event.dialstatus.upper())
            if translated is not None:
                session.feed(translated)
            return True
        if isinstance(event, StasisEnd | ChannelDestroyed):
            channel = event.channel.id
            session = self._by_channel.get(channel)
            if session is None:
                return False
            session.feed(self._gone(session, channel, getattr(event, "cause_txt", "")))
            return True
        return False

    def catch_up(self, channel_ids: set[str]) -> None:
        """After a reconnect: legs that went away meanwhile."""
        for channel, session in list(self._by_channel.items()):
            if channel not in channel_ids:
                session.feed(self._gone(session, channel, "gone"))
        # Customer legs of an earlier process: their calls cannot be resumed (the task
        # was requeued at start-up), so they are ended rather than left in silence.
        for channel in channel_ids:
            if channel.endswith(CUSTOMER_SUFFIX) and channel not in self._by_channel:
                log.info("outbound.orphan_customer_leg", channel_id=channel)
                self._spawn(self._hangup_quietly(channel))

    async def _hangup_quietly(self, channel: str) -> None:
        try:
            await self._rest.hangup(channel)
        except AriError as error:
            log.info("outbound.cleanup_skipped", error=str(error))

    @staticmethod
    def _dial_event(session: OutboundSession, channel: str, status: str) -> OutboundEvent | None:
        customer = session.state is not None and channel == session.state.customer_channel
        if status == "RINGING":
            return CustomerRinging() if customer else m.AgentRinging(channel_id=channel)
        if status == "ANSWER":
            return CustomerAnswered() if customer else m.AgentAnswered(channel_id=channel)
        if status in DIAL_ENDED:
            reason = status.lower()
            if customer:
                return CustomerLegEnded(reason=reason)
            return m.AgentLegEnded(channel_id=channel, reason=reason)
        return None

    @staticmethod
    def _gone(session: OutboundSession, channel: str, reason: str) -> OutboundEvent:
        if session.state is not None and channel == session.state.customer_channel:
            return CustomerLegEnded(reason="hangup")
        return m.AgentLegEnded(channel_id=channel, reason=reason or "hangup")

    # --- commands --------------------------------------------------------------------------

    async def execute(self, session: OutboundSession, command: OutboundCommand) -> Any:
        try:
            return await self._execute(session, command)
        except NotFound:
            log.info("outbound.command_target_gone", command=type(command).__name__)
            return None
        except AriError as error:
            log.error("outbound.command_failed", command=type(command).__name__, error=str(error))
            if isinstance(command, DialCustomer):
                return CustomerLegEnded(reason="dial_failed")
            if isinstance(command, m.DialAgent):
                return m.AgentLegEnded(channel_id=command.channel_id, reason="dial_failed")
            if isinstance(command, m.BridgeCall):
                return m.ActionFailed(what="bridge", detail=str(error))
            return None

    async def _execute(self, session: OutboundSession, command: OutboundCommand) -> Any:
        rest = self._rest
        shared = await run_shared(rest, self._presence, session, command)
        if not isinstance(shared, NotShared):
            return shared
        match command:
            case DialCustomer(endpoint=endpoint, channel_id=channel):
                self._by_channel[channel] = session  # before any of its events arrive
                log.info("outbound.dial_customer", endpoint=endpoint)
                # The customer sees the DID the callback is for as the caller's number.
                did = session.task.did
                await create_and_dial(
                    rest,
                    app=self._app,
                    endpoint=endpoint,
                    channel_id=channel,
                    app_args=f"{OUTBOUND_ARG},{session.call_id}",
                    variables={"CALLERID(num)": did, "CONNECTEDLINE(num)": did},
                )
            case m.DialAgent(agent_id=agent, endpoint=endpoint, channel_id=channel):
                self._by_channel[channel] = session
                log.info("outbound.dial_agent", agent_id=agent, endpoint=endpoint)
                assert session.state is not None
                await create_and_dial(
                    rest,
                    app=self._app,
                    endpoint=endpoint,
                    channel_id=channel,
                    app_args=f"agent,{session.call_id}",
                    originator=session.state.customer_channel,
                )
            case m.BridgeCall(bridge_id=bridge, channel_ids=channels):
                await bridge_together(rest, bridge, list(channels))
            case m.StartRecording(channel_id=channel, name=name):
                if self.recorder is not None:
                    await self.recorder.start(name, channel)
            case PlaySound(channel_id=channel, sound=sound):
                await rest.play(channel, f"sound:{sound}")
            case SettleTask():
                log.info("outbound.settled", outcome=command.outcome, status=command.status)
                await self.settle_quietly(session.task.id, command)
        return None

    async def settle_quietly(self, callback_id: int, settle: SettleTask) -> None:
        try:
            await self._callbacks.settle(
                callback_id,
                status=settle.status,
                outcome=settle.outcome,
                rings=settle.rings,
                due_at=settle.due_at,
                handled_by=settle.agent_id,
                call_id=settle.call_id,
            )
        except Exception as error:  # the call goes on; the task is requeued at start-up
            log.error("store.callback_settle_failed", callback_id=callback_id, error=repr(error))
