"""The agents' availability, shared by all calls of this process.

Reserving is synchronous (no await), so two calls running concurrently on the event
loop can never reserve the same agent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import structlog

from telephony.config import AgentConfig
from telephony.policy.routing import Candidate, Strategy, choose


class AgentStatus(StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"  # reserved for a call: ringing or talking
    PAUSED = "paused"  # offered no calls; `pause_reason` says why
    WRAPUP = "wrapup"  # after a call: finishing its notes; available when done or timed out


log = structlog.get_logger("telephony.agents")

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
    talking: bool = False  # the reserved call was answered by this agent (wrap-up follows)
    groups: frozenset[str] = frozenset()


class AgentPool:
    def __init__(self, agents: Iterable[AgentConfig], now: datetime) -> None:
        self._slots = {
            a.id: AgentSlot(
                a.id,
                a.name,
                a.endpoint,
                AgentStatus.AVAILABLE,
                now,
                a.priority,
                groups=frozenset(a.groups),
            )
            for a in agents
        }
        self._order = tuple(self._slots)  # configured order, for round robin
        self._last_offered: str | None = None
        # Told of every status change (the supervisors' live view); must not block.
        self.on_change: Callable[[AgentSlot], None] = lambda slot: None

    def reserve(
        self,
        call_id: str,
        exclude: Iterable[str] = (),
        *,
        limit: int | None = 1,
        strategy: Strategy = "longest_idle",
        prefer: str | None = None,
        group: str | None = None,
    ) -> list[AgentSlot]:
        """Up to `limit` available agents; of `group` only, when some agent is in it (a
        group nobody belongs to routes to everyone: a caller never waits for nobody)."""
        members = self.in_group(group)
        candidates = [
            Candidate(s.agent_id, s.idle_since, s.priority)
            for s in self._slots.values()
            if s.status is AgentStatus.AVAILABLE and (not members or s.agent_id in members)
        ]
        chosen = choose(
            candidates,
            strategy=strategy,
            exclude=tuple(exclude),
            limit=limit,
            last_offered=self._last_offered,
            order=self._order,
            prefer=prefer,
        )
        if chosen:
            self._last_offered = chosen[-1]
        return [self.mark_busy(agent, call_id) for agent in chosen]

    def in_group(self, group: str | None) -> set[str]:
        if group is None:
            return set()
        return {s.agent_id for s in self._slots.values() if group in s.groups}

    def mark_busy(self, agent_id: str, call_id: str) -> AgentSlot:
        slot = self._slots[agent_id]
        slot.status, slot.call_id, slot.talking = AgentStatus.BUSY, call_id, False
        self._notify(slot)
        return slot

    def mark_talking(self, agent_id: str, call_id: str) -> None:
        """The agent answered `call_id`: releasing them later starts a wrap-up."""
        slot = self._slots.get(agent_id)
        if slot is not None and slot.status is AgentStatus.BUSY and slot.call_id == call_id:
            slot.talking = True

    def release(
        self,
        agent_id: str,
        now: datetime,
        *,
        missed: bool = False,
        pause: bool = False,
        wrapup: bool = False,
    ) -> AgentSlot | None:
        """Free again after a call or an offer (or auto-paused); None if nothing changed.
        `wrapup`: an agent who talked goes to wrap-up first (see `end_wrapup`)."""
        slot = self._slots.get(agent_id)
        if slot is None or slot.status is not AgentStatus.BUSY:
            return None  # releasing twice is harmless: commands are safe to repeat
        talked, slot.talking = slot.talking, False
        slot.missed += int(missed)
        slot.call_id, slot.idle_since = None, now
        if pause:
            return self._set(slot, AgentStatus.PAUSED, now, MISSED_CALL)
        if wrapup and talked:
            slot.status, slot.changed_at = AgentStatus.WRAPUP, now
            self._notify(slot)
            return slot
        return self._set(slot, AgentStatus.AVAILABLE, now, None)

    def end_wrapup(self, agent_id: str, now: datetime) -> AgentSlot | None:
        """Wrap-up over (outcome set, agent ready, or time up); None if not in wrap-up."""
        slot = self._slots.get(agent_id)
        if slot is None or slot.status is not AgentStatus.WRAPUP:
            return None
        slot.idle_since = now
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

    def _set(
        self, slot: AgentSlot, status: AgentStatus, now: datetime, reason: str | None
    ) -> AgentSlot:
        if status is AgentStatus.AVAILABLE and slot.pause_reason is not None:
            status, reason = AgentStatus.PAUSED, slot.pause_reason  # asked for mid-call
        slot.status, slot.pause_reason, slot.changed_at = status, reason, now
        self._notify(slot)
        return slot

    def _notify(self, slot: AgentSlot) -> None:
        try:
            self.on_change(slot)
        except Exception as error:  # a watcher's fault must not touch the pool
            log.error("agent.watcher_failed", error=repr(error))

    def get(self, agent_id: str) -> AgentSlot | None:
        return self._slots.get(agent_id)

    def snapshot(self) -> list[dict[str, Any]]:
        return [slot_json(s) for s in self._slots.values()]


def slot_json(s: AgentSlot) -> dict[str, Any]:
    return {
        "id": s.agent_id,
        "name": s.name,
        "status": str(s.status),
        "call_id": s.call_id,
        "missed": s.missed,
        "pause_reason": s.pause_reason,
        "since": s.changed_at.isoformat() if s.changed_at else None,
    }
