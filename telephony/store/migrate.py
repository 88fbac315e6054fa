"""Upgrade a database to the newest schema, from code: no alembic.ini needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from telephony.store.db import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


async def migrate(database_url: str) -> None:
    """Bring the database at database_url to the head revision (idempotent)."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection) -> None:
    config = Config()
    # '%' would be read as ini interpolation.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
