"""Agents pausing and coming back, by their own hand, a supervisor's, or automatically
after letting a call ring out; wrap-up after a call (until the agent is ready or
`wrapup_s` ends); every such change is stored with who made it and why."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from telephony.calls.agents import AgentPool, AgentSlot, AgentStatus
from telephony.store.agent_events import AgentEventRecord, AgentEvents

log = structlog.get_logger("telephony.agents")

SYSTEM = "system"
MAX_REASON = 80


class UnknownAgent(LookupError):
    pass


class AgentPresence:
    def __init__(
        self,
        pool: AgentPool,
        events: AgentEvents,
        clock: Callable[[], datetime],
        *,
        wrapup_s: float = 0.0,
    ) -> None:
        """`wrapup_s`: after a call an agent talked, this long in wrap-up (0: none)."""
        self.pool = pool
        self._events = events
        self._clock = clock
        self.wrapup_s = wrapup_s
        self._wrapups: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[AgentSlot]] = set()

    @classmethod
    def empty(cls) -> AgentPresence:
        """No agents (a web app without a call engine, as in web-only tests)."""
        return cls(AgentPool((), datetime.now(UTC)), _NoEvents(), lambda: datetime.now(UTC))

    async def released(self, agent_id: str, *, missed: bool, pause: bool) -> None:
        slot = self.pool.release(
            agent_id, self._clock(), missed=missed, pause=pause, wrapup=self.wrapup_s > 0
        )
        if slot is not None and slot.status is AgentStatus.PAUSED:
            log.warning("agent.paused", agent_id=agent_id, reason=slot.pause_reason, by=SYSTEM)
            await self._store(slot, SYSTEM)
        elif slot is not None and slot.status is AgentStatus.WRAPUP:
            log.info("agent.wrapup", agent_id=agent_id, seconds=self.wrapup_s)
            self._cancel_wrapup(agent_id)
            self._wrapups[agent_id] = asyncio.get_running_loop().call_later(
                self.wrapup_s, self._wrapup_timed_out, agent_id
            )
            await self._store(slot, SYSTEM)

    async def end_wrapup(self, agent_id: str, by: str) -> AgentSlot:
        """The agent is done with the call's notes (or its time is up): available."""
        self._cancel_wrapup(self._known(agent_id))
        slot = self.pool.end_wrapup(agent_id, self._clock())
        if slot is None:
            return self._slot(agent_id)  # not in wrap-up: nothing to do
        log.info("agent.wrapup_done", agent_id=agent_id, status=slot.status, by=by)
        await self._store(slot, by)
        return slot

    def _wrapup_timed_out(self, agent_id: str) -> None:
        self._wrapups.pop(agent_id, None)
        task = asyncio.get_running_loop().create_task(self.end_wrapup(agent_id, SYSTEM))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cancel_wrapup(self, agent_id: str) -> None:
        handle = self._wrapups.pop(agent_id, None)
        if handle is not None:
            handle.cancel()

    def close(self) -> None:
        for handle in self._wrapups.values():
            handle.cancel()
        self._wrapups.clear()

    async def pause(self, agent_id: str, reason: str, by: str) -> AgentSlot:
        slot = self.pool.pause(self._known(agent_id), self._clock(), reason[:MAX_REASON])
        log.info("agent.paused", agent_id=agent_id, reason=slot.pause_reason, by=by)
        await self._store(slot, by)
        return slot

    async def unpause(self, agent_id: str, by: str) -> AgentSlot:
        slot = self.pool.unpause(self._known(agent_id), self._clock())
        log.info("agent.available", agent_id=agent_id, by=by)
        await self._store(slot, by)
        return slot

    def snapshot(self) -> list[dict[str, Any]]:
        return self.pool.snapshot()

    def _slot(self, agent_id: str) -> AgentSlot:
        slot = self.pool.get(agent_id)
        if slot is None:
            raise UnknownAgent(agent_id)
        return slot

    def _known(self, agent_id: str) -> str:
        if self.pool.get(agent_id) is None:
            raise UnknownAgent(agent_id)
        return agent_id

    async def _store(self, slot: AgentSlot, by: str) -> None:
        record = AgentEventRecord(
            slot.agent_id, self._clock(), str(slot.status), slot.pause_reason, by
        )
        try:
            await self._events.add(record)
        except Exception as error:  # the state change stands; only its record is lost
            log.error("store.agent_event_failed", agent_id=slot.agent_id, error=repr(error))


class _NoEvents(AgentEvents):
    def __init__(self) -> None:
        pass

    async def add(self, event: AgentEventRecord) -> None:
        pass
