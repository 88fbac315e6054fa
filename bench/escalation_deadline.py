"""`ring_deadline_precision`, the caller's deadline (params `measured=caller_escalation`):
how exactly the escalation starts when nobody answers within `max_rings`, next to
app_queue's own timeout.

Setup, per concurrency N: N desk phones that ring and never answer, N callers dialling
in at once; each caller's deadline is D seconds of ringing (a 1 s ring cycle, max_rings
= D).
- **service**: N agents, each agent rings for the whole deadline (agent_rings = D); at
  the deadline the escalation step `queue` starts: the system answers the caller.
- **reference, app_queue**: the same callers to `Queue(thirdring-bench,r,,,D)` (the
  overall timeout; members ring longer than that), then `Answer()` and music on hold in
  the dialplan (dialplans/pbx/extensions_bench.conf), as the service's step does.

Measured per caller from the caller's side, as the caller experienced it, with the
world Asterisk's event timestamps only: error = the caller's channel going Up - (its
going Ringing + D): `Ringing` is the PBX's 180 arriving (the ringback starts), `Up` the
PBX's 200 (the escalation's first act). `p50_ms`/`p99_ms`/`max_ms` of |error|,
`signed_p50_ms` with its sign. Several rounds at low concurrency, so a figure rests on
at least `min_samples` callers.

`pbx_p50_ms`/`pbx_p99_ms`/`pbx_max_ms`: the same, with `Up` the PBX's own stamp of
answering the caller (its `ChannelStateChange`, seen by an observer application; both
Asterisks stamp from this machine's clock). The difference is the world's own time to
take the PBX's 200 OK: it shares these 2 cores with the PBX and the service, and falls
behind when many answers come at once (see the README).
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bench.harness import REPO, BenchError, ServiceProcess, hang_up_all, place_calls, until_idle
from bench.observer import RingObserver
from bench.results import BenchResult, Number, Reference, percentile
from telephony.ari import AriRest
from telephony.sandbox.pair import Sandbox, agent_endpoint
from telephony.world.controller import PhoneBehaviour, World

NAME = "ring_deadline_precision"
QUEUE_DID = "thirdring-bench-escalation"  # dialplans/pbx/extensions_bench.conf
SERVICE_DID = "908502229998"
FIRST_PHONE = 2001


@dataclass(frozen=True)
class Options:
    concurrency: tuple[int, ...] = (1, 50, 200)
    deadline_s: int = 4
    min_samples: int = 10
    service_src: Path = REPO


def run(options: Options) -> list[BenchResult]:
    if not 2 <= options.deadline_s <= 20:
        raise BenchError(f"deadline_s must be 2..20 whole seconds, got {options.deadline_s}")
    box = Sandbox(
        phone_extensions=tuple(str(FIRST_PHONE + i) for i in range(max(options.concurrency)))
    )
    _say(f"starting PBX + world with {max(options.concurrency)} desk phones")
    box.start()
    try:
        return asyncio.run(_run(box, options))
    finally:
        box.stop()


async def _run(box: Sandbox, options: Options) -> list[BenchResult]:
    pbx = box.pbx
    world = World.of(box.world)
    await world.start()
    results = []
    silent = PhoneBehaviour(answer_after=None, tone_hz=None, listen=False)
    async with AriRest(pbx.ari_url, pbx.ari_username, pbx.ari_password) as rest:
        for variable, value in (
            ("THIRDRING_BENCH", "1"),
            ("THIRDRING_BENCH_DEADLINE", str(options.deadline_s)),
        ):
            await rest.request("POST", "/asterisk/variable", {"variable": variable, "value": value})
        try:
            for n in options.concurrency:
                phones = [str(FIRST_PHONE + i) for i in range(n)]
                for phone in phones:
                    world.set_phone(phone, silent)
                rounds = max(1, math.ceil(options.min_samples / n))
                ours = await _service_phase(box, rest, world, phones, rounds, options)
                await _members(box, phones, member_timeout_s=options.deadline_s * 5)
                theirs = await _rounds(box, rest, world, QUEUE_DID, n, rounds, options.deadline_s)
                results.append(
                    BenchResult(
                        name=NAME,
                        params={
                            "concurrency": n,
                            "deadline_s": options.deadline_s,
                            "measured": "caller_escalation",
                        },
                        metrics=ours,
                        reference=Reference(name="app_queue", metrics=theirs),
                    )
                )
        finally:
            await world.stop()
    return results


async def _service_phase(
    box: Sandbox,
    rest: AriRest,
    world: World,
    phones: Sequence[str],
    rounds: int,
    options: Options,
) -> dict[str, Number]:
    agents = [
        {"id": f"agent{p}", "name": f"Bench agent {p}", "endpoint": agent_endpoint(p)}
        for p in phones
    ]
    settings = {
        "log_level": "warning",
        "max_wait_s": 3600.0,
        "rings": {
            "default": {
                "cadence": "bench",
                "max_rings": float(options.deadline_s),
                "agent_rings": float(options.deadline_s),
                "escalation": [{"kind": "queue", "announce_every_s": 60}],
                "auto_pause_on_miss": False,
            },
            "custom_cadences": {"bench": {"segments_ms": [500, 500]}},
        },
    }
    with tempfile.TemporaryDirectory(prefix="thirdring-bench-") as tmp:
        settings["recordings_dir"] = str(Path(tmp) / "recordings")
        service = ServiceProcess(box.pbx, settings, agents, Path(tmp), src=options.service_src)
        try:
            await service.start()
            return await _rounds(
                box, rest, world, SERVICE_DID, len(phones), rounds, options.deadline_s
            )
        finally:
            await service.stop()


async def _members(box: Sandbox, phones: Sequence[str], member_timeout_s: int) -> None:
    """The reference queue's members ring longer than the caller's deadline."""
    pbx = box.pbx
    # timeoutpriority=app: the Queue()'s own timeout cuts a member's ring short (with
    # `conf` a ringing member outlasts it); the agent-deadline bench writes `conf` back.
    text = f"timeout = {member_timeout_s}\ntimeoutpriority = app\n" + "".join(
        f"member => {agent_endpoint(p)}\n" for p in phones
    )
    (pbx.install.host_path(pbx.home) / "etc" / "queues_bench.conf").write_text(text)
    await asyncio.to_thread(pbx.cli, "queue reload all thirdring-bench")


async def _rounds(
    box: Sandbox, rest: AriRest, world: World, did: str, n: int, rounds: int, deadline_s: int
) -> dict[str, Number]:
    errors: list[float] = []
    at_pbx: list[float] = []
    missing = failed = 0
    pbx = box.pbx
    for number in range(rounds):
        _say(f"{did}: round {number + 1}/{rounds}, {n} callers")
        async with RingObserver(pbx.ari_url, pbx.ari_username, pbx.ari_password) as observer:
            callers, refused = await place_calls(world, did, n)
            failed += len(refused)
            await asyncio.sleep(deadline_s + 2.0)
            await hang_up_all(world, callers)
            await until_idle(rest)
        for leg in callers:
            if leg.rang_at is None or leg.answered_at is None:
                missing += 1
                continue
            deadline = leg.rang_at + timedelta(seconds=deadline_s)
            errors.append((leg.answered_at - deadline).total_seconds() * 1000)
            answered_by_pbx = observer.callers_up.get(leg.number)
            if answered_by_pbx is not None:
                at_pbx.append((answered_by_pbx - deadline).total_seconds() * 1000)
    return {
        **_spread(errors, ""),
        "signed_p50_ms": round(percentile(errors, 50), 1) if errors else float("nan"),
        "n": len(errors),
        **_spread(at_pbx, "pbx_"),
        "not_escalated": missing,
        "not_placed": failed,
    }


def _spread(errors: Sequence[float], prefix: str) -> dict[str, Number]:
    """p99, p50 and max of the errors' sizes, in ms (NaN if there are none)."""
    absolute = [abs(e) for e in errors]
    return {
        f"{prefix}{name}_ms": round(value, 1) if absolute else float("nan")
        for name, value in (
            ("p99", percentile(absolute, 99)),
            ("p50", percentile(absolute, 50)),
            ("max", max(absolute, default=math.nan)),
        )
    }


def _say(message: str) -> None:
    print(f"[bench] {NAME} (caller): {message}", flush=True)
