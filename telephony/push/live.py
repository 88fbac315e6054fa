"""The supervisors' live view: every live call, every agent's state, alarms.

Fed by the call watcher (`on_call`) and the agent pool (`on_agent`); publishes to the
`live` topic, serialised once for all supervisors. `snapshot()` is what a (re)connecting
supervisor gets. Alarms: a call nobody answered, an agent auto-paused after letting a
call ring out, a hold past its warning.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from telephony.calls.agents import MISSED_CALL, AgentSlot, AgentStatus, slot_json
from telephony.push.hub import Hub

LIVE = "live"
MAX_ALARMS = 50


class LiveView:
    def __init__(
        self,
        hub: Hub,
        *,
        live_calls: Callable[[], list[dict[str, Any]]],
        agents: Callable[[], list[dict[str, Any]]],
        clock: Callable[[], datetime],
    ) -> None:
        self._hub = hub
        self._live_calls = live_calls
        self._agents = agents
        self._clock = clock
        self._alarms: deque[dict[str, Any]] = deque(maxlen=MAX_ALARMS)
        self._warned_holds: set[tuple[str, str]] = set()

    def on_call(self, call: dict[str, Any]) -> None:
        call_id = str(call["id"])
        if call.get("phase") == "ended":
            self._hub.publish(LIVE, "live_call_ended", {"call_id": call_id})
            self._warned_holds = {h for h in self._warned_holds if h[0] != call_id}
            if not call.get("answered_at"):
                self._alarm("unanswered", call_id=call_id, caller_number=call.get("caller_number"))
            return
        self._hub.publish(LIVE, "live_call", {"call": call})
        hold = call.get("hold")
        if isinstance(hold, dict) and hold.get("warned"):
            key = (call_id, str(hold.get("since")))
            if key not in self._warned_holds:
                self._warned_holds.add(key)
                self._alarm("long_hold", call_id=call_id, agent_id=call.get("agent_id"))

    def on_agent(self, slot: AgentSlot) -> None:
        self._hub.publish(LIVE, "agent", {"agent": slot_json(slot)})
        if slot.status is AgentStatus.PAUSED and slot.pause_reason == MISSED_CALL:
            self._alarm("missed_call", agent_id=slot.agent_id)

    def alarm(self, kind: str, **fields: Any) -> None:
        """Raise an alarm on the supervisors' view (other parts: e.g. a missing recording)."""
        self._alarm(kind, **fields)

    def _alarm(self, kind: str, **fields: Any) -> None:
        alarm = {"kind": kind, "at": self._clock().isoformat(), **fields}
        self._alarms.append(alarm)
        self._hub.publish(LIVE, "alarm", {"alarm": alarm})

    def snapshot(self) -> dict[str, Any]:
        return {
            "calls": self._live_calls(),
            "agents": self._agents(),
            "alarms": list(self._alarms),
            "now": self._clock().isoformat(),
        }
