"""Cost per call and per sale: a source's (DID's) ad spend in a month divided by the
calls that arrived on it that month (ended calls) and by the sales among them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.stats.sql import Dialect
from telephony.store.models import Call, CallNote
from telephony.store.spend import Spend

MAX_MONTHS = 24


def month_start(month: str) -> datetime:
    year, number = (int(part) for part in month.split("-"))
    return datetime(year, number, 1, tzinfo=UTC)


def next_month(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    return f"{year + number // 12}-{number % 12 + 1:02d}"


@dataclass(frozen=True)
class SourceCost:
    did: str
    month: str
    spend_cents: int | None
    currency: str | None
    calls: int
    sales: int

    def as_json(self) -> dict[str, Any]:
        spend = self.spend_cents
        return {
            "did": self.did,
            "month": self.month,
            "spend": spend / 100 if spend is not None else None,
            "currency": self.currency,
            "calls": self.calls,
            "sales": self.sales,
            "cost_per_call": round(spend / 100 / self.calls, 2) if spend and self.calls else None,
            "cost_per_sale": round(spend / 100 / self.sales, 2) if spend and self.sales else None,
        }


async def source_costs(
    engine: AsyncEngine, first: str, last: str, spends: list[Spend]
) -> list[SourceCost]:
    """One row per (DID, month) with calls or spend in months first..last."""
    month = Dialect(engine.dialect.name).bucket(Call.arrived_at, "month").label("month")
    sale = case((CallNote.outcome == "sale", 1), else_=0)
    stmt = (
        select(
            Call.did,
            month,
            func.count().label("calls"),
            func.coalesce(func.sum(sale), 0).label("sales"),
        )
        .select_from(Call)
        .outerjoin(CallNote, CallNote.call_id == Call.id)
        .where(
            Call.arrived_at >= month_start(first),
            Call.arrived_at < month_start(next_month(last)),
            Call.ended_at.is_not(None),
        )
        .group_by(Call.did, month)
    )
    async with engine.connect() as conn:
        counted = {(r.did, r.month): (r.calls, int(r.sales)) for r in await conn.execute(stmt)}
    spent = {(s.did, s.month): s for s in spends}
    rows = []
    for did, when in sorted(set(counted) | set(spent), key=lambda k: (k[1], k[0])):
        calls, sales = counted.get((did, when), (0, 0))
        spend = spent.get((did, when))
        rows.append(
            SourceCost(
                did,
                when,
                spend.amount_cents if spend else None,
                spend.currency if spend else None,
                calls,
                sales,
            )
        )
    return rows
