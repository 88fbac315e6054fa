"""Recordings on a real PBX: one checked file per answered call, through a crash of the
service (kill -9), with silence where the agent paused it, none for unanswered calls,
an alarm (and the call still served) when the root cannot be written, a file deleted
by hand found, and playback with seeking in a real Chromium <audio> element."""

from __future__ import annotations

import asyncio
import time
import wave
from array import array
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import expect

from telephony.auth import ensure_user
from telephony.recording.files import analyse_wav
from telephony.sandbox.pair import Sandbox
from telephony.world.audio import duration_s, read_samples, tone_share, tones_heard
from telephony.world.controller import PhoneBehaviour, World

from ..browser import Seen, open_page
from .conftest import (
    AGENT_TONE,
    CALLER_TONE,
    RunningService,
    SpawnService,
    StartService,
    eventually,
    set_phones,
)

DID = "908501234567"
TONES = [CALLER_TONE, AGENT_TONE]


async def talk_and_hang_up(world: World, seconds: float, number: str) -> float:
    """A call answered by an agent, `seconds` of talk; returns the talk time measured here."""
    set_phones(world, PhoneBehaviour(answer_after=0.3, tone_hz=AGENT_TONE))
    caller = await world.call(DID, number, "Kayıt", tone_hz=CALLER_TONE)
    await asyncio.wait_for(caller.answered.wait(), 10)
    started = time.monotonic()
    await asyncio.sleep(seconds)
    await world.hangup(caller)
    return time.monotonic() - started


async def test_a_ten_second_call_leaves_one_checked_ten_second_file(
    sandbox: Sandbox, world: World, start_service: StartService
) -> None:
    service = await start_service()
    talk = await talk_and_hang_up(world, 10.0, "+905551230001")
    call = await service.ended_call(number="+905551230001")
    kept = await service.checked_recording(call.id)
    assert kept.status == "complete", kept.detail
    path = service.recording_file(kept)
    assert abs(duration_s(path) - talk) < 1.0
    assert tones_heard(path, TONES) == {CALLER_TONE, AGENT_TONE}
    assert kept.expected_s is not None and abs(kept.duration_s - kept.expected_s) <= 1.0  # type: ignore[operator]
    assert analyse_wav(path.read_bytes()).sha256 == kept.sha256
    assert list(sandbox.pbx.recordings_dir.glob(f"{call.id}*")) == []  # moved, not copied


async def test_an_unanswered_call_leaves_no_recording(
    sandbox: Sandbox, world: World, start_service: StartService
) -> None:
    service = await start_service()
    set_phones(world, PhoneBehaviour(answer_after=None))
    caller = await world.call(DID, "+905551230002", "Ring Ring", listen=False)
    await asyncio.sleep(1.5)
    await world.hangup(caller)
    call = await service.ended_call(number="+905551230002")
    assert call.outcome == "abandoned"
    await asyncio.sleep(1.0)
    assert await service.runtime.recordings.get(call.id) is None
    assert list(sandbox.pbx.recordings_dir.glob(f"{call.id}*")) == []
    assert not any(Path(service.settings.recordings_dir).rglob("*.wav"))


async def test_pause_leaves_silence_of_the_paused_length(
    world: World, start_service: StartService
) -> None:
    service = await start_service()
    set_phones(world, PhoneBehaviour(answer_after=0.3, tone_hz=AGENT_TONE))
    caller = await world.call(DID, "+905551230003", "Kart", tone_hz=CALLER_TONE)
    await asyncio.wait_for(caller.answered.wait(), 10)
    live = await eventually(lambda: _talking(service), what="the call talking")
    call_id = live["id"]
    await asyncio.sleep(2.0)
    async with logged_in(service, "supervisor") as (http, csrf):
        await _post(http, service, f"/api/calls/{call_id}/recording/pause", csrf)
        paused_at = time.monotonic()
        await asyncio.sleep(3.0)
        await _post(http, service, f"/api/calls/{call_id}/recording/resume", csrf)
        paused_for = time.monotonic() - paused_at
    await asyncio.sleep(2.0)
    await world.hangup(caller)
    kept = await service.checked_recording(call_id)
    assert kept.status == "complete", kept.detail
    silence = longest_silence_s(service.recording_file(kept))
    assert abs(silence - paused_for) < 0.5, (silence, paused_for)
    assert len(kept.pauses) == 1 and kept.pauses[0]["until"]


