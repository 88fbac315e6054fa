"""The push side wired to a running service: the call watcher and the agent pool feed
the pops and the live view; the web app reads `state`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.calls.agents import AgentPool, AgentSlot, slot_json
from telephony.push.call_scripts import CallScripts, ScriptSource
from telephony.push.hub import Hub
from telephony.push.live import LiveView
from telephony.push.pops import Pops, Snapshotting, agent_topic
from telephony.push.state import Push
from telephony.store.history import CallerContext, History


class Watched(Protocol):
    on_change: Callable[[Any], None]

    def live_calls(self) -> list[dict[str, Any]]: ...


class PushRuntime:
    def __init__(
        self,
        engine: AsyncEngine,
        pool: AgentPool,
        clock: Callable[[], datetime],
        *,
        history_budget_s: float = 0.25,
    ) -> None:
        self.hub = Hub()
        self.history = History(engine)
        self._pool = pool
        self._calls: Watched | None = None
        self.pops = Pops(
            self.hub,
            self._look_up,
            clock=clock,
            budget_s=history_budget_s,
            on_talking=pool.mark_talking,
            lookup_now=self._look_up_now,
        )
        self.live = LiveView(
            self.hub, live_calls=self._live_calls, agents=pool.snapshot, clock=clock
        )
        self.state = Push(self.hub, self.pops, self.live, agent_state=self._agent_state)
        pool.on_change = self.on_agent

    def use_scripts(
        self, source: ScriptSource, *, zone_of: Callable[[str], tzinfo | None]
    ) -> CallScripts:
        """Pops carry the call's matched script from now on (see `prepare`)."""
        self.pops.scripts = CallScripts(source, zone_of=zone_of)
        return self.pops.scripts

    async def prepare(self) -> None:
        """At start, before the first call: read the script match setup, and open the
        history's reader, so the first call's pop has its script and waits for neither."""
        if self.pops.scripts is not None:
            await self.pops.scripts.refresh()
        self.history.warm_up()

    def watch(self, calls: Watched) -> None:
        self._calls = calls
        calls.on_change = self.on_call

    def on_call(self, session: Snapshotting) -> None:
        call = session.snapshot()  # once, for the pops and the live view
        self.pops.on_snapshot(call)
        self.live.on_call(call)

    def on_agent(self, slot: AgentSlot) -> None:
        self.live.on_agent(slot)
        self.hub.publish(agent_topic(slot.agent_id), "agent", {"agent": slot_json(slot)})

    async def _look_up(self, number: str | None, call_id: str) -> CallerContext:
        return await self.history.caller_context(number, exclude_call=call_id)

    def _look_up_now(self, number: str | None, call_id: str) -> CallerContext | None:
        return self.history.caller_context_now(number, exclude_call=call_id)

    def _live_calls(self) -> list[dict[str, Any]]:
        return self._calls.live_calls() if self._calls else []

    def _agent_state(self, agent_id: str) -> dict[str, Any] | None:
        slot = self._pool.get(agent_id)
        return slot_json(slot) if slot else None

    async def close(self) -> None:
        await self.pops.close()
        await self.history.close()
