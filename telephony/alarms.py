"""Alarms a supervisor must see: logged at once, counted per kind, the latest kept.

Raised by the parts that find a fault (a missing recording, a hold left too long);
read by the supervisor's page and /api/alarms. In memory: the database keeps the
facts (a recording's status), this keeps them in front of people.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

log = structlog.get_logger("telephony.alarms")


@dataclass(frozen=True)
class Alarm:
    kind: str  # recording_missing, recording_short, recording_silent, recording_failed...
    call_id: str | None
    detail: str
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "call_id": self.call_id,
            "detail": self.detail,
            "at": self.at.isoformat(),
        }


class Alarms:
    def __init__(
        self, clock: Callable[[], datetime] = lambda: datetime.now(UTC), keep: int = 500
    ) -> None:
        self._clock = clock
        self._latest: deque[Alarm] = deque(maxlen=keep)
        self.counts: Counter[str] = Counter()
        self._listeners: list[Callable[[Alarm], None]] = []

    def raise_alarm(self, kind: str, detail: str, call_id: str | None = None) -> Alarm:
        alarm = Alarm(kind=kind, call_id=call_id, detail=detail, at=self._clock())
        log.error("alarm", kind=kind, alarm_call_id=call_id, detail=detail)
        self._latest.append(alarm)
        self.counts[kind] += 1
        for listener in self._listeners:
            listener(alarm)
        return alarm

    def subscribe(self, listener: Callable[[Alarm], None]) -> Callable[[], None]:
        """`listener` must not block; returns the unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def latest(self, limit: int = 100) -> list[Alarm]:
        return list(self._latest)[-limit:][::-1]
