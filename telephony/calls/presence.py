"""Agents pausing and coming back, by their own hand, a supervisor's, or automatically
after letting a call ring out; every such change is stored with who made it and why."""

from __future__ import annotations

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
    def __init__(self, pool: AgentPool, events: AgentEvents, clock: Callable[[], datetime]) -> None:
        self.pool = pool
        self._events = events
        self._clock = clock

    @classmethod
    def empty(cls) -> AgentPresence:
        """No agents (a web app without a call engine, as in web-only tests)."""
        return cls(AgentPool((), datetime.now(UTC)), _NoEvents(), lambda: datetime.now(UTC))

    async def released(self, agent_id: str, *, missed: bool, pause: bool) -> None:
        slot = self.pool.release(agent_id, self._clock(), missed=missed, pause=pause)
        if slot is not None and slot.status is AgentStatus.PAUSED:
            log.warning("agent.paused", agent_id=agent_id, reason=slot.pause_reason, by=SYSTEM)
            await self._store(slot, SYSTEM)

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
