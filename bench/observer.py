"""Asterisk's own account of each agent leg's ringing, from a separate ARI connection.

The observer is an ARI application of its own connected with `subscribeAll=true`: it
receives every channel's events, whoever controls the channel (our service's Stasis
app, app_queue, the dialplan), and never commands anything. Only Asterisk's event
`timestamp`s are used (the time Asterisk published the event, millisecond resolution),
never the time an event reached Python, so the observer's own delays do not count.

Per agent leg (a channel named `PJSIP/agent...`):
- `created_at`: `ChannelCreated` (for a closer look only);
- `dial_at`: the `Dial` event with an empty dialstatus (dialling begins);
- `ringing_at`: the first `Dial` with dialstatus RINGING (the phone's 180 arrived);
- `end_at`: the first sign that the ringing is being ended, the earliest of:
  `ChannelHangupRequest` (how a hangup requested over ARI shows: the service's
  `DELETE /channels/{id}`), a `Dial` with a final dialstatus (how app_queue ends a
  member's ring: NOANSWER), or `ChannelDestroyed`;
- `destroyed_at`: `ChannelDestroyed` (the leg is gone), the same event for both.

Per caller (any other channel, by its caller number): `callers_up`, the first
`ChannelStateChange` to Up, i.e. when this Asterisk answered the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

import websockets
from websockets.asyncio.client import ClientConnection

from telephony.ari import (
    AriRest,
    Channel,
    ChannelDestroyed,
    ChannelHangupRequest,
    ChannelStateChange,
    Dial,
    UnknownEvent,
    parse_event,
)
from telephony.ari.transport import basic_auth

OBSERVER_APP = "thirdring-bench-observer"
_WANTED = frozenset(
    {"ChannelCreated", "Dial", "ChannelHangupRequest", "ChannelDestroyed", "ChannelStateChange"}
)
_IN_PROGRESS = frozenset({"", "RINGING", "PROGRESS", "PROCEEDING"})


@dataclass
class LegTimes:
    channel_id: str
    name: str
    created_at: datetime | None = None
    dial_at: datetime | None = None
    ringing_at: datetime | None = None
    end_at: datetime | None = None
    end_kind: str | None = None  # "hangup_request", "dial_<STATUS>", "destroyed"
    destroyed_at: datetime | None = None
    answered: bool = False


class RingObserver:
    """`async with RingObserver(...) as obs:` ... `obs.legs` (by channel id)."""

    def __init__(
        self, ari_url: str, username: str, password: str, *, leg_prefix: str = "PJSIP/agent"
    ) -> None:
        root = ari_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        query = urlencode({"app": OBSERVER_APP, "subscribeAll": "true"}, quote_via=quote)
        self._url = f"{root.rstrip('/')}/ari/events?{query}"
        self._headers = {"Authorization": basic_auth(username, password)}
        self._ari_url, self._username, self._password = ari_url, username, password
        self._prefix = leg_prefix
        self.legs: dict[str, LegTimes] = {}
        self.callers_up: dict[str, datetime] = {}  # caller number -> answered
        self.unparsable = 0
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RingObserver:
        # Connected (and so subscribed) before anything is measured.
        self._ws = await websockets.connect(
            self._url, additional_headers=self._headers, proxy=None, max_size=None
        )
        # Only the kinds timed here: with every channel's events (dozens of ChannelVarset
        # a call), Asterisk spent its time writing them out, and this process reading
        # them, on the cores the PBX, the service and the world share.
        async with AriRest(self._ari_url, self._username, self._password) as rest:
            await rest.filter_events(OBSERVER_APP, allowed=sorted(_WANTED))
        self._task = asyncio.get_running_loop().create_task(self._read(self._ws))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                self.take(raw)

    def take(self, raw: str | bytes) -> None:
        """One raw event; only the kinds we time are parsed into models."""
        try:
            kind = json.loads(raw).get("type")
        except (ValueError, AttributeError):
            self.unparsable += 1
            return
        if kind not in _WANTED:
            return
        try:
            event = parse_event(raw)
        except Exception:
            self.unparsable += 1
            return
        at = event.timestamp
        if at is None:
            return
        if isinstance(event, Dial):
            leg = self._leg(event.peer.id, event.peer.name)
            if leg is None:
                return
            status = event.dialstatus.upper()
            if status == "" and leg.dial_at is None:
                leg.dial_at = at
            elif status == "RINGING" and leg.ringing_at is None:
                leg.ringing_at = at
            elif status not in _IN_PROGRESS:
                leg.answered = leg.answered or status == "ANSWER"
                self._ended(leg, at, f"dial_{status}")
        elif isinstance(event, UnknownEvent) and event.type == "ChannelCreated":
            channel = Channel.model_validate(getattr(event, "channel", None) or {"id": ""})
            leg = self._leg(channel.id, channel.name)
            if leg is not None:
                leg.created_at = at
        elif isinstance(event, ChannelHangupRequest):
            leg = self._leg(event.channel.id, event.channel.name)
            if leg is not None:
                self._ended(leg, at, "hangup_request")
        elif isinstance(event, ChannelStateChange):
            channel = event.channel
            if channel.state == "Up" and not channel.name.startswith(self._prefix):
                self.callers_up.setdefault(channel.caller.number, at)
        elif isinstance(event, ChannelDestroyed):
            leg = self._leg(event.channel.id, event.channel.name)
            if leg is not None:
                leg.destroyed_at = at
                self._ended(leg, at, "destroyed")

    def _leg(self, channel_id: str, name: str) -> LegTimes | None:
        if not name.startswith(self._prefix):
            return None
        leg = self.legs.get(channel_id)
        if leg is None:
            leg = self.legs[channel_id] = LegTimes(channel_id, name)
        return leg

    @staticmethod
    def _ended(leg: LegTimes, at: datetime, kind: str) -> None:
        # The earliest by Asterisk's clock, whatever order the events were delivered in.
        if leg.end_at is None or at < leg.end_at:
            leg.end_at, leg.end_kind = at, kind
