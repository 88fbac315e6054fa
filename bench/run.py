"""`make bench` / `python -m bench.run`: run the benchmarks, print a table, write JSON.

`--only NAME` (or `make bench ONLY=NAME`) runs one benchmark. Results go to
`bench/results/latest.json` and a copy named by the UTC time of the run.

Environment, for a quicker run: `BENCH_CONCURRENCY=1,50` (ring_deadline_precision's
concurrent calls), `BENCH_CAPACITY_RATES=2,8` (capacity's calls per second),
`BENCH_DEADLINE_S=4`, `BENCH_SERVICE_SRC=DIR` (run the service from another checkout,
e.g. one made with `git archive`, to compare two versions).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    capacity,
    dashboard_queries,
    escalation_deadline,
    history_lookup,
    ring_deadline,
    screen_pop,
)
from bench.harness import REPO, BenchError
from bench.results import (
    BenchResult,
    describe,
    machine,
    markdown,
    merge_latest,
    table,
    update_readme,
    write,
)
from telephony.ari import AriError
from telephony.logs import configure_logging
from telephony.sandbox.instance import AsteriskInstall, find_install
from telephony.sandbox.rootfs import SandboxError

RESULTS = REPO / "bench" / "results"


@dataclass(frozen=True)
class Benchmark:
    name: str
    columns: Sequence[str]
    run: Callable[[argparse.Namespace], list[BenchResult]]


def _ring_deadline(args: argparse.Namespace) -> list[BenchResult]:
    """Both deadlines: an agent's ring limit, and the caller's (the escalation)."""
    agents = ring_deadline.run(
        ring_deadline.Options(
            concurrency=tuple(args.concurrency),
            deadline_s=args.deadline,
            service_src=args.service_src,
            legs_dir=args.legs,
        )
    )
    callers = escalation_deadline.run(
        escalation_deadline.Options(
            concurrency=tuple(args.concurrency),
            deadline_s=args.deadline,
            service_src=args.service_src,
        )
    )
    return agents + callers


def _history_lookup(args: argparse.Namespace) -> list[BenchResult]:
    return history_lookup.run()


def _capacity(args: argparse.Namespace) -> list[BenchResult]:
    return capacity.run(capacity.Options(rates=tuple(args.rates), service_src=args.service_src))


BENCHMARKS = [
    Benchmark(ring_deadline.NAME, ring_deadline.COLUMNS, _ring_deadline),
    Benchmark(history_lookup.NAME, history_lookup.COLUMNS, _history_lookup),
    Benchmark(screen_pop.NAME, screen_pop.COLUMNS, lambda args: screen_pop.run()),
    Benchmark(
        dashboard_queries.NAME, dashboard_queries.COLUMNS, lambda args: dashboard_queries.run()
    ),
    Benchmark(capacity.NAME, capacity.COLUMNS, _capacity),
]


def _columns() -> dict[str, Sequence[str]]:
    return {b.name: b.columns for b in BENCHMARKS}


def _levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers like 1,50,200") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers >= 1 like 1,50,200")
    return levels


def _rates(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected rates like 2,8") from None
    if not rates or min(rates) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected rates > 0 like 2,8")
    return rates


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    names = [b.name for b in BENCHMARKS]
    env = os.environ
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=names, default=env.get("ONLY") or None)
    parser.add_argument(
        "--concurrency",
        type=_levels,
        default=_levels(env.get("BENCH_CONCURRENCY", "1,50,200")),
        help="ring_deadline_precision: concurrent ringing calls, comma-separated",
    )
    parser.add_argument(
        "--rates",
        type=_rates,
        default=_rates(env.get("BENCH_CAPACITY_RATES", "2,8")),
        help="capacity: caller arrival rates (calls per second), comma-separated",
    )
    parser.add_argument(
        "--deadline",
        type=int,
        default=int(env.get("BENCH_DEADLINE_S", "4")),
        help="ring_deadline_precision: the agent ring deadline, whole seconds",
    )
    parser.add_argument(
        "--service-src",
        type=Path,
        default=Path(env.get("BENCH_SERVICE_SRC") or REPO),
        help="the checkout whose telephony package runs as the service",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the JSON")
    parser.add_argument(
        "--readme",
        action="store_true",
        help="only regenerate README.md's figures table from latest.json (no benchmark runs)",
    )
    parser.add_argument(
        "--legs",
        type=Path,
        default=Path(env["BENCH_LEGS_DIR"]) if env.get("BENCH_LEGS_DIR") else None,
        help="also write each agent leg's Asterisk timestamps (CSV) to this folder",
    )
    return parser.parse_args(argv)


def _asterisk_version(install: AsteriskInstall) -> str:
    text = install.version()  # "Asterisk 22.10.1"
    return text.removeprefix("Asterisk ").strip() or "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.readme:
        latest = json.loads((args.results / "latest.json").read_text())
        done = update_readme(REPO / "README.md", markdown(latest, _columns()))
        print("README.md regenerated" if done else "README.md has no bench markers")
        return 0 if done else 1
    configure_logging("warning", json=False)  # the world controller's chatter stays out
    try:
        host = machine(_asterisk_version(find_install()))
    except SandboxError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    print(describe(host), flush=True)
    chosen = [b for b in BENCHMARKS if args.only in (None, b.name)]
    results: list[BenchResult] = []
    started = time.monotonic()
    for bench in chosen:
        print(f"[bench] {bench.name} ...", file=sys.stderr, flush=True)
        try:
            results += bench.run(args)
        except (BenchError, SandboxError, AriError) as error:
            print(f"bench: {bench.name}: {error}", file=sys.stderr)
            return 1
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    write(args.results / f"{stamp}.json", host, results)
    latest = merge_latest(args.results / "latest.json", host, results)
    if update_readme(REPO / "README.md", markdown(latest, _columns())):
        print("README.md: the figures table is regenerated from latest.json", file=sys.stderr)
    print()
    print(describe(host))
    for bench in chosen:
        mine = [r for r in results if r.name == bench.name]
        print(table(mine, bench.columns))
        for result in mine:
            for note in result.notes:
                print(f"  note: {note}")
    took = time.monotonic() - started
    print(f"\n{len(results)} results in {took:.0f}s -> {args.results / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
