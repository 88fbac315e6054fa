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
from telephony.policy.routing import Candidate, longest_idle


class AgentStatus(StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"  # reserved for a call: ringing or talking


@dataclass
class AgentSlot:
    agent_id: str
    name: str
    endpoint: str
    status: AgentStatus
    idle_since: datetime
    missed: int = 0
    call_id: str | None = None


class AgentPool:
    def __init__(self, agents: Iterable[AgentConfig], now: datetime) -> None:
        self._slots = {
            a.id: AgentSlot(a.id, a.name, a.endpoint, AgentStatus.AVAILABLE, now) for a in agents
        }

    def reserve(self, call_id: str, exclude: Iterable[str] = ()) -> AgentSlot | None:
        candidates = [
            Candidate(s.agent_id, s.idle_since)
            for s in self._slots.values()
            if s.status is AgentStatus.AVAILABLE
        ]
        chosen = longest_idle(candidates, exclude)
        if chosen is None:
            return None
        return self.mark_busy(chosen, call_id)

    def mark_busy(self, agent_id: str, call_id: str) -> AgentSlot:
        slot = self._slots[agent_id]
        slot.status, slot.call_id = AgentStatus.BUSY, call_id
        return slot

    def release(self, agent_id: str, now: datetime, *, missed: bool = False) -> None:
        slot = self._slots.get(agent_id)
        if slot is None or slot.status is AgentStatus.AVAILABLE:
            return  # releasing twice is harmless: commands are safe to repeat
        slot.status, slot.call_id, slot.idle_since = AgentStatus.AVAILABLE, None, now
        slot.missed += int(missed)

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
            }
            for s in self._slots.values()
        ]
