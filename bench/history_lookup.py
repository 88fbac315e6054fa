"""`history_lookup`: the screen pop's history query alone, on a database of 1 million
calls and 200 000 contacts (SQLite, the default store).

The database is made once (about a minute) and cached under ~/.cache/thirdring/bench:
contacts with skewed call counts (a few callers call very often), a third of the calls
with agent notes, some open callbacks. Then `History.caller_context` (what every pop
reads) runs for numbers drawn from the same skew, one at a time, timed end to end
(connection from the pool, four indexed reads, rows to objects).
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.results import BenchResult, percentile
from telephony.store.db import create_engine
from telephony.store.history import History
from telephony.store.migrate import migrate

NAME = "history_lookup"
COLUMNS = ("p50_ms", "p99_ms", "max_ms")
CACHE = Path.home() / ".cache" / "thirdring" / "bench"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
DUE = datetime(2099, 1, 1, tzinfo=UTC)


def contact_number(i: int) -> str:
    """The E.164 number of contact `i` in the bench database."""
    return f"+90532{i:07d}"


def _pick(rng: random.Random, contacts: int) -> int:
    return min(int(contacts * rng.random() ** 2), contacts - 1)  # skewed to low indexes


def build(path: Path, calls: int, contacts: int) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)  # screen_pop builds it on a fresh machine too
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    asyncio.run(migrate(f"sqlite+aiosqlite:///{partial}"))
    rng = random.Random(9)
    db = sqlite3.connect(partial)
    iso = lambda d: d.strftime("%Y-%m-%d %H:%M:%S.%f")  # noqa: E731  (SQLAlchemy's SQLite form)
    db.execute(
        "INSERT INTO agents (id, name, endpoint, created_at) VALUES "
        + ",".join(f"('a{i}', 'Agent {i}', 'PJSIP/a{i}', '{iso(T0)}')" for i in range(50))
    )
    db.executemany(
        "INSERT INTO contacts (id, number_e164, name, first_seen, last_seen, call_count)"
        " VALUES (?, ?, ?, ?, ?, 0)",
        ((i + 1, contact_number(i), f"Caller {i}", iso(T0), iso(T0)) for i in range(contacts)),
    )
    batch: list[tuple[object, ...]] = []
    notes: list[tuple[object, ...]] = []
    for n in range(calls):
        who = _pick(rng, contacts)
        at = T0 + timedelta(seconds=n * 30 + rng.random())
        call_id = f"{at:%Y%m%d%H%M%S}-{n:08x}"
        agent = f"a{rng.randrange(50)}"
        batch.append(
            (
                call_id,
                "908502220001",
                contact_number(who),
                contact_number(who),
                f"Caller {who}",
                who + 1,
                agent,
                f"chan-{n}",
                iso(at),
                iso(at + timedelta(seconds=4)),
                iso(at + timedelta(seconds=94)),
                "answered",
                "caller",
                f"{call_id}.wav",
            )
        )
        if n % 3 == 0:
            notes.append(
                (
                    call_id,
                    agent,
                    "",
                    "needs a quote",
                    "{}",
                    "called about prices",
                    "offer_made",
                    "send the offer",
                    iso(at),
                    "bench",
                )
            )
        if len(batch) >= 50_000:
            _flush(db, batch, notes)
    _flush(db, batch, notes)
    db.executemany(
        "INSERT INTO callbacks (number, did, due_at, attempts, max_attempts, status, created_by,"
        " created_at, updated_at) VALUES (?, '908502220001', ?, 0, 3, 'pending', 'bench', ?, ?)",
        # Due far ahead: open promises in the pop, never called by a service under bench.
        ((contact_number(_pick(rng, contacts)), iso(DUE), iso(T0), iso(T0)) for _ in range(5000)),
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()
    partial.rename(path)


def _flush(
    db: sqlite3.Connection, batch: list[tuple[object, ...]], notes: list[tuple[object, ...]]
) -> None:
    db.executemany(
        "INSERT INTO calls (id, did, caller_number_raw, caller_number, caller_name, contact_id,"
        " agent_id, caller_channel_id, arrived_at, answered_at, ended_at, outcome, hangup_by,"
        " recording_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        batch,
    )
    db.executemany(
        "INSERT INTO call_notes (call_id, agent_id, name, needs, answers, notes, outcome,"
        " next_step, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        notes,
    )
    db.commit()
    batch.clear()
    notes.clear()


async def measure(path: Path, contacts: int, lookups: int) -> tuple[list[float], list[str]]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    history = History(engine)
    rng = random.Random(11)
    took: list[float] = []
    try:
        for _ in range(20):  # warm the pool and the page cache
            await history.caller_context(contact_number(_pick(rng, contacts)))
        for _ in range(lookups):
            number = contact_number(_pick(rng, contacts))
            started = time.perf_counter()
            context = await history.caller_context(number, exclude_call="none")
            took.append((time.perf_counter() - started) * 1000)
            assert context.number == number
    finally:
        await engine.dispose()
    db = sqlite3.connect(path)
    plan = [
        str(row[-1])
        for row in db.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM calls WHERE caller_number = ? "
            "ORDER BY arrived_at DESC LIMIT 6",
            (contact_number(1),),
        )
    ]
    db.close()
    return took, plan


def run(
    calls: int | None = None, contacts: int | None = None, lookups: int = 2000
) -> list[BenchResult]:
    calls = calls or int(os.environ.get("BENCH_HISTORY_CALLS", "1000000"))
    contacts = contacts or int(os.environ.get("BENCH_HISTORY_CONTACTS", "200000"))
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"history-{calls}-{contacts}.db"
    started = time.monotonic()
    build(path, calls, contacts)
    built_s = time.monotonic() - started
    took, plan = asyncio.run(measure(path, contacts, lookups))
    return [
        BenchResult(
            NAME,
            {"calls": calls, "contacts": contacts, "lookups": lookups},
            {
                "p50_ms": round(percentile(took, 50), 2),
                "p99_ms": round(percentile(took, 99), 2),
                "max_ms": round(max(took), 2),
            },
            notes=[
                f"SQLite, {path.stat().st_size / 1e6:.0f} MB; built or reused in {built_s:.0f}s",
                "query plan (calls): " + "; ".join(plan),
            ],
        )
    ]
