"""`dashboard_queries`: the statistics page's queries on a database of 1 million calls
(SQLite, the default store), p99 per query and for the whole figures request, as served
(closed days from the per-day aggregates, today live) and live only (every query over
the whole range, for comparison).

The calls are history_lookup's cached database (one call every 30 s for a year, 50
agents), copied once and enriched so every figure has rows to read: a tenth of the
calls abandoned at rings 0-4, one in twenty escalated (system answer, then queue or
supervisor), talk 0-10 min, three DIDs, rings to answer 0.5-4.5, a hold on one call in
ten, a missed offer on one in ten, a recording per answered call (2% short), the
agents' outcomes varied (offer, pending, sale, lost; half with a dated next step) and
callback promises. The copy is migrated to head (each run: a cached copy follows new
migrations), so the schema (and ix_calls_stats) is the service's own. Each query runs
`repeats` times per range and grouping.

Ranges end with "today" on Monday 1 December, so a quarter's closed days are 13 whole
weeks; the same quarter ending on Thursday 27 November (`today` in the params) reads
the most stored rows a quarter can: 12 weeks and 7 days.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench import history_lookup
from bench.results import BenchResult, percentile
from telephony.stats.figures import FigureQueries
from telephony.stats.period import GroupBy, StatsQuery
from telephony.stats.rollup import RollupFigures
from telephony.store.db import create_engine
from telephony.store.migrate import migrate

NAME = "dashboard_queries"
COLUMNS = ("p99_ms", "figures_p99_ms", "live_p99_ms", "live_figures_p99_ms", "figures_p50_ms")
# The data runs from 2025-01-01 to mid-December 2025; ranges end on 1 December.
END = history_lookup.T0.replace(month=12, day=1)
RANGES = (1, 7, 31, 92)
GROUPINGS: tuple[GroupBy, ...] = ("total", "day", "agent")
# A quarter whose closed days are not whole weeks: the most rows a request reads.
UNALIGNED = END - timedelta(days=4)
_TS = "strftime('%Y-%m-%d %H:%M:%f000', {})"  # SQLAlchemy's SQLite text form


def _enrich(db: sqlite3.Connection) -> None:
    ts = _TS.format
    columns = {row[1] for row in db.execute("PRAGMA table_info(callbacks)")}
    if "promise" not in columns:  # a cache built before 0007 gained the column in place
        db.execute("ALTER TABLE callbacks ADD COLUMN promise BOOLEAN NOT NULL DEFAULT 0")
        db.execute("ALTER TABLE callbacks ADD COLUMN note VARCHAR(500)")
        db.execute("ALTER TABLE callbacks ADD COLUMN call_id VARCHAR(64)")
    db.executescript(
        f"""
        UPDATE calls SET
          max_rings = 3,
          did = CASE rowid % 3 WHEN 0 THEN '908502220001' WHEN 1 THEN '908502220002'
                ELSE '908502220003' END,
          answered_ring = 0.5 + (rowid * 7919 % 400) / 100.0,
          ended_at = {ts("julianday(answered_at) + (rowid * 104729 % 600) / 86400.0")};
        UPDATE calls SET outcome = 'abandoned', agent_id = NULL, answered_at = NULL,
          answered_ring = NULL, abandoned_ring = (rowid % 5) + 0.3,
          ended_at = {ts("julianday(arrived_at) + 20 / 86400.0")}
          WHERE rowid % 10 = 0;
        UPDATE calls SET answered_ring = NULL,
          system_answered_at = {ts("julianday(arrived_at) + 14 / 86400.0")},
          escalations = CASE rowid % 40 WHEN 1 THEN '[{{"step": "queue", "ring": 4.0}}]'
            ELSE '[{{"step": "queue", "ring": 4.0}}, {{"step": "supervisor", "ring": 7.0}}]' END
          WHERE rowid % 20 = 1;
        UPDATE call_notes SET
          outcome = CASE rowid % 4 WHEN 0 THEN 'offer_made' WHEN 1 THEN 'pending_purchase'
            WHEN 2 THEN 'sale' ELSE 'lost' END,
          next_step_at = CASE WHEN rowid % 2 = 0 THEN updated_at END;
        INSERT INTO holds (call_id, agent_id, started_at, ended_at, source, outcome, warned,
                           over_limit)
          SELECT id, agent_id, answered_at,
                 {ts("julianday(answered_at) + (rowid % 70) / 86400.0")}, 'browser',
                 CASE WHEN rowid % 9 = 0 THEN 'caller_hung_up' ELSE 'retrieved' END,
                 rowid % 70 > 30, 0
          FROM calls WHERE rowid % 10 = 3;
        INSERT INTO call_attempts (call_id, agent_id, channel_id, started_at, ringing_at,
                                   ended_at, outcome)
          SELECT id, 'a' || (rowid % 50), 'miss-' || rowid, arrived_at, arrived_at,
                 arrived_at, 'no_answer'
          FROM calls WHERE rowid % 10 = 5;
        INSERT INTO recordings (call_id, name, token, path, format, channels, started_at,
                                ended_at, status, pauses, checked_at, legal_hold)
          SELECT id, id, 'tok-' || id, NULL, 'wav', 1, answered_at, ended_at,
                 CASE WHEN rowid % 50 = 7 THEN 'short' ELSE 'complete' END, '[]', ended_at, 0
          FROM calls WHERE answered_at IS NOT NULL;
        INSERT INTO call_scripts (call_id, key, version, variant, campaign, reason,
                                  assigned_at, progress)
          SELECT id, 'inbound_sale_tr', 1 + rowid % 2, CASE WHEN rowid % 3 = 0 THEN 'B'
                 ELSE 'A' END, NULL, '[]', answered_at, '{{}}'
          FROM calls WHERE answered_at IS NOT NULL;
        UPDATE callbacks SET promise = 1, agent_id = 'a' || (id % 50),
          due_at = {ts("julianday('2025-01-01') + (id % 340)")};
        """
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()


def build(calls: int, contacts: int) -> Path:
    source = history_lookup.CACHE / f"history-{calls}-{contacts}.db"
    history_lookup.build(source, calls, contacts)
    # v2: with the calls' scripts (issue 7); an older cached database is not reused.
    path = history_lookup.CACHE / f"dashboard-v2-{calls}-{contacts}.db"
    if path.exists():
        asyncio.run(migrate(f"sqlite+aiosqlite:///{path}"))
        return path
    partial = path.with_suffix(".partial")
    shutil.copyfile(source, partial)
    asyncio.run(migrate(f"sqlite+aiosqlite:///{partial}"))
    _enrich(sqlite3.connect(partial))
    partial.rename(path)
    return path


async def _timed(conn: Any, statements: dict[str, Any], repeats: int) -> dict[str, float]:
    """p99 ms of each statement, run `repeats` times after one warm-up run."""
    took: dict[str, list[float]] = {}
    for statement in statements.values():
        await conn.execute(statement)  # warm the page cache
    for _ in range(repeats):
        for name, statement in statements.items():
            started = time.perf_counter()
            (await conn.execute(statement)).all()
            took.setdefault(name, []).append((time.perf_counter() - started) * 1000)
    return {name: percentile(values, 99) for name, values in took.items()}


async def _request(figures: Any, q: StatsQuery, repeats: int) -> tuple[float, float]:
    """p99 and p50 ms of the whole request (with 10 runs the p99 is the slowest: on a
    shared machine one descheduled run; the p50 says what a request usually takes)."""
    whole = []
    for _ in range(repeats):
        started = time.perf_counter()
        await figures(q)
        whole.append((time.perf_counter() - started) * 1000)
    return percentile(whole, 99), percentile(whole, 50)


async def _case(
    engine: Any, days: int, group_by: GroupBy, end: datetime, repeats: int
) -> BenchResult:
    """One range ending with the live "today" `end`, its closed days before."""
    queries = FigureQueries(engine)
    rollup = RollupFigures(engine, queries, now=lambda: end + timedelta(hours=12))
    since = end - timedelta(days=days - 1)
    q = StatsQuery(since=since, until=end + timedelta(days=1), group_by=group_by)
    today = StatsQuery(since=end, until=q.until, group_by=group_by)
    closed = rollup.closed_statements(q, since.date(), (end - timedelta(days=1)).date())
    async with engine.connect() as conn:
        live = await _timed(conn, queries.all_statements(q), repeats)
        served = await _timed(conn, {**closed, **queries.all_statements(today)}, repeats)
    served_p99, served_p50 = await _request(rollup.figures, q, repeats)
    live_p99, _ = await _request(queries.figures, q, repeats)
    slowest = max(served, key=lambda name: served[name])
    live_slowest = max(live, key=lambda name: live[name])
    params: dict[str, int | str] = {"calls": 1_000_000, "days": days, "group_by": group_by}
    if end != END:
        params["today"] = end.date().isoformat()
    return BenchResult(
        NAME,
        params,
        {
            "p99_ms": round(served[slowest], 1),
            "figures_p99_ms": round(served_p99, 1),
            "live_p99_ms": round(live[live_slowest], 1),
            "live_figures_p99_ms": round(live_p99, 1),
            "figures_p50_ms": round(served_p50, 1),
        },
        notes=[
            f"{days} d by {group_by} to {end.date()}: served (aggregates + today live) "
            f"slowest {slowest}; live only: "
            + ", ".join(f"{n} {v:.0f}" for n, v in live.items())
            + " ms"
        ],
    )


async def measure(path: Path, repeats: int) -> list[BenchResult]:
    """Ranges end with "today" (1 December, live); the days before are closed."""
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    rollup = RollupFigures(engine, now=lambda: END + timedelta(hours=12))
    results = []
    try:
        first = (UNALIGNED - timedelta(days=max(RANGES) - 1)).date()
        started = time.perf_counter()
        aggregated = await rollup.refresh(first + timedelta(days=n) for n in range(max(RANGES) + 4))
        per_day_ms = (time.perf_counter() - started) * 1000 / max(aggregated, 1)
        for days in RANGES:
            for group_by in GROUPINGS:
                results.append(await _case(engine, days, group_by, END, repeats))
        for group_by in GROUPINGS:
            results.append(await _case(engine, max(RANGES), group_by, UNALIGNED, repeats))
        results[0].notes.append(
            f"aggregating a closed day (and its week when whole): {per_day_ms:.0f} ms"
        )
    finally:
        await engine.dispose()
    return results


def _plan(path: Path) -> str:
    db = sqlite3.connect(path)
    rows: list[Any] = db.execute(
        "EXPLAIN QUERY PLAN SELECT count(*) FROM calls WHERE arrived_at >= '2025-06-01' "
        "AND arrived_at < '2025-07-01' AND ended_at IS NOT NULL"
    ).fetchall()
    db.close()
    return "; ".join(str(row[-1]) for row in rows)


def run(repeats: int | None = None) -> list[BenchResult]:
    calls = int(os.environ.get("BENCH_HISTORY_CALLS", "1000000"))
    contacts = int(os.environ.get("BENCH_HISTORY_CONTACTS", "200000"))
    repeats = repeats or int(os.environ.get("BENCH_DASHBOARD_REPEATS", "10"))
    started = time.monotonic()
    path = build(calls, contacts)
    built_s = time.monotonic() - started
    results = asyncio.run(measure(path, repeats))
    for result in results:
        result.params["calls"] = calls
    results[0].notes.insert(
        0,
        f"SQLite {path.stat().st_size / 1e6:.0f} MB, built or reused in {built_s:.0f}s; "
        f"{repeats} runs per query; plan: {_plan(path)}",
    )
    return results
