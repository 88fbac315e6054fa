"""The running service: storage, the ARI connection, the calls and the web app, wired.

Everything that holds a resource starts in one `cleanup_ctx` so only what started is
torn down. The web app starts even when Asterisk is not reachable: /healthz says
`ari: disconnected` and the event stream keeps retrying with backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta, tzinfo
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from telephony.alarms import Alarms
from telephony.ari import AriEventStream, AriRest, NotFound
from telephony.ari.punctual import PunctualAnswers
from telephony.auth import AuthOptions
from telephony.calls.agents import AgentPool
from telephony.calls.ivr_runtime import IvrRuntime
from telephony.calls.outbound import OutboundCalls
from telephony.calls.policies import LivePolicies, PolicyRejected
from telephony.calls.presence import AgentPresence
from telephony.calls.service import CallService, utc_now
from telephony.config import Settings
from telephony.metrics import LiveSources, Metrics
from telephony.policy.inbound import InboundPolicy, Limits, Phase
from telephony.push.crm import CrmLookup
from telephony.push.runtime import PushRuntime
from telephony.push.script_facts import number_zone
from telephony.recording.keeper import RecordingKeeper
from telephony.recording.retention import run_retention
from telephony.scripts.library import default_library
from telephony.scripts.validate import ScriptRejected
from telephony.store.agent_events import AgentEvents
from telephony.store.callbacks import CallbackStore
from telephony.store.db import check, create_engine
from telephony.store.holds import HoldStore
from telephony.store.migrate import migrate
from telephony.store.policy_audit import PolicyAudit
from telephony.store.recordings import RecordingStore
from telephony.store.repo import CallStore
from telephony.store.scripts import ScriptRefused, ScriptStore
from telephony.store.writer import StoreWriter
from telephony.web.admin import RINGS, add_admin_routes
from telephony.web.admin_ivr import add_ivr_routes
from telephony.web.admin_scripts import add_script_routes
from telephony.web.app import AGENT_UI_DIR, create_web_app
from telephony.web.call_script import CallScriptsWeb, add_call_script_routes
from telephony.web.callbacks import add_callback_routes
from telephony.web.hold import HoldControls, add_hold_routes
from telephony.web.metrics import add_metrics_routes
from telephony.web.recordings import RecordingsAccess, add_recording_routes
from telephony.web.stats import add_stats_routes

log = structlog.get_logger("telephony.service")


class Runtime:
    """The live parts of one service process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings.database_url)
        self.store = CallStore(self.engine, settings.default_region)
        # Ring policies in force: from the config at start, then as admins change them.
        self.policies = LivePolicies(settings.rings, settings.default_cadence, utc_now)
        self.audit = PolicyAudit(self.engine)
        pool = AgentPool(settings.agents, utc_now())
        self.presence = AgentPresence(
            pool, AgentEvents(self.engine), utc_now, wrapup_s=settings.wrapup_s
        )
        # Pops and the live view: told of every call's and agent's change.
        self.push = PushRuntime(self.engine, pool, utc_now)
        self.callbacks = CallbackStore(self.engine)
        self.alarms = Alarms(utc_now)
        # For operators (Prometheus): live counts read at scrape time, events counted.
        self.metrics = Metrics(
            LiveSources(live_calls=self.live_calls, ari_state=self.ari_state, agents=pool.snapshot)
        )
        self.alarms.subscribe(self.metrics.on_alarm)
        self.push.pops.on_first_pop = self.metrics.on_pop
        # The external CRM, if configured: its answer follows each pop as an update.
        self.crm = (
            CrmLookup(
                settings.crm_lookup_url,
                timeout_s=settings.crm_timeout_s,
                token=settings.crm_token.get_secret_value() if settings.crm_token else None,
            )
            if settings.crm_lookup_url
            else None
        )
        self.push.pops.crm = self.crm
        # Alarms (a missing recording, a root that cannot be written) reach the
        # supervisors' live view at once.
        self.alarms.subscribe(
            lambda alarm: self.push.live.alarm(
                alarm.kind, call_id=alarm.call_id, detail=alarm.detail
            )
        )
        # Call flows per DID: callers of a DID with one go through the IVR first.
        self.ivr = IvrRuntime(
            engine=self.engine,
            callbacks=self.callbacks,
            sounds_dir=Path(settings.ivr_sounds_dir).resolve(),
            pbx_sounds_dir=settings.ivr_sounds_pbx_dir or None,
            default_region=settings.default_region,
            app=settings.ari_app,
            clock=utc_now,
            alarm=self.alarms.raise_alarm,  # a missing prompt, the hop limit, a bad flow
        )
        self.recordings = RecordingStore(self.engine, utc_now)
        self.recording_root = Path(settings.recordings_dir)
        self.recorder: RecordingKeeper | None = None
        self.holds = HoldStore(self.engine)
        # Scripts: versions, releases, campaigns and rules; the setup matching reads.
        self.scripts = ScriptStore(self.engine, utc_now)
        # Each pop carries its call's matched script (the DID's local hour is one fact).
        self.push.use_scripts(self.scripts, zone_of=self.did_zone)
        self.calls: CallService | None = None
        self.outbound: OutboundCalls | None = None
        self.stream: AriEventStream | None = None

    def did_zone(self, did: str) -> tzinfo | None:
        """The DID's time zone: its call flow's, else its numbering plan's (one zone)."""
        flow = self.ivr.flows.flow_for(did)
        if flow is not None:
            return flow.flow.zone
        return number_zone(did, self.settings.default_region)

    def ari_state(self) -> str:
        return self.stream.state if self.stream else "disconnected"

    def live_calls(self) -> list[dict[str, Any]]:
        return self.calls.live_calls() if self.calls else []

    def writes_pending(self) -> int:
        return self.calls.writes_pending() if self.calls else 0

    async def db_ok(self) -> bool:
        return await check(self.engine)

    async def lifecycle(self, _app: web.Application) -> AsyncIterator[None]:
        s = self.settings
        await migrate(s.database_url)
        await self.store.upsert_agents(s.agents)
        await self._restore_policies()
        await self.ivr.restore()
        self.policies.watch(self.ivr.warm_steps)  # the escalation steps' prompts, ahead
        await self._load_default_scripts()
        await self.push.prepare()  # the first call's pop: its script, no reader to open
        rest = AriRest(
            s.ari_url,
            s.ari_username,
            s.ari_password.get_secret_value(),
            connections=s.ari_connections,
        )
        # The deadline's answers, sent on time by threads of their own (see the module).
        punctual = PunctualAnswers(
            s.ari_url,
            s.ari_username,
            s.ari_password.get_secret_value(),
            on_sent=self.metrics.on_deadline_answer,
        )
        # One writer for the calls' rows and the recordings' (see telephony.store.writer).
        writer = StoreWriter(self.engine)
        self.recorder = RecordingKeeper(
            rest=rest,
            writer=writer,
            store=self.recordings,
            alarms=self.alarms,
            root=self.recording_root,
            app=s.ari_app,
            clock=utc_now,
            retention_days=s.retention_days,
            channels=s.recording_channels_for,
            keep_format=s.recording_format,
        )
        self._check_recording_root()
        limits = Limits(
            no_agent_retry=timedelta(seconds=s.no_agent_retry_s),
            max_wait=timedelta(seconds=s.max_wait_s),
        )
        self.calls = CallService(
            rest=rest,
            store=self.store,
            presence=self.presence,
            policy=InboundPolicy(limits),
            app=s.ari_app,
            default_region=s.default_region,
            plan_for=self.policies.plan_for,
            recorder=self.recorder,
            holds=self.holds,
            writer=writer,
            punctual=punctual,
        )
        self.outbound = OutboundCalls(
            rest=rest,
            callbacks=self.callbacks,
            presence=self.presence,
            policies=self.policies,
            app=s.ari_app,
            recorder=self.recorder,
        )
        self.calls.outbound = self.outbound
        self.ivr.attach(self.calls, rest)
        self.push.watch(self.calls)
        self.calls.on_escalation = self.metrics.on_escalation
        loop = asyncio.get_running_loop()
        scheduler = loop.create_task(self.outbound.run())
        housekeeping = [
            loop.create_task(run_retention(self.recordings, self.recording_root, utc_now)),
            loop.create_task(self.recorder.verify_files()),
        ]
        self.stream = AriEventStream(
            s.ari_url,
            s.ari_username,
            s.ari_password.get_secret_value(),
            s.ari_app,
            on_event=self.calls.on_event,
            on_connect=self.calls.on_connect,
            on_disconnect=self.calls.on_disconnect,
            backoff_max=s.ari_reconnect_max_s,
        )
        punctual.start()  # its threads stop in the `finally` below
        runner = asyncio.get_running_loop().create_task(self.stream.run())
        log.info("service.started", agents=len(s.agents), ari_url=s.ari_url, app=s.ari_app)
        try:
            yield
        finally:
            for task in (scheduler, *housekeeping):
                task.cancel()
            await asyncio.gather(scheduler, *housekeeping, return_exceptions=True)
            await self.outbound.close()
            await self.stream.stop()
            await runner
            await self.calls.close()
            await asyncio.to_thread(punctual.close)
            await self.ivr.close()
            await self.push.close()
            if self.crm is not None:
                await self.crm.close()
            self.presence.close()
            await self.recorder.wait_for_checks()
            await rest.close()
            await self.engine.dispose()
            log.info("service.stopped")

    def hold_controls(self) -> HoldControls:
        def request(call_id: str, on: bool, by: str) -> bool:
            return self.calls is not None and self.calls.request_hold(call_id, on, by)

        def agent_on(call_id: str) -> str | None:
            return self.calls.agent_on(call_id) if self.calls else None

        async def agent_of(call_id: str) -> str | None:
            call = await self.store.get_call(call_id)
            return call.agent_id if call else None

        return HoldControls(request=request, agent_on=agent_on, holds=self.holds, agent_of=agent_of)

    def recordings_access(self) -> RecordingsAccess:
        async def mute(call_id: str, on: bool) -> None:
            if self.recorder is None:
                raise NotFound("no ARI connection yet", method="POST", path="")
            await (self.recorder.mute(call_id) if on else self.recorder.unmute(call_id))
            if self.calls is not None:
                self.calls.recording_paused(call_id, on)

        async def agent_of(call_id: str) -> str | None:
            call = await self.store.get_call(call_id)
            return call.agent_id if call else None

        def live(call_id: str) -> bool:
            return self.calls is not None and self.calls.phase_of(call_id) is Phase.TALKING

        return RecordingsAccess(
            store=self.recordings,
            root=self.recording_root,
            alarms=self.alarms,
            pause_allowed=self.settings.recording_pause_allowed,
            mute=mute,
            agent_of=agent_of,
            live=live,
            clock=utc_now,
            holds=self.holds,
        )

    def _check_recording_root(self) -> None:
        """An unwritable root must not stop calls: they go through, people are told."""
        try:
            self.recording_root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            self.alarms.raise_alarm(
                "recording_root_unwritable", f"{self.recording_root}: {error.strerror or error}"
            )

    async def _load_default_scripts(self) -> None:
        """The shipped library on first start; a broken one must not stop the calls."""
        try:
            added = await self.scripts.load_defaults(default_library())
        except (ScriptRejected, ScriptRefused) as error:
            log.error("scripts.defaults_invalid", problems=error.problems)
            return
        if added.scripts:
            log.info("scripts.defaults_loaded", scripts=added.scripts)

    async def _restore_policies(self) -> None:
        """An admin's newest change outlives restarts; the config file is the first one."""
        saved = await self.audit.latest(RINGS)
        if saved is None:
            return
        try:
            self.policies.put_in_force(self.policies.validate(saved))
        except PolicyRejected as rejected:  # e.g. a step this version no longer supports
            log.error("policy.saved_invalid", kind=RINGS, problems=rejected.problems)


