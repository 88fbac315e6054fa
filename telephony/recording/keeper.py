"""Recordings over ARI: started on the caller's channel, checked and kept after the call.

Mechanism (why): a snoop channel on the caller (`spy=both`: what the caller says and
hears, mixed mono) recorded by ARI. The snoop is attached to the caller's channel, not
to a bridge, and the caller never leaves the call's bridge (on hold the agent steps
out and music plays in), so the recording is one file through holds, agent changes
and escalations; it lives in Asterisk, so it goes on when the service restarts or
loses the socket, and ends by itself when the caller hangs up. A bridge recording
would split when the call moves bridge; a dialplan MixMonitor cannot be started over
ARI once the call is in Stasis, nor muted from it.

After the call the file is fetched over ARI (`/recordings/stored/{name}/file`, so
Asterisk may run on another host), written under the root in a date-partitioned
layout, checked (exists, length against the talk time, not silent, SHA-256) and only
then removed from Asterisk. Every failure raises an alarm and marks the recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from telephony.alarms import Alarms
from telephony.ari import AriError, AriRest, AriUnavailable, Conflict, NotFound
from telephony.ari.stasis import until_in_stasis
from telephony.recording.files import (
    Analysis,
    analyse_wav,
    inside,
    relative_path,
    stereo_wav,
    verdict,
)
from telephony.store.recordings import RecordingRecord, RecordingStore
from telephony.store.retry import write_with_retry
from telephony.store.writer import StoreWriter

log = structlog.get_logger("telephony.recording")

SNOOP_SUFFIX = "-rec"
# Two-channel recordings (for QA): the caller's voice left, what the caller hears right.
LEFT, RIGHT = "-caller", "-agent"


@dataclass(frozen=True)
class Part:
    snoop: str  # the snoop channel's id
    spy: str  # what it hears: both (mixed), in (the caller's voice), out (what they hear)
    name: str  # Asterisk's recording name


def parts(call_id: str, channels: int) -> list[Part]:
    if channels == 2:
        return [
            Part(f"{call_id}{SNOOP_SUFFIX}", "in", f"{call_id}{LEFT}"),
            Part(f"{call_id}{SNOOP_SUFFIX}{RIGHT}", "out", f"{call_id}{RIGHT}"),
        ]
    return [Part(f"{call_id}{SNOOP_SUFFIX}", "both", call_id)]


def snoop_id(call_id: str) -> str:
    return f"{call_id}{SNOOP_SUFFIX}"


def is_recording_channel(channel_id: str) -> bool:
    return channel_id.endswith((SNOOP_SUFFIX, f"{SNOOP_SUFFIX}{RIGHT}"))


def call_of(name: str) -> str:
    """The call a recording name belongs to (a two-channel part's suffix removed)."""
    for suffix in (LEFT, RIGHT):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


class RecordingKeeper:
    def __init__(
        self,
        *,
        rest: AriRest,
        store: RecordingStore,
        alarms: Alarms,
        root: Path,
        app: str,
        clock: Callable[[], datetime],
        fmt: str = "wav",
        retention_days: Callable[[str], int] = lambda did: 365,
        channels: Callable[[str], int] = lambda did: 1,
        keep_format: str = "wav",
        fetch_delays: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0),
        writer: StoreWriter | None = None,
    ) -> None:
        self._rest = rest
        self._store = store
        self._alarms = alarms
        self.root = root
        self._app = app
        self._clock = clock
        self._format = fmt
        self._retention_days = retention_days
        self._channels = channels
        self._keep_format = keep_format  # wav, or opus (transcoded after the check)
        self._fetch_delays = fetch_delays
        self._checks: dict[str, asyncio.Task[None]] = {}
        # The rows' writes, in order, in the calls' own writer (the service's): two
        # writers of one SQLite file lock each other out ("database is locked").
        self._writer = writer or StoreWriter(None)
        # Calls whose hangup nobody saw (they ended while the service was down).
        self._end_unseen: set[str] = set()

    # --- during the call ------------------------------------------------------------

    async def start(self, call_id: str, caller_channel: str, did: str = "") -> None:
        """Record what the caller says and hears from now on; safe to repeat.

        Asterisk is asked first; the row is written behind, in order (a slow or absent
        database never delays a recording, nor loses its row: it is tried again)."""
        channels = self._channels(did)
        at = self._clock()
        fmt = self._format
        self._later(lambda: self._store.started(call_id, call_id, fmt, channels, at))
        try:
            for part in parts(call_id, channels):
                await self._start_part(part, call_id, caller_channel)
        except AriUnavailable:
            raise  # Asterisk unreachable for now: the executor tries again
        except NotFound:
            self._later(lambda: self._store.forget(call_id))  # the caller is gone
            raise
        except AriError as error:
            # The call goes on; the recording is marked and people are told at once.
            self._failed_later(call_id, f"could not start: {error}")
        else:
            began = self._clock()  # the length is checked from when it really began
            self._later(lambda: self._store.update(call_id, started_at=began))

    def _later(self, write: Callable[[], Awaitable[object]]) -> None:
        """A store write off the call's path, after the ones before it (in order), tried
        again while the database is away (the writer's own retry)."""
        self._writer.put("recording", write)
        self._writer.start()

    async def _start_part(self, part: Part, call_id: str, caller_channel: str) -> None:
        with contextlib.suppress(Conflict):  # an earlier try made it
            await self._rest.snoop(
                caller_channel,
                app=self._app,
                spy=part.spy,
                app_args=f"recording,{call_id}",
                snoop_id=part.snoop,
            )
        with contextlib.suppress(Conflict):  # already recording
            await until_in_stasis(
                lambda: self._rest.record_channel(
                    part.snoop, part.name, format=self._format, if_exists="fail"
                )
            )

    async def mute(self, call_id: str) -> None:
        for part in await self._parts(call_id):
            await self._rest.mute_recording(part.name)

    async def unmute(self, call_id: str) -> None:
        for part in await self._parts(call_id):
            await self._rest.unmute_recording(part.name)

    async def _parts(self, call_id: str) -> list[Part]:
        record = await self._store.get(call_id)
        return parts(call_id, record.channels if record else 1)

    # --- events -----------------------------------------------------------------------

    def finished(self, name: str) -> None:
        """Asterisk closed the file (the caller hung up): check it, off the call path."""
        self._check_soon(call_of(name))

    async def failed(self, name: str, cause: str) -> None:
        self._failed_later(call_of(name), f"Asterisk: {cause or 'recording failed'}")

    def _failed_later(self, call_id: str, why: str) -> None:
        self._alarms.raise_alarm("recording_failed", why, call_id=call_id)
        self._later(lambda: self._store.update(call_id, status="failed", detail=why[:255]))

    def _check_soon(self, call_id: str) -> None:
        if call_id in self._checks:
            return
        # Tried again while the database is away (the check reads and writes rows).
        check = write_with_retry(f"recording check {call_id}", lambda: self.check(call_id))
        task = asyncio.get_running_loop().create_task(check)
        self._checks[call_id] = task
        task.add_done_callback(lambda _: self._checks.pop(call_id, None))

    async def wait_for_checks(self) -> None:
        pending = [self._writer.flushed(), *self._checks.values()]
        await asyncio.gather(*pending, return_exceptions=True)

    # --- after the call ---------------------------------------------------------------

    async def check(self, call_id: str) -> None:
        """Fetch, keep and check one finished recording; mark it and alarm if it fails."""
        # Its row may still be on its way (queued, or the database away when it began).
        await self._writer.flushed()
        record = await self._store.get(call_id)
        if record is None or record.status != "recording":
            return
        data = await self._fetch_all(record)
        facts = await self._call_end(call_id)
        unseen = call_id in self._end_unseen
        ended_at = None if unseen else facts.get("ended_at")
        expected = (ended_at - record.started_at).total_seconds() if ended_at else None
        analysis: Analysis | None = None
        if data is not None:
            try:
                analysis = await asyncio.to_thread(analyse_wav, data)
            except ValueError as error:
                log.error("recording.unreadable", call_id=call_id, error=str(error))
        status, detail = verdict(analysis, expected)
        values: dict[str, Any] = {
            "status": status,
            "detail": detail,
            "checked_at": self._clock(),
            "ended_at": ended_at,
            "expected_s": round(expected, 2) if expected is not None else None,
            "retain_until": record.started_at
            + timedelta(days=self._retention_days(str(facts.get("did") or ""))),
        }
        if analysis is not None and data is not None:
            kept, fmt = await self._compressed(call_id, data)
            path = relative_path(call_id, record.started_at, fmt)
            try:
                await asyncio.to_thread(self._write, path, kept)
            except OSError as error:
                status, detail = "failed", f"cannot keep the file: {error.strerror or error}"
                values.update(status=status, detail=detail[:255])
            else:
                if unseen:  # the recording ended with the call: the best end time there is
                    ended_at = record.started_at + timedelta(seconds=analysis.duration_s)
                    values["ended_at"] = ended_at
                    await self._store.correct_call_end(call_id, ended_at)
                values.update(
                    path=path,
                    format=fmt,
                    duration_s=round(analysis.duration_s, 2),
                    size_bytes=len(kept),
                    sha256=hashlib.sha256(kept).hexdigest(),  # of the file as kept
                    channels=analysis.channels,
                )
        await self._store.update(call_id, **values)
        self._end_unseen.discard(call_id)
        log.info("recording.checked", call_id=call_id, status=status, detail=detail)
        if status != "complete":
            self._alarms.raise_alarm(f"recording_{status}", detail, call_id=call_id)
        if "path" in values:  # kept and checked: Asterisk's copy can go
            for part in parts(call_id, record.channels):
                with contextlib.suppress(AriError):
                    await self._rest.delete_stored_recording(part.name)

    async def _compressed(self, call_id: str, wav: bytes) -> tuple[bytes, str]:
        """The file to keep: the checked wav, or Opus when configured (after the call,
        never on its path). If the encoder fails the wav is kept: nothing is lost."""
        if self._keep_format != "opus":
            return wav, "wav"
        try:
            encoder = await asyncio.create_subprocess_exec(
                "opusenc",
                "--quiet",
                "--bitrate",
                "24",
                "-",
                "-",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            opus, errors = await encoder.communicate(wav)
        except OSError as error:
            log.warning("recording.opus_unavailable", call_id=call_id, error=str(error))
            return wav, "wav"
        if encoder.returncode != 0 or not opus:
            log.warning("recording.opus_failed", call_id=call_id, error=errors.decode()[:200])
            return wav, "wav"
        return opus, "opus"

    async def _call_end(self, call_id: str) -> dict[str, Any]:
        """The call's row, once its end is stored (written just behind the hangup)."""
        facts: dict[str, Any] | None = None
        for delay in (0.05, 0.1, 0.2, 0.4, 0.8, 1.6):
            facts = await self._store.call_facts(call_id)
            if facts and facts.get("ended_at"):
                return facts
            await asyncio.sleep(delay)
        return facts or {}

    async def _fetch_all(self, record: RecordingRecord) -> bytes | None:
        """The call's file: one mono recording, or two parts made one stereo file. The
        check starts when the first part is finished; the other may still be closing
        (its header not written yet), so an unreadable pair is fetched again."""
        for delay in (*self._fetch_delays, None):
            found = [await self._fetch(p.name) for p in parts(record.call_id, record.channels)]
            if any(data is None for data in found):
                return None
            if len(found) == 1:
                return found[0]
            try:
                return await asyncio.to_thread(stereo_wav, found[0] or b"", found[1] or b"")
            except ValueError as error:
                if delay is None:
                    log.error("recording.merge_failed", call_id=record.call_id, error=str(error))
                    return None
                await asyncio.sleep(delay)
        return None

    async def _fetch(self, name: str) -> bytes | None:
        """Asterisk renames the file into place just after RecordingFinished: retry."""
        for delay in (*self._fetch_delays, None):
            try:
                return await self._rest.stored_recording_file(name)
            except NotFound:
                pass
            except AriError as error:
                log.warning("recording.fetch_retry", name=name, error=str(error))
            if delay is not None:
                await asyncio.sleep(delay)
        return None

    def _write(self, relative: str, data: bytes) -> None:
        target = inside(self.root, relative)
        if target is None:
            raise OSError(f"{relative!r} is outside the recordings root")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(data)
        os.replace(partial, target)  # never a half-written file under the real name

    # --- reconcile -----------------------------------------------------------------

    def end_unseen(self, call_id: str) -> None:
        """The call ended while the service was down: its end comes from the recording."""
        self._end_unseen.add(call_id)

    async def sweep(self, live_channels: set[str]) -> None:
        """After a (re)connect or start-up: check recordings whose call ended meanwhile."""
        for record in await self._store.unchecked():
            if snoop_id(record.call_id) not in live_channels:
                self._check_soon(record.call_id)

    async def verify_files(self) -> list[RecordingRecord]:
        """Kept recordings whose file is gone (deleted by hand): marked and alarmed."""
        lost = []
        for record in await self._store.checked():
            target = inside(self.root, record.path or "")
            if target is None or not await asyncio.to_thread(target.is_file):
                lost.append(record)
                why = f"file {record.path} is gone from the recordings root"
                await self._store.update(record.call_id, status="missing", detail=why)
                self._alarms.raise_alarm("recording_missing", why, call_id=record.call_id)
        return lost
