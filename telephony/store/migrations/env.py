"""Alembic environment.

The service calls `telephony.store.migrate.migrate(url)`, which hands a live
connection in `config.attributes["connection"]`. Developers may also run the
alembic CLI with `-c telephony/store/alembic.ini` (URL from
THIRDRING_DATABASE_URL) to autogenerate a new revision.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from telephony.store.db import create_engine
from telephony.store.models import Base


def _run(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things, batch mode copies the table.
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def _url() -> str:
    return os.environ.get("THIRDRING_DATABASE_URL", "sqlite+aiosqlite:///thirdring.db")


_connection = context.config.attributes.get("connection")
if _connection is not None:
    _run(_connection)
elif context.is_offline_mode():
    context.configure(
        url=_url(), target_metadata=Base.metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_from_url(_url()))
