"""Drives the "world" Asterisk over its own ARI: callers dialling in, desk phones.

The world places a caller's call to a DID of the PBX (with the caller's number and
name), and plays the agents' desk phones that the PBX dials: ring and answer after N
seconds, never answer, or reject; press hold; hang up. Each side can play a tone of
its own frequency and record what it hears (a snoop on its channel), so a test can
tell who is heard where.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog

from telephony.ari import (
    AriError,
    AriEventStream,
    AriRest,
    ChannelDestroyed,
    ChannelStateChange,
    Event,
    StasisEnd,
    StasisStart,
)
from telephony.ari.stasis import until_in_stasis
from telephony.sandbox.instance import AsteriskInstance

log = structlog.get_logger("telephony.world")

WORLD_APP = "world"
# The only event types the world reads (`_on_event`): Asterisk sends it no others, so
# the world's Asterisk spends no time writing events nobody reads (a call brings dozens
# of ChannelVarset) on the machine it shares with the PBX and the service under test.
WORLD_EVENTS = ("StasisStart", "StasisEnd", "ChannelStateChange", "ChannelDestroyed")


@dataclass
class PhoneBehaviour:
    """How a desk phone reacts when the PBX calls it."""

    answer_after: float | None = 0.5  # None: rings forever
    reject: bool = False
    tone_hz: int | None = 1000
    listen: bool = True


@dataclass
class Leg:
    """One channel on the world side: a caller, or a desk phone being called."""

    channel_id: str
    kind: str  # "caller" or "phone"
    number: str
    tone_hz: int | None
    listen: bool
    rang: asyncio.Event = field(default_factory=asyncio.Event)
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    recording: str | None = None
    bridge_id: str | None = None
    # Asterisk's own timestamps (world side) of what this leg experienced.
    rang_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None


class World:
    def __init__(
        self,
        ari_url: str,
        username: str,
        password: str,
        *,
        recordings_dir: Path,
        trunk: str = "pbx",
    ) -> None:
        self.rest = AriRest(ari_url, username, password)
        self._stream = AriEventStream(
            ari_url,
            username,
            password,
            WORLD_APP,
            on_event=self._on_event,
            on_connect=self._only_read_events,
            backoff_initial=0.1,
            backoff_max=1.0,
        )
        self.recordings_dir = recordings_dir
        self._trunk = trunk
        self._phones: dict[str, PhoneBehaviour] = {}
        self.legs: dict[str, Leg] = {}
        self.phone_legs: dict[str, list[Leg]] = {}
        # Customers the PBX calls out to (by number without '+'), and their legs.
        self._customers: dict[str, PhoneBehaviour] = {}
        self.customer_legs: dict[str, list[Leg]] = {}
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def of(cls, instance: AsteriskInstance) -> World:
        """The controller of the sandbox's world instance."""
        return cls(
            instance.ari_url,
            instance.ari_username,
            instance.ari_password,
            recordings_dir=instance.recordings_dir,
        )

    async def start(self) -> None:
        self._task = asyncio.create_task(self._stream.run())
        for _ in range(100):
            if self._stream.state == "connected":
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("world ARI did not connect")

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._stream.stop()
        if self._task is not None:
            await self._task
        await self.rest.close()

    def set_phone(self, extension: str, behaviour: PhoneBehaviour) -> None:
        self._phones[extension] = behaviour

    def set_customer(self, number: str, behaviour: PhoneBehaviour) -> None:
        """How the customer at `number` (E.164, '+' optional) reacts when the PBX calls."""
        self._customers[number.lstrip("+")] = behaviour

    # --- callers -------------------------------------------------------------------

    async def call(
        self,
        did: str,
        number: str = "",
        name: str = "",
        *,
        tone_hz: int | None = 440,
        listen: bool = True,
    ) -> Leg:
        """Dial the PBX's `did` as this caller; an empty number is an anonymous caller."""
        channel_id = f"world-caller-{next(self._ids)}-{id(self) % 10000}"
        variables: dict[str, str] = {}
        if number or name:
            # An outgoing PJSIP call presents the channel's connected line in From.
            variables = {
                "CONNECTEDLINE(num)": number,
                "CONNECTEDLINE(name)": name,
                "CALLERID(num)": number,
                "CALLERID(name)": name,
            }
        leg = Leg(channel_id, "caller", number, tone_hz, listen)
        self.legs[channel_id] = leg
        await self.rest.create_channel(
            f"PJSIP/{did}@{self._trunk}",
            app=WORLD_APP,
            app_args="caller",
            channel_id=channel_id,
            variables=variables,
        )
        await self._dial(channel_id)
        return leg

    async def _dial(self, channel_id: str) -> None:
        await until_in_stasis(lambda: self.rest.dial(channel_id))

    async def hangup(self, leg: Leg) -> None:
        try:
            await self.rest.hangup(leg.channel_id)
        except AriError:
            pass  # already gone

    async def press(self, leg: Leg, digits: str) -> None:
        """The caller presses keys: DTMF (RFC 4733) over SIP to the PBX."""
        await self.rest.send_dtmf(leg.channel_id, digits)

    async def hold(self, leg: Leg) -> None:
        await self.rest.hold(leg.channel_id)

    async def unhold(self, leg: Leg) -> None:
        await self.rest.unhold(leg.channel_id)

    def heard(self, leg: Leg) -> Path:
        """The recording of what this leg heard (complete once the leg has ended)."""
        assert leg.recording is not None, "this leg was not listening"
        return self.recordings_dir / f"{leg.recording}.wav"

    # --- events -----------------------------------------------------------------------

    async def _only_read_events(self) -> None:
        try:
            await self.rest.filter_events(WORLD_APP, allowed=WORLD_EVENTS)
        except AriError as error:  # every event comes, as before
            log.warning("world.event_filter_failed", error=str(error))

    async def _on_event(self, event: Event) -> None:
        if isinstance(event, StasisStart) and event.args[:1] == ["phone"]:
            extension = event.args[1] if len(event.args) > 1 else ""
            self._spawn(self._phone_called(event.channel.id, extension))
            return
        if isinstance(event, StasisStart) and event.args[:1] == ["customer"]:
            number = event.args[1] if len(event.args) > 1 else ""
            self._spawn(self._phone_called(event.channel.id, number, customer=True))
            return
        if isinstance(event, ChannelStateChange):
            leg = self.legs.get(event.channel.id)
            if leg is None:
                return
            if event.channel.state == "Ringing":
                leg.rang_at = leg.rang_at or event.timestamp
                leg.rang.set()
            elif event.channel.state == "Up" and not leg.answered.is_set():
                leg.answered_at = event.timestamp
                leg.answered.set()
                if leg.kind == "caller":
                    self._spawn(self._media(leg))
        elif isinstance(event, StasisEnd | ChannelDestroyed):
            leg = self.legs.get(event.channel.id)
            if leg is not None and not leg.ended.is_set():
                leg.ended_at = event.timestamp
                leg.ended.set()
                if leg.bridge_id is not None:
                    await self._quietly(self.rest.destroy_bridge(leg.bridge_id))

    async def _phone_called(self, channel_id: str, extension: str, customer: bool = False) -> None:
        behaviours = self._customers if customer else self._phones
        behaviour = behaviours.get(extension, PhoneBehaviour())
        kind = "customer" if customer else "phone"
        leg = Leg(channel_id, kind, extension, behaviour.tone_hz, behaviour.listen)
        self.legs[channel_id] = leg
        legs = self.customer_legs if customer else self.phone_legs
        legs.setdefault(extension, []).append(leg)
        try:
            if behaviour.reject:
                await self.rest.hangup(channel_id, reason="busy")
                return
            await self.rest.ring(channel_id)
            leg.rang_at = leg.rang_at or datetime.now(UTC)
            leg.rang.set()
            if behaviour.answer_after is None:
                return
            await asyncio.sleep(behaviour.answer_after)
            await self.rest.answer(channel_id)
            leg.answered.set()
            await self._media(leg)
        except AriError as error:
            log.info("world.phone_gone", extension=extension, error=str(error))

    async def _media(self, leg: Leg) -> None:
        """Start listening first, then speak: the recording holds all the other side says."""
        try:
            if leg.listen:
                name = f"heard-{leg.channel_id}"
                snoop = await self.rest.snoop(
                    leg.channel_id, app=WORLD_APP, spy="in", app_args="snoop"
                )
                await until_in_stasis(
                    lambda: self.rest.record_channel(
                        snoop.id, name, format="wav", if_exists="overwrite"
                    )
                )
                leg.recording = name
            if leg.tone_hz is not None:
                # Played through a bridge of its own: a tone generator on the channel
                # itself would starve the snoop of what the channel hears.
                bridge = await self.rest.create_bridge(type="mixing", name="voice")
                leg.bridge_id = bridge.id
                await self.rest.add_channel(bridge.id, leg.channel_id)
                await self.rest.play_bridge(bridge.id, f"tone:{leg.tone_hz}")
        except AriError as error:
            log.info("world.media_failed", channel_id=leg.channel_id, error=str(error))

    async def _quietly(self, request: Awaitable[None]) -> None:
        try:
            await request
        except AriError:
            pass  # already gone

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
