from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.config import AgentConfig
from telephony.store.models import Call, Contact
from telephony.store.repo import CallNotFoundError, CallRecord, CallStore

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ALICE = AgentConfig(id="alice", name="Alice", endpoint="PJSIP/agent2001")
# Turkish dotless i, on purpose: names must keep any Unicode letter.
YILMAZ = "Y\u0131lmaz"
BOB = AgentConfig(id="bob", name="Bob", endpoint="PJSIP/agent2002")


async def arrive(
    store: CallStore,
    call_id: str,
    *,
    number: str | None = "+905551112233",
    name: str | None = "Ayşe",
    at: datetime = T0,
    did: str = "+902121112233",
) -> CallRecord:
    return await store.call_arrived(
        call_id=call_id,
        did=did,
        caller_number_raw=number,
        caller_name_raw=name,
        caller_channel_id=f"chan-{call_id}",
        arrived_at=at,
    )


async def contacts(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        result = await conn.execute(
            select(
                Contact.number_e164, Contact.name, Contact.call_count, Contact.last_seen
            ).order_by(Contact.id)
        )
        return [tuple(row) for row in result]


def test_call_record_has_every_call_column_and_agent_name() -> None:
    names = [f.name for f in dataclasses.fields(CallRecord)]
    assert names == [c.name for c in Call.__table__.c] + ["agent_name"]


async def test_agents_are_inserted_updated_and_never_deleted(store: CallStore) -> None:
    await store.upsert_agents([BOB, ALICE])
    assert await store.list_agents() == [ALICE, BOB]

    renamed = AgentConfig(id="alice", name="Alice K.", endpoint="PJSIP/agent2101")
    await store.upsert_agents([renamed])
    await store.upsert_agents([])
    assert await store.list_agents() == [renamed, BOB]


async def test_call_arrived_stores_normalised_caller_and_creates_contact(
    store: CallStore, engine: AsyncEngine
) -> None:
    record = await arrive(store, "c1", number="0555 111 22 33", name="  Ayşe\t" + YILMAZ + " ")
    assert record.caller_number == "+905551112233"
    assert record.caller_number_raw == "0555 111 22 33"
    assert record.caller_name == "Ayşe " + YILMAZ
    assert record.contact_id is not None
    assert await store.get_call("c1") == record
    assert await contacts(engine) == [("+905551112233", "Ayşe " + YILMAZ, 1, T0)]


async def test_repeat_caller_bumps_contact_and_keeps_known_name(
    store: CallStore, engine: AsyncEngine
) -> None:
    first = await arrive(store, "c1", name="Ayşe")
    second = await arrive(store, "c2", number="+90 555 111 22 33", name="", at=T0 + timedelta(1))
    assert second.contact_id == first.contact_id
    assert await contacts(engine) == [("+905551112233", "Ayşe", 2, T0 + timedelta(1))]

    # A late-delivered older call does not move last_seen backwards; a new name wins.
    await arrive(store, "c3", name="Ayşe Y.", at=T0 - timedelta(1))
    assert await contacts(engine) == [("+905551112233", "Ayşe Y.", 3, T0 + timedelta(1))]


async def test_simultaneous_first_calls_from_one_number_share_one_contact(
    store: CallStore, engine: AsyncEngine
) -> None:
    records = await asyncio.gather(*(arrive(store, f"c{i}") for i in range(5)))
    assert len({r.contact_id for r in records}) == 1
    assert [row[2] for row in await contacts(engine)] == [5]


@pytest.mark.parametrize(
    ("number", "name", "want_number", "want_name", "want_raw"),
    [
        ("", "", None, "", ""),
        (None, None, None, "", ""),
        ("anonymous", "Anonymous", None, "Anonymous", "anonymous"),
        ("Restricted", "", None, "", "Restricted"),
        ("+905551112233", "x" * 200, "+905551112233", "x" * 80, "+905551112233"),
        (
            "+905551112233",
            "<script>alert(1)</script>",
            "+905551112233",
            "<script>alert(1)</script>",
            "+905551112233",
        ),
        ("+90 555 111 22 33", "Ayşe", "+905551112233", "Ayşe", "+90 555 111 22 33"),
        ("05551112233", "Ayşe", "+905551112233", "Ayşe", "05551112233"),
        ("98765432109876543210", "junk", None, "junk", "98765432109876543210"),
        ("12", "", None, "", "12"),
        ("5" * 300, "", None, "", "5" * 80),
        ("+9055\x00511\x1b12233", "Ay\x00şe\u202e\n", None, "Ayşe", "+905551112233"),
        (
            "' OR 1=1 --",
            "Robert'); DROP TABLE calls;--",
            None,
            "Robert'); DROP TABLE calls;--",
            None,
        ),
    ],
)
async def test_bad_caller_ids_are_stored_safely(
    store: CallStore,
    engine: AsyncEngine,
    number: str | None,
    name: str | None,
    want_number: str | None,
    want_name: str,
    want_raw: str | None,
) -> None:
    await arrive(store, "bad", number=number, name=name)
    stored = await store.get_call("bad")
    assert stored is not None
    assert stored.caller_number == want_number
    assert stored.caller_name == want_name
    if want_raw is not None:
        assert stored.caller_number_raw == want_raw
    # Only a real number makes a contact.
    assert (stored.contact_id is None) == (want_number is None)
    assert len(await contacts(engine)) == (0 if want_number is None else 1)


async def test_update_call_sets_known_columns_and_joins_agent_name(store: CallStore) -> None:
    await store.upsert_agents([ALICE])
    await arrive(store, "c1")
    istanbul = timezone(timedelta(hours=3))
    await store.update_call(
        "c1",
        agent_id="alice",
        agent_channel_id="chan-a",
        bridge_id="br-1",
        ringing_at=T0 + timedelta(seconds=1),
        answered_at=(T0 + timedelta(seconds=5)).astimezone(istanbul),
    )
    await store.update_call(
        "c1",
        ended_at=T0 + timedelta(seconds=65),
        outcome="answered",
        hangup_by="caller",
        recording_name="c1-rec",
    )
    got = await store.get_call("c1")
    assert got is not None
    assert (got.agent_id, got.agent_name, got.agent_channel_id, got.bridge_id) == (
        "alice",
        "Alice",
        "chan-a",
        "br-1",
    )
    # Stored and returned in UTC, whatever zone was passed in.
    assert got.answered_at == T0 + timedelta(seconds=5)
    assert got.answered_at is not None and got.answered_at.tzinfo == UTC
    assert got.arrived_at.tzinfo == UTC
    assert (got.outcome, got.hangup_by, got.recording_name) == ("answered", "caller", "c1-rec")


@pytest.mark.parametrize(
    "fields",
    [
        {"no_such_column": 1},
        {"id": "other"},
        {"outcome": "won"},
        {"hangup_by": "nobody"},
        {"ended_at": datetime(2026, 1, 1)},  # naive: refused, never guessed
        {"arrived_at": None},
    ],
)
async def test_update_call_rejects_bad_fields(store: CallStore, fields: dict[str, Any]) -> None:
    await arrive(store, "c1")
    with pytest.raises(ValueError):
        await store.update_call("c1", **fields)


async def test_update_call_on_unknown_call_or_agent(store: CallStore) -> None:
    with pytest.raises(CallNotFoundError):
        await store.update_call("nope", outcome="failed")
    await arrive(store, "c1")
    with pytest.raises(IntegrityError):
        await store.update_call("c1", agent_id="ghost")


async def test_call_arrived_refuses_naive_time(store: CallStore) -> None:
    with pytest.raises(ValueError):
        await arrive(store, "c1", at=datetime(2026, 1, 1))


async def test_open_recent_and_history_queries(store: CallStore, engine: AsyncEngine) -> None:
    for i in range(6):
        await arrive(store, f"c{i}", at=T0 + timedelta(minutes=i))
    await arrive(store, "other", number="+14155552671", at=T0 + timedelta(minutes=10))
    for i in (0, 2, 3, 5):
        await store.update_call(f"c{i}", ended_at=T0 + timedelta(minutes=i, seconds=30))

    assert [c.id for c in await store.open_calls()] == ["c1", "c4", "other"]
    assert [c.id for c in await store.recent_calls()] == ["c5", "c3", "c2", "c0"]
    assert [c.id for c in await store.recent_calls(limit=2)] == ["c5", "c3"]
    assert [c.id for c in await store.contact_history("+905551112233", limit=3)] == [
        "c5",
        "c4",
        "c3",
    ]
    assert [c.id for c in await store.contact_history("+14155552671")] == ["other"]
    assert await store.contact_history("+4930123456") == []
    assert await store.get_call("missing") is None
    for bad in (0, -1, 1001):
        with pytest.raises(ValueError):
            await store.recent_calls(limit=bad)

    async with engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(Call))).scalar()
    assert total == 7
