"""The agents' availability, shared by all calls of this process.

Reserving is synchronous (no await), so two calls running concurrently on the event
loop can never reserve the same agent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from telephony.config import AgentConfig
from telephony.policy.routing import Candidate, Strategy, choose


class AgentStatus(StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"  # reserved for a call: ringing or talking
    PAUSED = "paused"  # offered no calls; `pause_reason` says why


MISSED_CALL = "missed call"  # the reason of an automatic pause


@dataclass
class AgentSlot:
    agent_id: str
    name: str
    endpoint: str
    status: AgentStatus
    idle_since: datetime
    priority: int = 100
    missed: int = 0
    call_id: str | None = None
    pause_reason: str | None = None
    changed_at: datetime | None = None


class AgentPool:
    def __init__(self, agents: Iterable[AgentConfig], now: datetime) -> None:
        self._slots = {
            a.id: AgentSlot(a.id, a.name, a.endpoint, AgentStatus.AVAILABLE, now, a.priority)
            for a in agents
        }
        self._order = tuple(self._slots)  # configured order, for round robin
        self._last_offered: str | None = None

    def reserve(
        self,
        call_id: str,
        exclude: Iterable[str] = (),
        *,
        limit: int | None = 1,
        strategy: Strategy = "longest_idle",
    ) -> list[AgentSlot]:
        candidates = [
            Candidate(s.agent_id, s.idle_since, s.priority)
            for s in self._slots.values()
            if s.status is AgentStatus.AVAILABLE
        ]
        chosen = choose(
            candidates,
            strategy=strategy,
            exclude=tuple(exclude),
            limit=limit,
            last_offered=self._last_offered,
            order=self._order,
        )
        if chosen:
            self._last_offered = chosen[-1]
        return [self.mark_busy(agent, call_id) for agent in chosen]

    def mark_busy(self, agent_id: str, call_id: str) -> AgentSlot:
        slot = self._slots[agent_id]
        slot.status, slot.call_id = AgentStatus.BUSY, call_id
        return slot

    def release(
        self, agent_id: str, now: datetime, *, missed: bool = False, pause: bool = False
    ) -> AgentSlot | None:
        """Free again after a call or an offer (or auto-paused); None if nothing changed."""
        slot = self._slots.get(agent_id)
        if slot is None or slot.status is not AgentStatus.BUSY:
            return None  # releasing twice is harmless: commands are safe to repeat
        slot.missed += int(missed)
        slot.call_id, slot.idle_since = None, now
        if pause:
            return self._set(slot, AgentStatus.PAUSED, now, MISSED_CALL)
        return self._set(slot, AgentStatus.AVAILABLE, now, None)

    def pause(self, agent_id: str, now: datetime, reason: str) -> AgentSlot:
        """Paused agents get no offers; one on a call is paused when it ends."""
        slot = self._slots[agent_id]
        if slot.status is AgentStatus.BUSY:
            slot.pause_reason = reason  # noted; takes effect on release
            return slot
        return self._set(slot, AgentStatus.PAUSED, now, reason)

    def unpause(self, agent_id: str, now: datetime) -> AgentSlot:
        slot = self._slots[agent_id]
        if slot.status is AgentStatus.PAUSED:
            slot.idle_since, slot.pause_reason = now, None
            return self._set(slot, AgentStatus.AVAILABLE, now, None)
        slot.pause_reason = None
        return slot

    @staticmethod
    def _set(slot: AgentSlot, status: AgentStatus, now: datetime, reason: str | None) -> AgentSlot:
        if status is AgentStatus.AVAILABLE and slot.pause_reason is not None:
            status, reason = AgentStatus.PAUSED, slot.pause_reason  # asked for mid-call
        slot.status, slot.pause_reason, slot.changed_at = status, reason, now
        return slot

    def get(self, agent_id: str) -> AgentSlot | None:
        return self._slots.get(agent_id)

    def snapshot(self) -> list[dict[str, Any]]:
        return [
            {
                "id": s.agent_id,
                "name": s.name,
                "status": str(s.status),
                "call_id": s.call_id,
                "missed": s.missed,
                "pause_reason": s.pause_reason,
                "since": s.changed_at.isoformat() if s.changed_at else None,
            }
            for s in self._slots.values()
        ]
