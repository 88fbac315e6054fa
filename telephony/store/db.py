"""Engine construction and a liveness check."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from sqlalchemy import Engine, event, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = structlog.get_logger(__name__)


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite connections get WAL and enforced foreign keys."""
    engine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
    return engine


def sqlite_file_reader(engine: AsyncEngine) -> Engine | None:
    """A synchronous engine on the same SQLite file, for a short indexed read that must
    answer fast under load, run on the event loop itself: aiosqlite costs several hops
    to its thread per statement, each waiting for a busy loop. None for PostgreSQL
    (asyncpg has no thread to hop to) and for in-memory SQLite."""
    url = engine.url
    if engine.dialect.name != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    reader = create_sync_engine(url.set(drivername="sqlite"))
    event.listen(reader, "connect", _sqlite_on_connect)
    return reader


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # WAL lets the web API read while a call is being written; SQLite leaves
    # foreign keys off unless asked, per connection. busy_timeout waits for a
    # writer instead of failing at once with "database is locked".
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
    finally:
        cursor.close()


async def check(engine: AsyncEngine, *, timeout_s: float = 2.0) -> bool:
    """True when the database answers SELECT 1 within timeout_s."""
    try:
        async with asyncio.timeout(timeout_s):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not healthy"; the reason is logged
        log.warning("db.check_failed", error=repr(exc))
        return False
    return True
