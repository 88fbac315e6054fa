"""Screen pops: watches every call (CallService.on_change) and pushes to agents.

- When an agent appears in a call's `offered_to` (before their phone is dialled), the
  agent's topic gets one `pop`. The caller's history is looked up once per call, at
  the call's first change; a pop waits for it at most `budget_s` (then it leaves
  with `history_ready: false` and a `pop_update` follows).
- An agent no longer offered gets `pop_withdrawn` (ring-all: another answered).
- The agent who answered gets `call` updates while talking (hold fields included) and
  `call_ended` at the end (the workspace then shows wrap-up).
- `snapshot_for(agent)` is what a (re)connecting browser gets: its pops, its call.
- With `scripts` set, each pop carries the call's matched script, decided once per call
  (see telephony.push.call_scripts for when, and why never later than the pop).

Never awaits inside `on_change`: it enqueues (hub) and reads the caller's history,
at once where that needs no await (SQLite), else in a task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog

from telephony.push.call_scripts import CallScripts, Picked
from telephony.push.crm import CrmLookup
from telephony.push.hub import Hub
from telephony.push.pop import compose_pop
from telephony.scripts.model import CallScript
from telephony.store.history import CallerContext

log = structlog.get_logger("telephony.push")

Lookup = Callable[[str | None, str], Awaitable[CallerContext]]
# The same read without awaiting, where the store can (SQLite); None: it cannot.
LookupNow = Callable[[str | None, str], CallerContext | None]
DEFAULT_BUDGET_S = 0.25


class Snapshotting(Protocol):
    def snapshot(self) -> dict[str, Any]: ...


def agent_topic(agent_id: str) -> str:
    return f"agent:{agent_id}"


@dataclass
class _Track:
    call: dict[str, Any]
    context: CallerContext | None = None
    popped: set[str] = field(default_factory=set)  # agents who have this call's pop
    partial: set[str] = field(default_factory=set)  # ... sent before the history came
    waiting: set[str] = field(default_factory=set)  # offered, pop held for the history
    talking: str | None = None
    lookup: asyncio.Task[None] | None = None
    budget: asyncio.TimerHandle | None = None
    looked_up_ms: float | None = None
    script: Picked | None = None
    script_final: bool = False  # decided for the call: never chosen again
    script_stored: bool = False  # written to the store (at the answer)
    first_pop_sent: bool = False  # the metrics time the first pop only
    crm: dict[str, str] | None = None  # the external CRM's fields, once they came
    crm_lookup: asyncio.Task[None] | None = None


class Pops:
    def __init__(
        self,
        hub: Hub,
        lookup: Lookup,
        *,
        clock: Callable[[], datetime],
        budget_s: float = DEFAULT_BUDGET_S,
        on_talking: Callable[[str, str], None] = lambda agent_id, call_id: None,
        lookup_now: LookupNow = lambda number, call_id: None,
    ) -> None:
        self._hub = hub
        self._lookup = lookup
        self._lookup_now = lookup_now
        self._clock = clock
        self._budget_s = budget_s
        self._on_talking = on_talking
        self.scripts: CallScripts | None = None  # set by the runtime when scripts exist
        self.crm: CrmLookup | None = None  # set by the runtime when a CRM is configured
        self._calls: dict[str, _Track] = {}
        self._ended: dict[str, dict[str, Any]] = {}  # agent -> their last call (wrap-up)
        self.lookup_ms: list[float] = []  # how long history lookups took (bench, logs)
        # Told (arrived_at, sent_at) when a call's first pop leaves (the metrics).
        self.on_first_pop: Callable[[datetime, datetime], None] = lambda arrived, sent: None

    # --- the call watcher -----------------------------------------------------------

    def on_change(self, session: Snapshotting) -> None:
        self.on_snapshot(session.snapshot())

    def on_snapshot(self, call: dict[str, Any]) -> None:
        call_id = str(call["id"])
        track = self._calls.get(call_id)
        if track is None:
            track = self._calls[call_id] = _Track(call)
            if not self._looked_up_now(call_id, track):
                track.lookup = asyncio.get_running_loop().create_task(self._look_up(call_id, track))
            if self.crm is not None:
                track.crm_lookup = asyncio.get_running_loop().create_task(
                    self._ask_crm(self.crm, call_id, track)
                )
        track.call = call
        phase, agent = call.get("phase"), call.get("agent_id")
        if phase == "talking" and agent and track.talking != agent:
            track.talking = str(agent)
            self._settle_script(track)  # answered: what the agent sees is the call's
            self._store_script(track)
            self._on_talking(track.talking, call_id)
        offered = {str(a) for a in call.get("offered_to") or []}
        new = offered - track.popped - track.waiting
        if new:
            self._offer(track, new)
        keep = {track.talking} if track.talking else set()
        for gone in sorted((track.popped | track.waiting) - offered - keep):
            self._withdraw(track, gone, "answered_elsewhere" if keep else "offer_ended")
        if phase == "talking" and track.talking:
            self._ended.pop(track.talking, None)
            self._hub.publish(agent_topic(track.talking), "call", self._call_view(track))
        if phase == "ended":
            self._end(call_id, track)

    def _offer(self, track: _Track, agents: set[str]) -> None:
        """Ring-all offers several agents at once: one message, serialised once."""
        if track.context is not None:
            self._send_pop(track, agents, "pop")
            return
        track.waiting |= agents
        if track.budget is None:
            track.budget = asyncio.get_running_loop().call_later(
                self._budget_s, self._budget_over, track
            )

    def _budget_over(self, track: _Track) -> None:
        track.budget = None
        if track.waiting and track.context is None:
            waiting, track.waiting = set(track.waiting), set()
            log.warning("pop.history_late", call_id=track.call["id"], agents=sorted(waiting))
            track.partial |= waiting
            self._send_pop(track, waiting, "pop")

    def _send_pop(self, track: _Track, agents: set[str], type_: str) -> None:
        now = self._clock()
        pop = self._compose(track, now)
        arrived = track.call.get("arrived_at")
        if not track.first_pop_sent and arrived:
            track.first_pop_sent = True
            self.on_first_pop(datetime.fromisoformat(arrived), now)
        track.popped |= agents
        self._hub.publish_many([agent_topic(a) for a in sorted(agents)], type_, {"pop": pop})

    def _withdraw(self, track: _Track, agent: str, reason: str) -> None:
        track.popped.discard(agent)
        track.waiting.discard(agent)
        track.partial.discard(agent)
        self._hub.publish(
            agent_topic(agent), "pop_withdrawn", {"call_id": track.call["id"], "reason": reason}
        )

    def _end(self, call_id: str, track: _Track) -> None:
        self._calls.pop(call_id, None)
        if track.budget is not None:
            track.budget.cancel()
        for task in (track.lookup, track.crm_lookup):
            if task is not None and not task.done():
                task.cancel()
        if track.talking:
            view = self._call_view(track)
            self._ended[track.talking] = view
            self._hub.publish(agent_topic(track.talking), "call_ended", view)

    def _looked_up_now(self, call_id: str, track: _Track) -> bool:
        """The history read at the call's first change, before its agents are offered,
        where it needs no await (SQLite, ~1 ms of CPU on the loop). As a task it waited
        its turn behind other calls' work: 2.9 ms p50 from the call's first change to
        the read's end at 20 calls/s, every pop waiting for it. False: read in a task."""
        started = asyncio.get_running_loop().time()
        try:
            context = self._lookup_now(track.call.get("caller_number"), call_id)
        except Exception as error:  # the task tries again, and logs if it fails too
            log.warning("pop.history_now_failed", call_id=call_id, error=repr(error))
            return False
        if context is None:
            return False
        self._have_context(call_id, track, context, started)
        return True

    async def _look_up(self, call_id: str, track: _Track) -> None:
        started = asyncio.get_running_loop().time()
        try:
            context = await self._lookup(track.call.get("caller_number"), call_id)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the pop goes without history, never not at all
            log.error("pop.history_failed", call_id=call_id, error=repr(error))
            context = CallerContext(track.call.get("caller_number"))
        self._have_context(call_id, track, context, started)

    def _have_context(
        self, call_id: str, track: _Track, context: CallerContext, started: float
    ) -> None:
        took = (asyncio.get_running_loop().time() - started) * 1000
        track.looked_up_ms = took
        self.lookup_ms.append(took)
        del self.lookup_ms[:-1000]
        track.context = context
        if track.budget is not None:
            track.budget.cancel()
            track.budget = None
        if self._calls.get(call_id) is not track:
            return  # ended meanwhile
        self._settle_script(track)
        if track.waiting:
            waiting, track.waiting = set(track.waiting), set()
            self._send_pop(track, waiting, "pop")
        if track.partial:
            partial, track.partial = set(track.partial), set()
            self._send_pop(track, partial & track.popped, "pop_update")

    async def _ask_crm(self, crm: CrmLookup, call_id: str, track: _Track) -> None:
        """The CRM's answer follows the pop as an update (never before, never instead)."""
        fields = await crm.fetch(track.call.get("caller_number"), call_id)
        if not fields or self._calls.get(call_id) is not track:
            return
        track.crm = fields
        ringing = track.popped - {track.talking}
        if ringing:
            self._send_pop(track, ringing, "pop_update")
        if track.talking:  # already answered: the agent's call view carries it
            self._hub.publish(agent_topic(track.talking), "call", self._call_view(track))

    def _call_view(self, track: _Track) -> dict[str, Any]:
        return {"call": track.call, "pop": self._compose(track, self._clock())}

    # --- the call's script ---------------------------------------------------------------

    def _compose(self, track: _Track, now: datetime) -> dict[str, Any]:
        picked = self._script(track)
        return compose_pop(
            track.call,
            track.context,
            now=now,
            script=picked.json if picked else None,
            source=picked.source if picked else None,
            crm=track.crm,
        )

    def _script(self, track: _Track) -> Picked | None:
        """The call's script: the final one, else a provisional one (no history yet)."""
        if self.scripts is None:
            return None
        if track.script is None:
            try:
                track.script = self.scripts.pick(track.call, track.context, self._clock())
            except Exception as error:  # a script fault must never hold the pop back
                log.error("pop.script_failed", call_id=track.call.get("id"), error=repr(error))
        return track.script

    def _settle_script(self, track: _Track) -> None:
        """Decide the call's script for good (history known, or the call answered)."""
        if self.scripts is None or track.script_final:
            return
        track.script_final = True
        try:
            if track.script is None or track.context is not None:
                track.script = self.scripts.pick(track.call, track.context, self._clock())
            self.scripts.decided(str(track.call["id"]), track.script)
        except Exception as error:  # a script fault must never hold the pop back
            log.error("pop.script_failed", call_id=track.call.get("id"), error=repr(error))

    def _store_script(self, track: _Track) -> None:
        """Answered: the call's script is written to the store (once, in the background)."""
        if self.scripts is None or track.script is None or track.script_stored:
            return
        track.script_stored = True
        call_id = str(track.call["id"])
        self.scripts.assign(call_id, track.script, lambda kept: self._kept(call_id, kept))

    def _kept(self, call_id: str, kept: CallScript) -> None:
        """The store already held another script for this call: that one it is."""
        track = self._calls.get(call_id)
        if track is None or self.scripts is None or track.script is None:
            return
        track.script = self.scripts.stored(track.script, kept)
        if track.popped:
            self._send_pop(track, set(track.popped), "pop_update")
        if track.talking:
            self._hub.publish(agent_topic(track.talking), "call", self._call_view(track))

    def script_of(self, call_id: str) -> CallScript | None:
        """The script of a call this process is tracking (before the store has it)."""
        track = self._calls.get(call_id)
        if track is not None and track.script is not None:
            return track.script.script
        ended = next((v for v in self._ended.values() if v["call"]["id"] == call_id), None)
        script = ended["pop"].get("script") if ended else None
        return CallScript.model_validate(script) if script else None

    # --- what a (re)connecting agent gets --------------------------------------------

    def snapshot_for(self, agent_id: str) -> dict[str, Any]:
        now = self._clock()
        pops = [
            self._compose(t, now)
            for t in self._calls.values()
            if agent_id in t.popped or agent_id in t.waiting
        ]
        talking = next((t for t in self._calls.values() if t.talking == agent_id), None)
        return {
            "pops": [p for p in pops if talking is None or p["call_id"] != talking.call["id"]],
            "call": self._call_view(talking) if talking else None,
            "ended_call": self._ended.get(agent_id) if talking is None else None,
            "now": now.isoformat(),  # the browser counts timers against the service's clock
        }

    def may_see(self, agent_id: str, call_id: str) -> bool:
        """The call is offered to, or talked by, this agent right now."""
        track = self._calls.get(call_id)
        if track is not None:
            return (
                agent_id in track.popped or agent_id in track.waiting or track.talking == agent_id
            )
        ended = self._ended.get(agent_id)
        return ended is not None and ended["call"]["id"] == call_id

    def forget_ended(self, agent_id: str) -> None:
        """Wrap-up done: the last call leaves the agent's snapshot."""
        self._ended.pop(agent_id, None)

    async def close(self) -> None:
        tasks = [t.lookup for t in self._calls.values() if t.lookup and not t.lookup.done()]
        for track in self._calls.values():
            if track.budget is not None:
                track.budget.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.scripts is not None:
            await self.scripts.close()
