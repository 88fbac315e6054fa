"""Typed ARI REST client: one async method per ARI operation we use.

Parameter names on the wire are ARI's (camelCase, query string); the Python
names are snake_case. Errors: see `telephony.ari.errors` (404 means gone).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from telephony.ari.errors import AriError
from telephony.ari.models import Application, Bridge, Channel, LiveRecording, Playback
from telephony.ari.transport import AriTransport, QueryValue, seg


class AriRest(AriTransport):
    """`AriRest("http://127.0.0.1:8088", user, password)`; use as `async with`."""

    # --- channels -------------------------------------------------------------

    async def list_channels(self) -> list[Channel]:
        return await self._many(Channel, "/channels")

    async def get_channel(self, channel_id: str) -> Channel:
        return await self._one(Channel, "GET", f"/channels/{seg(channel_id)}")

    async def originate(
        self,
        endpoint: str,
        *,
        app: str | None = None,
        app_args: str | None = None,
        caller_id: str | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        originator: str | None = None,
        formats: str | None = None,
        timeout: int | None = None,  # noqa: ASYNC109 - Asterisk's dial timeout, not ours
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> Channel:
        """POST /channels: a new channel to `endpoint`, into `app` or the dialplan."""
        params: dict[str, QueryValue] = {
            "endpoint": endpoint,
            "app": app,
            "appArgs": app_args,
            "callerId": caller_id,
            "channelId": channel_id,
            "otherChannelId": other_channel_id,
            "originator": originator,
            "formats": formats,
            "timeout": timeout,
            "context": context,
            "extension": extension,
            "priority": priority,
        }
        return await self._one(Channel, "POST", "/channels", params, variables=variables)

    async def create_channel(
        self,
        endpoint: str,
        *,
        app: str,
        app_args: str | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        originator: str | None = None,
        formats: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> Channel:
        """POST /channels/create: a channel that is not dialled until `dial()`."""
        params: dict[str, QueryValue] = {
            "endpoint": endpoint,
            "app": app,
            "appArgs": app_args,
            "channelId": channel_id,
            "otherChannelId": other_channel_id,
            "originator": originator,
            "formats": formats,
        }
        return await self._one(Channel, "POST", "/channels/create", params, variables=variables)

    async def dial(
        self,
        channel_id: str,
        *,
        caller: str | None = None,
        timeout: int | None = None,  # noqa: ASYNC109 - seconds Asterisk rings, not ours
    ) -> None:
        params: dict[str, QueryValue] = {"caller": caller, "timeout": timeout}
        await self.request("POST", f"/channels/{seg(channel_id)}/dial", params)

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/answer", urgent=True)

    async def ring(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/ring")

    async def ring_stop(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{seg(channel_id)}/ring")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        path = f"/channels/{seg(channel_id)}"
        await self.request("DELETE", path, {"reason": reason}, urgent=True)

    async def hold(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/hold")

    async def unhold(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{seg(channel_id)}/hold")

    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/moh", {"mohClass": moh_class})

    async def stop_moh(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{seg(channel_id)}/moh")

    async def mute(self, channel_id: str, direction: str = "both") -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/mute", {"direction": direction})

    async def unmute(self, channel_id: str, direction: str = "both") -> None:
        path = f"/channels/{seg(channel_id)}/mute"
        await self.request("DELETE", path, {"direction": direction})

    async def play(
        self,
        channel_id: str,
        media: str | list[str],
        *,
        playback_id: str | None = None,
        lang: str | None = None,
    ) -> Playback:
        params: dict[str, QueryValue] = {
            "media": _as_list(media),
            "playbackId": playback_id,
            "lang": lang,
        }
        return await self._one(Playback, "POST", f"/channels/{seg(channel_id)}/play", params)

    async def record_channel(
        self,
        channel_id: str,
        name: str,
        *,
        format: str = "wav",
        if_exists: str = "fail",
        beep: bool = False,
        max_duration_seconds: int = 0,
        terminate_on: str = "none",
    ) -> LiveRecording:
        params: dict[str, QueryValue] = {
            "name": name,
            "format": format,
            "ifExists": if_exists,
            "beep": beep,
            "maxDurationSeconds": max_duration_seconds,
            "terminateOn": terminate_on,
        }
        path = f"/channels/{seg(channel_id)}/record"
        return await self._one(LiveRecording, "POST", path, params)

    async def snoop(
        self,
        channel_id: str,
        *,
        app: str,
        spy: str = "none",
        whisper: str = "none",
        app_args: str | None = None,
        snoop_id: str | None = None,
    ) -> Channel:
        params: dict[str, QueryValue] = {
            "app": app,
            "spy": spy,
            "whisper": whisper,
            "appArgs": app_args,
            "snoopId": snoop_id,
        }
        return await self._one(Channel, "POST", f"/channels/{seg(channel_id)}/snoop", params)

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        params: dict[str, QueryValue] = {"variable": name, "value": value}
        await self.request("POST", f"/channels/{seg(channel_id)}/variable", params)

    async def get_variable(self, channel_id: str, name: str) -> str:
        path = f"/channels/{seg(channel_id)}/variable"
        data = await self.request("GET", path, {"variable": name})
        if not isinstance(data, dict) or not isinstance(data.get("value"), str):
            raise AriError("expected {'value': str}", method="GET", path=path)
        return str(data["value"])

    async def continue_in_dialplan(
        self,
        channel_id: str,
        *,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
    ) -> None:
        params: dict[str, QueryValue] = {
            "context": context,
            "extension": extension,
            "priority": priority,
            "label": label,
        }
        await self.request("POST", f"/channels/{seg(channel_id)}/continue", params)

    async def send_dtmf(self, channel_id: str, dtmf: str) -> None:
        await self.request("POST", f"/channels/{seg(channel_id)}/dtmf", {"dtmf": dtmf})

    # --- bridges --------------------------------------------------------------

    async def list_bridges(self) -> list[Bridge]:
        return await self._many(Bridge, "/bridges")

    async def get_bridge(self, bridge_id: str) -> Bridge:
        return await self._one(Bridge, "GET", f"/bridges/{seg(bridge_id)}")

    async def create_bridge(
        self, *, type: str = "mixing", bridge_id: str | None = None, name: str | None = None
    ) -> Bridge:
        params: dict[str, QueryValue] = {"type": type, "bridgeId": bridge_id, "name": name}
        return await self._one(Bridge, "POST", "/bridges", params)

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{seg(bridge_id)}")

    async def add_channel(
        self, bridge_id: str, channel: str | list[str], *, role: str | None = None
    ) -> None:
        params: dict[str, QueryValue] = {"channel": _as_list(channel), "role": role}
        await self.request("POST", f"/bridges/{seg(bridge_id)}/addChannel", params)

    async def remove_channel(self, bridge_id: str, channel_id: str) -> None:
        params: dict[str, QueryValue] = {"channel": channel_id}
        await self.request("POST", f"/bridges/{seg(bridge_id)}/removeChannel", params)

    async def record_bridge(
        self,
        bridge_id: str,
        name: str,
        *,
        format: str = "wav",
        if_exists: str = "fail",
        max_duration_seconds: int = 0,
    ) -> LiveRecording:
        params: dict[str, QueryValue] = {
            "name": name,
            "format": format,
            "ifExists": if_exists,
            "maxDurationSeconds": max_duration_seconds,
        }
        path = f"/bridges/{seg(bridge_id)}/record"
        return await self._one(LiveRecording, "POST", path, params)

    async def play_bridge(
        self, bridge_id: str, media: str | list[str], *, playback_id: str | None = None
    ) -> Playback:
        params: dict[str, QueryValue] = {"media": _as_list(media), "playbackId": playback_id}
        return await self._one(Playback, "POST", f"/bridges/{seg(bridge_id)}/play", params)

    async def start_bridge_moh(self, bridge_id: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/bridges/{seg(bridge_id)}/moh", {"mohClass": moh_class})

    async def stop_bridge_moh(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{seg(bridge_id)}/moh")

    # --- recordings, playbacks, applications, asterisk -------------------------

    async def get_live_recording(self, name: str) -> LiveRecording:
        return await self._one(LiveRecording, "GET", f"/recordings/live/{seg(name)}")

    async def stop_recording(self, name: str) -> None:
        await self.request("POST", f"/recordings/live/{seg(name)}/stop")

    async def mute_recording(self, name: str) -> None:
        """Silence replaces the audio until unmuted (the file keeps its length)."""
        await self.request("POST", f"/recordings/live/{seg(name)}/mute")

    async def unmute_recording(self, name: str) -> None:
        await self.request("DELETE", f"/recordings/live/{seg(name)}/mute")

    async def stored_recording_file(self, name: str) -> bytes:
        return await self.download(f"/recordings/stored/{seg(name)}/file")

    async def delete_stored_recording(self, name: str) -> None:
        await self.request("DELETE", f"/recordings/stored/{seg(name)}")

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"/playbacks/{seg(playback_id)}")

    async def get_application(self, app: str) -> Application:
        return await self._one(Application, "GET", f"/applications/{seg(app)}")

    async def filter_events(
        self,
        app: str,
        *,
        allowed: Iterable[str] | None = None,
        disallowed: Iterable[str] | None = None,
    ) -> None:
        """Which event types Asterisk sends the app: only `allowed` ones (if given), never
        `disallowed` ones; a list not given is left as it is."""
        lists = {"allowed": allowed, "disallowed": disallowed}
        body = {k: [{"type": t} for t in v] for k, v in lists.items() if v is not None}
        await self.request("PUT", f"/applications/{seg(app)}/eventFilter", body=body)

    async def asterisk_info(self) -> dict[str, Any]:
        data = await self.request("GET", "/asterisk/info")
        if not isinstance(data, dict):
            raise AriError("expected a JSON object", method="GET", path="/asterisk/info")
        return data


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