async def test_unwritable_root_alarms_and_the_call_still_goes_through(
    world: World, start_service: StartService, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the root's parent should be")
    service = await start_service(recordings_dir=str(blocker / "recordings"))
    assert "recording_root_unwritable" in service.runtime.alarms.counts
    await talk_and_hang_up(world, 2.0, "+905551230004")
    call = await service.ended_call(number="+905551230004")
    assert call.outcome == "answered"
    kept = await service.checked_recording(call.id)
    assert kept.status == "failed" and kept.detail and "cannot keep" in kept.detail
    assert service.runtime.alarms.counts["recording_failed"] == 1


async def test_a_file_deleted_by_hand_is_found_and_reported(
    world: World, start_service: StartService
) -> None:
    service = await start_service()
    await talk_and_hang_up(world, 2.0, "+905551230005")
    call = await service.ended_call(number="+905551230005")
    kept = await service.checked_recording(call.id)
    service.recording_file(kept).unlink()
    recorder = service.runtime.recorder
    assert recorder is not None
    lost = await recorder.verify_files()
    assert [r.call_id for r in lost] == [call.id]
    after = await service.runtime.recordings.get(call.id)
    assert after is not None and after.status == "missing"
    assert service.runtime.alarms.counts["recording_missing"] == 1


async def test_kill_9_mid_call_then_restart_leaves_a_complete_recording(
    world: World, start_service: StartService, spawn_service: SpawnService
) -> None:
    killed = await spawn_service()
    set_phones(world, PhoneBehaviour(answer_after=0.3, tone_hz=AGENT_TONE))
    caller = await world.call(DID, "+905551230006", "Kill", tone_hz=CALLER_TONE)
    await asyncio.wait_for(caller.answered.wait(), 10)
    started = time.monotonic()
    await asyncio.sleep(2.0)
    await killed.kill_9()
    await asyncio.sleep(1.0)  # the call goes on in Asterisk with nobody watching
    service = await start_service()  # the same database and recordings root
    await eventually(lambda: _talking(service), what="the call adopted after the restart")
    await asyncio.sleep(2.0)
    await world.hangup(caller)
    talk = time.monotonic() - started
    call = await service.ended_call(number="+905551230006")
    assert call.outcome == "answered" and call.ended_at is not None
    kept = await service.checked_recording(call.id)
    assert kept.status == "complete", kept.detail
    path = service.recording_file(kept)
    assert abs(duration_s(path) - talk) < 1.0, (duration_s(path), talk)
    assert tones_heard(path, TONES) == {CALLER_TONE, AGENT_TONE}


async def test_playback_seeks_in_a_real_chromium_audio_element(
    world: World, start_service: StartService
) -> None:
    service = await start_service()
    await talk_and_hang_up(world, 4.0, "+905551230007")
    call = await service.ended_call(number="+905551230007")
    kept = await service.checked_recording(call.id)
    url = kept.as_json()["audio_url"]
    await ensure_user(service.runtime.store, "listener", "listen pass phrase", "supervisor")
    seen = Seen()
    login = ("listener", "listen pass phrase")
    async with open_page(f"{service.url}/", seen=seen, login=login) as page:
        audio = await page.evaluate(
            """async (url) => {
                const audio = new Audio(url);
                await new Promise((ok, fail) => {
                  audio.onloadedmetadata = ok; audio.onerror = () => fail(audio.error);
                });
                audio.currentTime = audio.duration - 1;
                await new Promise((ok) => { audio.onseeked = ok; });
                return {duration: audio.duration, at: audio.currentTime};
            }""",
            url,
        )
        await expect(page.locator("body")).to_be_visible()
    assert abs(audio["duration"] - (kept.duration_s or 0)) < 0.2
    assert audio["at"] > 2.0
    log = await service.runtime.recordings.audit_log(call.id)
    assert ("listener", "play") in [(e["who"], e["action"]) for e in log]


# --- helpers ------------------------------------------------------------------------------


async def _talking(service: RunningService) -> dict[str, Any] | None:
    calls = [c for c in service.runtime.live_calls() if c["phase"] == "talking"]
    return calls[0] if calls else None


class logged_in:
    """An HTTP session logged in as a fresh user of `role`; yields (session, csrf)."""

    def __init__(self, service: RunningService, role: str) -> None:
        self._service = service
        self._role = role
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> tuple[aiohttp.ClientSession, str]:
        name = f"{self._role}-user"
        await ensure_user(self._service.runtime.store, name, "a long pass phrase", self._role)
        self._http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with self._http.post(
            f"{self._service.url}/login", json={"username": name, "password": "a long pass phrase"}
        ) as response:
            assert response.status == 200, await response.text()
            csrf: str = (await response.json())["csrf_token"]
        return self._http, csrf

    async def __aexit__(self, *exc: object) -> None:
        assert self._http is not None
        await self._http.close()


async def _post(http: aiohttp.ClientSession, service: RunningService, path: str, csrf: str) -> None:
    async with http.post(f"{service.url}{path}", headers={"X-CSRF-Token": csrf}) as response:
        assert response.status == 200, await response.text()


def longest_silence_s(path: Path, window_s: float = 0.05) -> float:
    """The longest run of near-silent windows (the recording's pause)."""
    samples, rate = read_samples(path)
    window = int(rate * window_s)
    longest = current = 0
    for start in range(0, len(samples), window):
        chunk = samples[start : start + window]
        quiet = max((abs(x) for x in chunk), default=0) < 200
        current = current + 1 if quiet else 0
        longest = max(longest, current)
    return longest * window_s


async def test_a_call_that_ended_while_the_service_was_down_is_checked_at_start_up(
    world: World, start_service: StartService
) -> None:
    first = await start_service()
    set_phones(world, PhoneBehaviour(answer_after=0.3, tone_hz=AGENT_TONE))
    caller = await world.call(DID, "+905551230008", "Down", tone_hz=CALLER_TONE)
    await asyncio.wait_for(caller.answered.wait(), 10)
    live = await eventually(lambda: _talking(first), what="the call talking")
    started = time.monotonic()
    await eventually(lambda: first.runtime.recordings.get(live["id"]), what="recording started")
    await asyncio.sleep(0.5)
    await first.stop()  # the service goes away; the call and its recording go on
    await asyncio.sleep(2.0)
    await world.hangup(caller)
    talk = time.monotonic() - started
    await asyncio.sleep(3.0)  # down a while longer: the end must not be taken from the restart
    second = await start_service(database_url=first.settings.database_url)
    kept = await second.checked_recording(live["id"])
    assert kept.status == "complete", kept.detail
    assert kept.duration_s is not None and kept.duration_s >= talk - 0.5
    call = await second.runtime.store.get_call(live["id"])
    assert call is not None and call.outcome == "answered" and call.ended_at is not None
    assert call.answered_at is not None
    assert (call.ended_at - call.answered_at).total_seconds() < talk + 2.0


async def test_a_two_channel_did_records_the_caller_left_and_the_agent_right(
    world: World, start_service: StartService
) -> None:
    service = await start_service(recording_channels_by_did={DID: 2})
    talk = await talk_and_hang_up(world, 3.0, "+905551230009")
    call = await service.ended_call(number="+905551230009")
    kept = await service.checked_recording(call.id)
    assert kept.status == "complete" and kept.channels == 2, kept.detail
    path = service.recording_file(kept)
    left, right = stereo_sides(path)
    assert abs(len(left) / 8000 - talk) < 1.0
    assert tone_share(left, 8000, CALLER_TONE) > 0.5 and tone_share(left, 8000, AGENT_TONE) < 0.05
    assert tone_share(right, 8000, AGENT_TONE) > 0.5 and tone_share(right, 8000, CALLER_TONE) < 0.05


def stereo_sides(path: Path) -> tuple[list[int], list[int]]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 2 and wav.getframerate() == 8000
        frames = array("h", wav.readframes(wav.getnframes()))
    return list(frames[0::2]), list(frames[1::2])


async def test_opus_is_kept_when_configured_after_the_wav_was_checked(
    world: World, start_service: StartService
) -> None:
    service = await start_service(recording_format="opus")
    talk = await talk_and_hang_up(world, 3.0, "+905551230010")
    call = await service.ended_call(number="+905551230010")
    kept = await service.checked_recording(call.id)
    assert kept.status == "complete" and kept.format == "opus", kept.detail
    path = service.recording_file(kept)
    assert path.suffix == ".opus" and path.read_bytes()[:4] == b"OggS"
    assert kept.duration_s is not None and abs(kept.duration_s - talk) < 1.0
    assert kept.size_bytes is not None and kept.size_bytes < 16_000 * talk / 2  # wav: 16 kB/s
    async with (
        logged_in(service, "admin") as (http, _),
        http.get(f"{service.url}{kept.as_json()['audio_url']}") as response,
    ):
        assert response.status == 200 and response.content_type == "audio/ogg"
