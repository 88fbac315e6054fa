"""The script each call's pop carries: matched once per call from an in-memory setup.

The pop is never delayed by scripts:
- the match setup (rules, campaigns, released bodies) is read from the script store at
  start and then again in the background at most every `refresh_s` (an admin's new
  version reaches the next calls within seconds); the hot path only reads the copy;
- `choose` is pure and cheap, and each call's `CallScript` is turned into JSON once;
- the choice is written to the store (`assign`, first wins) by a background task, when
  an agent answers: no database write joins the history lookups of a burst of ringing
  calls, and a variant's calls are the calls an agent talked through with that script
  (a caller who hung up while ringing never heard it).

When is a call's script decided? As soon as the caller's history is known (the lookup
starts when the call arrives, so that is nearly always before any agent is offered it),
and then it stays for the call. If a pop has to leave before the history (the lookup's
budget ran out), it carries a *provisional* choice made without the history; when the
history arrives the choice is made again with it and the update pop carries that one.
A call answered before its history came keeps the provisional script: what the agent
saw is what the call is attributed to. If the store already held another script for the
call (first wins, e.g. after a restart), the stored one replaces ours in the next update.
The agent's page may ask for the script before the answer; the route then stores the
pop's choice itself (first wins too).

A failure to match (no rule, no campaign script, no default; or a matching error)
leaves `script: null` and logs why, once per call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Protocol

import structlog

from telephony.push.script_facts import call_facts
from telephony.scripts.matching import choose
from telephony.scripts.model import CallFacts, CallScript, Campaign, MatchSetup
from telephony.store.history import CallerContext
from telephony.store.retry import WRITE_FLUSH_S, write_with_retry

log = structlog.get_logger("telephony.push.scripts")

DEFAULT_REFRESH_S = 1.0


class ScriptSource(Protocol):
    async def setup(self) -> MatchSetup: ...

    async def assign(self, call_id: str, script: CallScript) -> Any: ...


@dataclass(frozen=True)
class Picked:
    """One call's script as the pop carries it (JSON made once) and the campaign name."""

    script: CallScript | None
    json: dict[str, Any] | None
    source: str | None  # the campaign's name, when the DID or the script names one
    facts: CallFacts
    why_none: str = ""


def script_json(script: CallScript) -> dict[str, Any]:
    return script.model_dump(mode="json")


class CallScripts:
    def __init__(
        self,
        source: ScriptSource,
        *,
        zone_of: Callable[[str], tzinfo | None],
        refresh_s: float = DEFAULT_REFRESH_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._zone_of = zone_of
        self._refresh_s = refresh_s
        self._monotonic = monotonic
        self._setup: MatchSetup | None = None
        self._campaigns: dict[str, Campaign] = {}
        self._by_did: dict[str, Campaign] = {}
        self._loaded_at: float | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def setup(self) -> MatchSetup | None:
        return self._setup

    async def refresh(self) -> None:
        """Read the setup from the store now (at start, and in the background)."""
        try:
            setup = await self._source.setup()
        except Exception as error:  # the last good copy stays in use
            log.error("scripts.setup_failed", error=repr(error))
            self._loaded_at = self._monotonic()  # retried after refresh_s, not per call
            return
        self.use(setup)

    def use(self, setup: MatchSetup) -> None:
        self._setup = setup
        self._campaigns = {c.key: c for c in setup.campaigns}
        self._by_did = {}
        for campaign in setup.campaigns:
            for did in campaign.dids:
                self._by_did.setdefault(did.lstrip("+"), campaign)
        self._loaded_at = self._monotonic()

    def _maybe_refresh(self) -> None:
        stale = self._loaded_at is None or self._monotonic() - self._loaded_at >= self._refresh_s
        if stale and (self._refreshing is None or self._refreshing.done()):
            self._refreshing = self._spawn(self.refresh())

    def campaign_name(self, did: str, script: CallScript | None) -> str | None:
        campaign = self._campaigns.get(script.campaign) if script and script.campaign else None
        campaign = campaign or self._by_did.get(did.lstrip("+"))
        return campaign.name if campaign else None

    def pick(self, call: dict[str, Any], context: CallerContext | None, now: datetime) -> Picked:
        """The script for this call now: pure reads of the cached setup."""
        self._maybe_refresh()
        did = str(call.get("did") or "")
        facts = call_facts(call, context, now=now, zone=self._zone_of(did))
        setup = self._setup
        if setup is None:
            return Picked(None, None, None, facts, "the script setup is not loaded yet")
        try:
            script = choose(setup, facts)
        except Exception as error:  # a bad setup must never stop the pop
            return Picked(None, None, self.campaign_name(did, None), facts, repr(error))
        if script is None:
            why = "no rule, campaign script or default script matches"
            return Picked(None, None, self.campaign_name(did, None), facts, why)
        return Picked(script, script_json(script), self.campaign_name(did, script), facts)

    def stored(self, picked: Picked, script: CallScript) -> Picked:
        """The script the store kept for the call (another one won the first write)."""
        did = picked.facts.did
        return Picked(script, script_json(script), self.campaign_name(did, script), picked.facts)

    def decided(self, call_id: str, picked: Picked) -> None:
        """The call's choice is final: said once in the log (with why none, if none)."""
        if picked.script is None:
            log.warning(
                "pop.no_script",
                call_id=call_id,
                why=picked.why_none,
                facts=picked.facts.model_dump(exclude={"call_id"}),
            )
            return
        script = picked.script
        log.info(
            "pop.script",
            call_id=call_id,
            script=script.key,
            version=script.version,
            variant=script.variant,
            reason=script.reason,
        )

    def assign(self, call_id: str, picked: Picked, on_other: Callable[[CallScript], None]) -> None:
        """Write the choice in the background; `on_other` when the store kept another."""
        if picked.script is not None:
            self._spawn(self._assign(call_id, picked.script, on_other))

    async def _assign(
        self, call_id: str, script: CallScript, on_other: Callable[[CallScript], None]
    ) -> None:
        # Tried again while the database is busy or away ("database is locked" under a
        # burst); a fault of the data is logged and given up (write_with_retry).
        kept = await write_with_retry(
            f"script of {call_id}", lambda: self._source.assign(call_id, script)
        )
        if isinstance(kept, CallScript) and (kept.key, kept.version, kept.variant) != (
            script.key,
            script.version,
            script.variant,
        ):
            on_other(kept)

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self, within_s: float = WRITE_FLUSH_S) -> None:
        """Writes under way get `within_s` to finish, then are cancelled (logged): with
        the database away a write is tried again for about a minute, and the service's
        stop waited for all of it (53 s in a test that drops the database first)."""
        if not self._tasks:
            return
        _, late = await asyncio.wait(set(self._tasks), timeout=within_s)
        if late:
            log.warning("scripts.assignments_left_at_close", count=len(late))
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
