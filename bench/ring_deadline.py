"""`ring_deadline_precision`: how exactly an agent's ring deadline is kept, next to app_queue.

Setup, per concurrency N: one PBX and one world Asterisk (as in the tests), N desk
phones that ring and never answer, N callers dialling in at once.
- **service**: the service in its own process with N agents (one per phone), a ring
  policy whose agent limit is the deadline (`service_settings`), `no_agent_retry_s` = 1,
  `max_wait_s` = 1 h. Each agent leg rings until the service's own timer hangs it up
  and the service offers the call to the next free agent.
- **reference, app_queue**: the same callers sent by the same PBX to `Queue()`
  (dialplans/pbx/extensions_bench.conf), one queue whose members are the same N
  `PJSIP/agentNNNN` endpoints, `timeout` = the deadline with `timeoutpriority=conf`,
  `retry` = 1, autofill (every caller rings a member at once), ringinuse=no (one caller
  per member).

Measured per agent leg, from Asterisk's own event timestamps only (bench/observer.py):
error = end - (ringing + deadline), where ringing = the leg's `Dial` RINGING and end =
the earliest of its `ChannelHangupRequest`, final `Dial` status or `ChannelDestroyed`.
`p50_ms`/`p99_ms`/`max_ms` are of |error| (nearest rank); `signed_*` keep the sign
(negative: the phone rang less than the deadline). `dial_anchored_*` are the same from
the leg's `Dial` start instead of RINGING (both timers start before the phone's 180, so
a slow 180 shortens the ring; `ring_setup_*` is Dial start -> RINGING). Callers are held
for several rounds
of ringing, so each caller gives several legs; legs whose deadline falls within 1 s of
the end of the hold (when the callers hang up) are not counted.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import socket
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import REPO, BenchError, ServiceProcess, hang_up_all, place_calls, until_idle
from bench.observer import LegTimes, RingObserver
from bench.results import BenchResult, Number, Reference, percentile
from telephony.ari import AriRest, Channel
from telephony.sandbox.instance import AsteriskInstall, AsteriskInstance
from telephony.sandbox.pair import Sandbox, agent_endpoint
from telephony.world.controller import PhoneBehaviour, World

NAME = "ring_deadline_precision"
# pbx_p99_ms: the caller escalation's, at the PBX (bench/escalation_deadline.py).
COLUMNS = ("p99_ms", "p50_ms", "max_ms", "signed_p50_ms", "n", "pbx_p99_ms")
QUEUE_DID = "thirdring-bench-queue"  # dialplans/pbx/extensions_bench.conf
QUEUE = "thirdring-bench"  # dialplans/pbx/queues.conf
SERVICE_DID = "908502229999"  # any number goes to the service
RETRY_S = 1  # app_queue's `retry` (whole seconds) and the service's no_agent_retry_s
CALLER_RINGS = 20  # the service's max_rings: its caller deadline, far beyond any hold
FIRST_PHONE = 2001
# A leg whose deadline falls this close to the callers' hang-up is not counted: its
# end may be the hang-up, not the deadline.
GUARD = timedelta(seconds=1)


@dataclass(frozen=True)
class Options:
    concurrency: tuple[int, ...] = (1, 50, 200)
    deadline_s: int = 4
    rounds: int = 3  # rings per caller at least
    min_legs: int = 10  # more rounds at low concurrency, so a figure rests on this many legs
    service_src: Path = REPO
    legs_dir: Path | None = None  # also write every leg's timestamps here (CSV), for a closer look


def run(options: Options) -> list[BenchResult]:
    if not options.concurrency or min(options.concurrency) < 1 or max(options.concurrency) > 998:
        raise BenchError(f"concurrency must be 1..998 each, got {options.concurrency}")
    if not 2 <= options.deadline_s <= 11:
        raise BenchError(
            f"deadline_s must be a whole number of seconds 2..11 (app_queue's unit; the "
            "service's cadence segments are at most 10 s), "
            f"got {options.deadline_s}"
        )
    phones = tuple(str(FIRST_PHONE + i) for i in range(max(options.concurrency)))
    box = Sandbox(phone_extensions=phones)
    _say(f"starting PBX + world with {len(phones)} desk phones")
    box.start()
    # After the start, which copies the host's /etc/hosts into the root (checked before
    # it, a new machine's first run warned of a file about to be written).
    warning = host_lookup_warning(box.pbx.install)
    if warning:
        _say(f"WARNING: {warning}")
    try:
        results = asyncio.run(_run(box, options))
    finally:
        box.stop()
    if warning:
        for result in results:
            result.notes.append(f"WARNING: {warning}")
    return results


def host_lookup_warning(install: AsteriskInstall) -> str | None:
    """Why the figures may be Asterisk stalling on DNS rather than anything measured.

    Asterisk resolves this host's name for every call it sets up (when that fails, also
    A.ROOT-SERVERS.NET). The sandbox root is made by debootstrap, without /etc/hosts;
    with no DNS answering, concurrent look-ups hang for the resolver's 5 s timeout
    (seen here: 49 of 60 concurrent look-ups took 5-10 s), and each stalls a call's
    setup, under app_queue and the service alike.
    """
    if install.root is None:
        return None
    name = socket.gethostname()
    hosts = install.root / "etc" / "hosts"
    try:
        known = any(name in line.split()[1:] for line in hosts.read_text().splitlines())
    except OSError:
        known = False
    if known:
        return None
    return (
        f"{hosts} does not name this host ({name!r}): Asterisk's per-call look-up of it goes "
        "to DNS, which stalls call set-up up to 5 s under load; figures are not precision"
    )


async def _run(box: Sandbox, options: Options) -> list[BenchResult]:
    pbx = box.pbx
    results: list[BenchResult] = []
    world = World.of(box.world)
    await world.start()
    silent = PhoneBehaviour(answer_after=None, tone_hz=None, listen=False)
    async with AriRest(pbx.ari_url, pbx.ari_username, pbx.ari_password) as rest:
        # extensions_bench.conf refuses callers unless this is set: a benchmark is running.
        flag = {"variable": "THIRDRING_BENCH", "value": "1"}
        await rest.request("POST", "/asterisk/variable", flag)
        try:
            for n in options.concurrency:
                phones = [str(FIRST_PHONE + i) for i in range(n)]
                for phone in phones:
                    world.set_phone(phone, silent)
                rounds = max(options.rounds, math.ceil(options.min_legs / n))
                # Never as far as the service's caller deadline (then it would escalate).
                rounds = min(
                    rounds,
                    (CALLER_RINGS - 2) * options.deadline_s // (options.deadline_s + RETRY_S),
                )
                hold_s = rounds * (options.deadline_s + RETRY_S) + GUARD.total_seconds()
                ours, our_notes = await _service_phase(box, rest, world, phones, hold_s, options)
                theirs, their_notes = await _queue_phase(box, rest, world, phones, hold_s, options)
                results.append(
                    BenchResult(
                        name=NAME,
                        params={"concurrency": n, "deadline_s": options.deadline_s},
                        metrics=ours,
                        reference=Reference(name="app_queue", metrics=theirs),
                        notes=[f"N={n} service: {x}" for x in our_notes]
                        + [f"N={n} app_queue: {x}" for x in their_notes],
                    )
                )
        finally:
            await world.stop()
    return results


def service_settings(deadline_s: int) -> dict[str, object]:
    """The service's ring policy for an agent deadline of `deadline_s`.

    Rings are the service's unit: an agent rings `agent_rings` cycles of the call's
    cadence. A cadence of its own whose cycle is the deadline, one agent ring, and the
    caller's own deadline (`max_rings` cycles, then the escalation) far beyond the hold:
    only agent deadlines happen while measuring. No auto-pause on a miss, or every agent
    would be paused after the first round.
    """
    on_ms = min(1000, deadline_s * 500)
    return {
        "no_agent_retry_s": float(RETRY_S),
        "max_wait_s": 3600.0,
        "log_level": "info",
        "rings": {
            "default": {
                "cadence": "bench",
                "max_rings": float(CALLER_RINGS),
                "agent_rings": 1.0,
                "selection": "longest_idle",
                "escalation": [{"kind": "message"}],
                "auto_pause_on_miss": False,
            },
            "custom_cadences": {
                "bench": {"segments_ms": [on_ms, deadline_s * 1000 - on_ms]},
            },
        },
    }


async def _service_phase(
    box: Sandbox,
    rest: AriRest,
    world: World,
    phones: Sequence[str],
    hold_s: float,
    options: Options,
) -> tuple[dict[str, Number], list[str]]:
    n = len(phones)
    agents = [
        {"id": f"agent{p}", "name": f"Bench agent {p}", "endpoint": agent_endpoint(p)}
        for p in phones
    ]
    settings = service_settings(options.deadline_s)
    with tempfile.TemporaryDirectory(prefix="thirdring-bench-") as tmp:
        service = ServiceProcess(box.pbx, settings, agents, Path(tmp), src=options.service_src)
        try:
            await service.start()
            _say(f"N={n} service: {n} callers, holding {hold_s:.0f}s")
            legs, cut, mishaps = await _ring_for(box.pbx, rest, world, SERVICE_DID, n, hold_s)
        finally:
            await service.stop()
            if options.legs_dir is not None:
                options.legs_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy(service.log_path, options.legs_dir / f"service-{n}.log")
        metrics, notes = _measure(legs, options.deadline_s, cut, mishaps)
        _dump(options.legs_dir, f"service-{n}", legs)
        problems = service.log_problems()
        if problems:
            notes.append("service log: " + ", ".join(f"{k} x{v}" for k, v in problems.items()))
    return metrics, notes


async def _queue_phase(
    box: Sandbox,
    rest: AriRest,
    world: World,
    phones: Sequence[str],
    hold_s: float,
    options: Options,
) -> tuple[dict[str, Number], list[str]]:
    n = len(phones)
    await _configure_queue(box.pbx, phones, options.deadline_s)
    _say(f"N={n} app_queue: {n} callers, holding {hold_s:.0f}s")
    legs, cut, mishaps = await _ring_for(box.pbx, rest, world, QUEUE_DID, n, hold_s)
    _dump(options.legs_dir, f"app_queue-{n}", legs)
    return _measure(legs, options.deadline_s, cut, mishaps)


def _dump(folder: Path | None, name: str, legs: Sequence[LegTimes]) -> None:
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    fields = (
        "channel_id",
        "name",
        "created_at",
        "dial_at",
        "ringing_at",
        "end_at",
        "end_kind",
        "destroyed_at",
    )
    rows = [",".join(fields)]
    for leg in sorted(
        legs, key=lambda x: x.dial_at or x.ringing_at or datetime.max.replace(tzinfo=UTC)
    ):
        values = [getattr(leg, f) for f in fields]
        rows.append(
            ",".join(v.isoformat() if isinstance(v, datetime) else str(v or "") for v in values)
        )
    (folder / f"{name}.csv").write_text("\n".join(rows) + "\n")


async def _configure_queue(pbx: AsteriskInstance, phones: Sequence[str], deadline_s: int) -> None:
    """queues.conf includes queues_bench.conf in the queue's section: the timeout and members."""
    text = f"timeout = {deadline_s}\ntimeoutpriority = conf\n" + "".join(
        f"member => {agent_endpoint(p)}\n" for p in phones
    )
    (pbx.install.host_path(pbx.home) / "etc" / "queues_bench.conf").write_text(text)
    await asyncio.to_thread(pbx.cli, f"queue reload all {QUEUE}")
    shown = await asyncio.to_thread(pbx.cli, f"queue show {QUEUE}")
    members = shown.count(agent_endpoint(""))
    if members != len(phones):
        raise BenchError(f"queue {QUEUE} has {members} members, expected {len(phones)}:\n{shown}")


