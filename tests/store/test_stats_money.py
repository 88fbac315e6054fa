"""Ad spend per source and month (validated, audited) -> cost per call and per sale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.stats.money import next_month, source_costs
from telephony.store.notes import Notes
from telephony.store.policy_audit import PolicyAudit
from telephony.store.repo import CallStore
from telephony.store.spend import AUDIT_KIND, SpendRejected, SpendStore

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def ended_call(store: CallStore, call_id: str, did: str, at: datetime) -> None:
    await store.call_arrived(
        call_id=call_id,
        did=did,
        caller_number_raw="+905551112233",
        caller_name_raw="Ayşe",
        caller_channel_id=f"ch-{call_id}",
        arrived_at=at,
    )
    await store.update_call(call_id, ended_at=at + timedelta(minutes=2), outcome="answered")


async def test_cost_per_call_and_per_sale(store: CallStore, engine: AsyncEngine) -> None:
    audit = PolicyAudit(engine)
    spend = SpendStore(engine, audit, now=lambda: T0)
    await spend.put({"did": "100", "month": "2026-11", "amount": 1000}, "boss")
    await spend.put({"did": "100", "month": "2026-11", "amount": "1200.50"}, "boss")  # a fix
    await spend.put({"did": "300", "month": "2026-11", "amount": 50, "currency": "EUR"}, "boss")
    for n in range(4):
        await ended_call(store, f"a{n}", "100", T0 + timedelta(hours=n))
    await ended_call(store, "b0", "200", T0)
    await ended_call(store, "old", "100", T0 - timedelta(days=10))  # October
    notes = Notes(engine)
    await notes.save("a0", {"outcome": "sale"}, agent_id="ayse", by="ayse")
    await notes.save("a1", {"outcome": "offer_made"}, agent_id="ayse", by="ayse")
    rows = await source_costs(
        engine, "2026-11", "2026-11", await spend.months("2026-11", "2026-11")
    )
    assert [r.as_json() for r in rows] == [
        {
            "did": "100",
            "month": "2026-11",
            "spend": 1200.5,
            "currency": "TRY",
            "calls": 4,
            "sales": 1,
            "cost_per_call": 300.12,
            "cost_per_sale": 1200.5,
        },
        {
            "did": "200",
            "month": "2026-11",
            "spend": None,
            "currency": None,
            "calls": 1,
            "sales": 0,
            "cost_per_call": None,
            "cost_per_sale": None,
        },
        {
            "did": "300",
            "month": "2026-11",
            "spend": 50.0,
            "currency": "EUR",
            "calls": 0,
            "sales": 0,
            "cost_per_call": None,
            "cost_per_sale": None,
        },
    ]
    history = await audit.history(AUDIT_KIND)
    assert [(h.old.get("amount_cents"), h.new["amount_cents"]) for h in history] == [
        (None, 5000),
        (100000, 120050),
        (None, 100000),
    ]
    assert history[0].who == "boss"


async def test_bad_spend_is_refused_with_every_problem_named(engine: AsyncEngine) -> None:
    spend = SpendStore(engine, PolicyAudit(engine))
    with pytest.raises(SpendRejected) as refused:
        await spend.put(
            {"did": "", "month": "2026-13", "amount": 1.234, "currency": "lira", "x": 1}, "boss"
        )
    problems = refused.value.problems
    assert problems[0].startswith("x: unknown field")
    assert any(p.startswith("did = ''") for p in problems)
    assert "month = '2026-13': must be a month like 2026-11" in problems
    assert any(p.startswith("amount = 1.234: must be a number") for p in problems)
    assert any(p.startswith("currency = 'lira'") for p in problems)
    for amount in (-1, True, "NaN", "1e12", None):
        with pytest.raises(SpendRejected, match="amount"):
            await spend.put({"did": "1", "month": "2026-11", "amount": amount}, "boss")
    assert await spend.months("2000-01", "2100-12") == []


def test_next_month_wraps_the_year() -> None:
    assert (next_month("2026-11"), next_month("2026-12")) == ("2026-12", "2027-01")
