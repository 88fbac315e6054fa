from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.store.db import check, create_engine
from telephony.store.migrate import MIGRATIONS_DIR, migrate
from telephony.store.models import Base


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def test_migrate_creates_schema_and_is_idempotent(
    engine: AsyncEngine, database_url: str
) -> None:
    await migrate(database_url)  # second run: already at head, nothing to do
    async with engine.connect() as conn:
        assert await conn.run_sync(_tables) >= {
            "agents",
            "contacts",
            "calls",
            "call_attempts",
            "users",
            "user_sessions",
            "alembic_version",
        }
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        indexes = await conn.run_sync(
            lambda c: {ix["name"] for ix in inspect(c).get_indexes("calls")}
        )
    # The newest revision file is the head (revisions are numbered in order).
    assert version == max(p.name[:4] for p in MIGRATIONS_DIR.glob("versions/0*.py"))
    assert {"ix_calls_arrived_at", "ix_calls_caller_number", "ix_calls_ended_at"} <= indexes


async def test_migrations_match_models(engine: AsyncEngine) -> None:
    def diff(conn: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_downgrade_to_base_and_back(engine: AsyncEngine, database_url: str) -> None:
    def downgrade(conn: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = conn
        command.downgrade(config, "base")

    async with engine.begin() as conn:
        await conn.run_sync(downgrade)
    every = {"agents", "contacts", "calls", "call_attempts", "users", "user_sessions"}
    async with engine.connect() as conn:
        assert not await conn.run_sync(_tables) & every
    await migrate(database_url)
    async with engine.connect() as conn:
        assert every <= await conn.run_sync(_tables)


async def test_check_reports_a_live_database(engine: AsyncEngine) -> None:
    assert await check(engine) is True


async def test_check_reports_an_unreachable_database() -> None:
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    try:
        assert await check(engine, timeout_s=5) is False
    finally:
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_connections_use_wal_and_foreign_keys(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
