"""The IVR's parts in one running service: flows in force, prompts, the store, the runner.

Flows come back from the database at start (the newest version per DID); an admin's
change goes through `save` (validated, stored as a new version, then in force for the
next call). TTS prompts of the flows in force are rendered ahead of their first call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.ari import AriRest
from telephony.calls.ivr import AlarmSink, IvrCalls, log_alarm
from telephony.calls.service import CallService, new_call_id
from telephony.ivr.escalation import step_prompts
from telephony.ivr.flow import Flow, Prompt, prompts
from telephony.ivr.live import LiveFlows
from telephony.ivr.sounds import Sounds
from telephony.ivr.validate import Checked, FlowRejected
from telephony.rings.policy import RingPolicies
from telephony.store.callbacks import CallbackStore
from telephony.store.ivr import FlowVersion, IvrStore

log = structlog.get_logger("telephony.calls.ivr")


class IvrRuntime:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        callbacks: CallbackStore,
        sounds_dir: Path,
        pbx_sounds_dir: str | None,
        default_region: str,
        app: str,
        clock: Callable[[], datetime],
        alarm: AlarmSink = log_alarm,
    ) -> None:
        self.store = IvrStore(engine)
        self.sounds = Sounds(sounds_dir, pbx_sounds_dir)
        self.flows = LiveFlows(self.sounds.file_exists)
        self._callbacks = callbacks
        self._region = default_region
        self._app = app
        self._clock = clock
        self._alarm = alarm
        self.calls: IvrCalls | None = None
        self._policies: RingPolicies | None = None  # the ring policies in force, last seen
        self._warming: set[asyncio.Task[None]] = set()

    async def restore(self) -> None:
        """The newest saved flow of every DID; one that no longer validates (a prompt file
        removed meanwhile) stays out of force, with an alarm, and its DID rings agents."""
        self.sounds.host_dir.mkdir(parents=True, exist_ok=True)
        for did, saved in (await self.store.flows_in_force()).items():
            try:
                checked = self.flows.validate(saved.flow)
            except FlowRejected as rejected:
                self._alarm("ivr_flow_invalid", f"DID {did}: {rejected.problems}", None)
                continue
            self.flows.put_in_force(did, saved.version, checked.flow)
            self._warm(checked.flow)

    def attach(self, calls: CallService, rest: AriRest, alarm: AlarmSink | None = None) -> None:
        """Callers of DIDs with a flow go through the IVR, then back to `calls`."""
        self.calls = IvrCalls(
            rest=rest,
            flows=self.flows,
            sounds=self.sounds,
            store=self.store,
            callbacks=self._callbacks,
            app=self._app,
            default_region=self._region,
            clock=self._clock,
            new_call_id=new_call_id,
            alarm=alarm or self._alarm,
        )
        self.calls.inbound = calls
        calls.ivr = self.calls

    async def save(self, did: str, raw: Any, who: str) -> tuple[FlowVersion, Checked | None]:
        """Validate (raises `FlowRejected`), store as a new version, put in force.
        `raw` None removes the DID's flow (its callers go straight to the agents)."""
        checked = self.flows.validate(raw) if raw is not None else None
        flow_json = checked.flow.model_dump(mode="json") if checked else None
        saved = await self.store.save_flow(did, flow_json, who=who, at=self._clock())
        self.flows.put_in_force(did, saved.version, checked.flow if checked else None)
        if checked is not None:
            self._warm(checked.flow)
            if self._policies is not None:  # the steps may speak a new language now
                self.warm_steps(self._policies)
        log.info("ivr.flow_saved", did=did, version=saved.version, who=who)
        return saved, checked

    def live(self) -> list[dict[str, Any]]:
        return self.calls.live() if self.calls else []

    async def rendered(self) -> None:
        """Wait (10 s at most) for the TTS prompts being rendered ahead of calls."""
        if self._warming:
            await asyncio.wait(set(self._warming), timeout=10)

    async def close(self) -> None:
        """Prompts being rendered are finished (a few seconds at most), then the runs end."""
        await self.rendered()
        for task in list(self._warming):
            task.cancel()
        await asyncio.gather(*self._warming, return_exceptions=True)
        if self.calls is not None:
            await self.calls.close()

    def warm_steps(self, policies: RingPolicies) -> None:
        """Render the prompts of the escalation steps the ring policies use (callback
        offer, voicemail, the hold's callback offer), in the languages they can speak:
        the default region's and those of the flows in force. Given to `LivePolicies.watch`."""
        self._policies = policies
        kinds: set[str] = {
            step.kind
            for policy in (policies.default, *policies.per_did.values())
            for step in policy.escalation
        }
        if any(
            p.hold.on_max == "callback_offer"
            for p in (policies.default, *policies.per_did.values())
        ):
            kinds.add("hold_callback_offer")
        languages = {"tr" if self._region == "TR" else "en"}
        for in_force in self.flows.all().values():
            languages |= {in_force.flow.language, *in_force.flow.languages}
        wanted = step_prompts(kinds, languages)
        if wanted:
            self._render(wanted)

    def _warm(self, flow: Flow) -> None:
        """Render the flow's TTS prompts now, so the first caller does not wait for them."""
        wanted = [
            (prompt, language)
            for node in flow.nodes.values()
            for _, prompt in prompts(node)
            for language in flow.languages
        ]
        self._render(wanted)

    def _render(self, wanted: list[tuple[Prompt, str]]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(self.sounds.warm(wanted))
        except RuntimeError:  # no loop (a synchronous caller): rendered on first use
            return
        self._warming.add(task)
        task.add_done_callback(self._warming.discard)
