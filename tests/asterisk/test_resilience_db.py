"""PostgreSQL away for a while (issue 9): the service reaches it through a relay the
test cuts, which to the service is a database that stopped (open connections reset,
new ones refused). Calls keep flowing; their writes are tried again; nothing is lost
when it comes back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from telephony.world.controller import PhoneBehaviour, World
from tests.store.conftest import POSTGRES_ADMIN_URL

from .conftest import AGENT_TONE, CALLER_TONE, StartService, set_phones
from .proxy import CuttableProxy

DID = "908501234567"


async def _admin(sql: str) -> None:
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await admin.dispose()


@pytest.fixture
async def postgres_relay() -> AsyncIterator[tuple[str, CuttableProxy]]:
    """A fresh database, and a relay to PostgreSQL that the test can cut."""
    name = f"thirdring_fault_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_ADMIN_URL)
    relay = CuttableProxy(url.port or 5432)
    await relay.start()
    try:
        yield url.set(port=relay.port, database=name).render_as_string(False), relay
    finally:
        await relay.close()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_postgresql_stopped_mid_calls_loses_nothing(
    world: World,
    start_service: StartService,
    postgres_relay: tuple[str, CuttableProxy],
) -> None:
    database_url, relay = postgres_relay
    service = await start_service(database_url=database_url)
    set_phones(world, PhoneBehaviour(answer_after=0.3, tone_hz=AGENT_TONE))
    first = await world.call(DID, "+905551117701", "Önce", tone_hz=CALLER_TONE)
    await asyncio.wait_for(first.answered.wait(), 10)
    await asyncio.sleep(1.0)

    with structlog.testing.capture_logs() as logs:
        await relay.cut()  # PostgreSQL "stops"
        second = await world.call(DID, "+905551117702", "Sırasında", tone_hz=CALLER_TONE)
        await asyncio.wait_for(second.answered.wait(), 10)  # calls keep flowing
        await asyncio.sleep(2.0)
        await world.hangup(first)
        await world.hangup(second)
        await asyncio.sleep(5.0)  # the writes fail and wait
        relay.restore()  # ... and PostgreSQL is back
    assert any(e["event"] == "store.write_retry" for e in logs), "the outage was not felt"

    for number in ("+905551117701", "+905551117702"):
        record = await service.ended_call(timeout=60, number=number)
        assert record.outcome == "answered" and record.answered_at is not None
        assert record.ended_at is not None
        attempts = await service.runtime.store.attempts(record.id)
        assert [a.outcome for a in attempts] == ["answered"]
        kept = await service.checked_recording(record.id, timeout=60)
        assert kept.status == "complete", (number, kept.detail)
    assert not await service.runtime.store.open_calls()