def build_app(settings: Settings) -> web.Application:
    runtime = Runtime(settings)
    app = create_web_app(
        store=runtime.store,
        live_calls=runtime.live_calls,
        ari_state=runtime.ari_state,
        db_ok=runtime.db_ok,
        auth=AuthOptions.from_settings(settings),
        presence=runtime.presence,
        push=runtime.push.state,
    )
    add_admin_routes(
        app,
        policies=runtime.policies,
        audit=runtime.audit,
        engine=runtime.engine,
        page=AGENT_UI_DIR / "admin_rings.html",
    )
    add_callback_routes(
        app,
        store=runtime.callbacks,
        policies=runtime.policies,
        default_region=settings.default_region,
    )
    add_ivr_routes(app, ivr=runtime.ivr, page=AGENT_UI_DIR / "admin_ivr.html")
    add_script_routes(app, scripts=runtime.scripts, page=AGENT_UI_DIR / "admin_scripts.html")
    add_call_script_routes(app, CallScriptsWeb(store=runtime.scripts, calls=runtime.store))
    add_recording_routes(app, runtime.recordings_access())
    add_hold_routes(app, runtime.hold_controls())
    add_metrics_routes(app, runtime.metrics, settings.metrics_token)
    add_stats_routes(
        app, engine=runtime.engine, audit=runtime.audit, page=AGENT_UI_DIR / "stats.html"
    )
    app[RUNTIME_KEY] = runtime
    app.cleanup_ctx.append(runtime.lifecycle)
    return app


RUNTIME_KEY = web.AppKey("runtime", Runtime)