async def _ring_for(
    pbx: AsteriskInstance, rest: AriRest, world: World, did: str, n: int, hold_s: float
) -> tuple[list[LegTimes], datetime, Mishaps]:
    """N callers ring for `hold_s`, then hang up; every agent leg as Asterisk told it, the
    callers that could not be placed, and the PBX channels still up 20 s after the callers
    hung up (then hung up by force)."""
    async with RingObserver(pbx.ari_url, pbx.ari_username, pbx.ari_password) as observer:
        callers, failed = await place_calls(world, did, n)
        await asyncio.sleep(hold_s)
        cut = datetime.now(UTC)
        await hang_up_all(world, callers)
        stuck = await until_idle(rest)
        await asyncio.sleep(0.5)  # the last events on their way
    return list(observer.legs.values()), cut, Mishaps(stuck, failed)


def _ms(delta: timedelta) -> float:
    return delta.total_seconds() * 1000


@dataclass(frozen=True)
class Mishaps:
    """What went wrong around the measurement, as evidence."""

    stuck: Sequence[Channel] = ()
    callers_failed: Sequence[str] = ()


def _measure(
    legs: Iterable[LegTimes], deadline_s: int, cut: datetime, mishaps: Mishaps
) -> tuple[dict[str, Number], list[str]]:
    deadline = timedelta(seconds=deadline_s)
    errors: list[float] = []
    from_dial: list[float] = []
    gone_errors: list[float] = []
    ring_setup: list[float] = []
    not_ringing = unended = answered = 0
    ends: Counter[str] = Counter()
    for leg in legs:
        answered += leg.answered
        start = leg.ringing_at or leg.dial_at
        if start is None or start + deadline > cut - GUARD:
            continue  # its end may be the callers' hang-up, not its deadline
        if leg.ringing_at is None:
            not_ringing += 1
            continue
        due = leg.ringing_at + deadline
        if leg.end_at is None:
            unended += 1
            continue
        errors.append(_ms(leg.end_at - due))
        ends[leg.end_kind or "?"] += 1
        if leg.destroyed_at is not None:
            gone_errors.append(_ms(leg.destroyed_at - due))
        if leg.dial_at is not None:
            ring_setup.append(_ms(leg.ringing_at - leg.dial_at))
            from_dial.append(_ms(leg.end_at - (leg.dial_at + deadline)))
    size = [abs(e) for e in errors]
    metrics: dict[str, Number] = {
        "p50_ms": _r(percentile(size, 50)),
        "p99_ms": _r(percentile(size, 99)),
        "max_ms": _r(max(size, default=math.nan)),
        "n": len(errors),
        "signed_p50_ms": _r(percentile(errors, 50)),
        "signed_min_ms": _r(min(errors, default=math.nan)),
        "signed_max_ms": _r(max(errors, default=math.nan)),
        "destroyed_p99_ms": _r(percentile([abs(e) for e in gone_errors], 99)),
        "dial_anchored_p50_ms": _r(percentile([abs(e) for e in from_dial], 50)),
        "dial_anchored_p99_ms": _r(percentile([abs(e) for e in from_dial], 99)),
        "dial_anchored_signed_p50_ms": _r(percentile(from_dial, 50)),
        "ring_setup_p50_ms": _r(percentile(ring_setup, 50)),
        "ring_setup_p99_ms": _r(percentile(ring_setup, 99)),
        "not_ringing": not_ringing,
        "not_ended": unended,
        "answered": answered,
        "stuck_channels": len(mishaps.stuck),
        "callers_not_placed": len(mishaps.callers_failed),
    }
    seen = ", ".join(f"{k} x{v}" for k, v in sorted(ends.items())) or "(no leg measured)"
    notes = [f"ends seen as {seen}"]
    if mishaps.stuck:
        shown = ", ".join(f"{c.name} ({c.state})" for c in mishaps.stuck[:5])
        notes.append(
            f"{len(mishaps.stuck)} PBX channels still up 20 s after the callers left: {shown}"
        )
    if mishaps.callers_failed:
        notes.append(
            f"{len(mishaps.callers_failed)} callers not placed, e.g. {mishaps.callers_failed[0]}"
        )
    return metrics, notes


def _r(value: float) -> float:
    return round(value, 1)


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)
