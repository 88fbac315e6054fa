"""Conversion per script, version and variant: the calls given each, and their outcomes
as the agents saved them (call_notes), with a Wilson 95% interval of sales ÷ calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from telephony.scripts.variants import wilson
from telephony.stats.sql import count_where
from telephony.store.models import Call, CallNote, CallScriptRow


@dataclass(frozen=True)
class VariantConversion:
    """The calls given one version and variant of a script, and their outcomes."""

    key: str
    version: int
    variant: str
    calls: int
    offers: int
    pending: int
    sales: int
    next_steps: int  # a next step agreed with a date and time
    lost: int
    low: float | None  # Wilson 95% interval of sales ÷ calls
    high: float | None

    @classmethod
    def of(
        cls,
        key: str,
        version: int,
        variant: str,
        *,
        calls: int,
        offers: int,
        pending: int,
        sales: int,
        next_steps: int,
        lost: int,
    ) -> VariantConversion:
        """The counts, and the interval of sales ÷ calls computed from them."""
        low, high = _interval(sales, calls)
        return cls(
            key, version, variant, calls, offers, pending, sales, next_steps, lost, low, high
        )

    @property
    def conversion(self) -> float | None:
        return self.sales / self.calls if self.calls else None

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "version": self.version,
            "variant": self.variant,
            "calls": self.calls,
            "offers": self.offers,
            "pending": self.pending,
            "sales": self.sales,
            "next_steps": self.next_steps,
            "lost": self.lost,
            "conversion": self.conversion,
            "ci95": [self.low, self.high] if self.low is not None else None,
        }


def script_outcome_columns() -> list[ColumnElement[Any]]:
    """A script variant's calls and what became of them, as the agents saved them (one
    definition for the conversion API and the statistics' stored figures)."""
    return [
        func.count().label("calls"),
        count_where(CallNote.outcome == "offer_made").label("offers"),
        count_where(CallNote.outcome == "pending_purchase").label("pending"),
        count_where(CallNote.outcome == "sale").label("sales"),
        count_where(CallNote.next_step_at.is_not(None)).label("next_steps"),
        count_where(CallNote.outcome == "lost").label("lost"),
    ]


async def conversion(
    conn: AsyncConnection,
    key: str | None,
    since: datetime,
    until: datetime,
    *,
    agent: str | None = None,
    did: str | None = None,
) -> list[VariantConversion]:
    """Per version and variant of `key` (None: of every script), the calls assigned
    in [since, until) and their outcomes as the agents saved them; conversion =
    sales ÷ calls, with its Wilson 95% interval. `agent` and `did` keep the calls
    that agent answered or that came in on that DID."""

    stmt = (
        select(
            CallScriptRow.key,
            CallScriptRow.version,
            CallScriptRow.variant,
            *script_outcome_columns(),
        )
        .select_from(CallScriptRow)
        .outerjoin(CallNote, CallNote.call_id == CallScriptRow.call_id)
        .where(CallScriptRow.assigned_at >= since, CallScriptRow.assigned_at < until)
        .group_by(CallScriptRow.key, CallScriptRow.version, CallScriptRow.variant)
        .order_by(CallScriptRow.key, CallScriptRow.version, CallScriptRow.variant)
    )
    if key is not None:
        stmt = stmt.where(CallScriptRow.key == key)
    if agent is not None or did is not None:  # the statistics page's filters
        stmt = stmt.join(Call, Call.id == CallScriptRow.call_id)
        if agent is not None:
            stmt = stmt.where(Call.agent_id == agent)
        if did is not None:
            stmt = stmt.where(Call.did == did)
    rows = (await conn.execute(stmt)).all()
    return [
        VariantConversion.of(
            r.key,
            r.version,
            r.variant,
            calls=int(r.calls),
            offers=int(r.offers),
            pending=int(r.pending),
            sales=int(r.sales),
            next_steps=int(r.next_steps),
            lost=int(r.lost),
        )
        for r in rows
    ]


def _interval(successes: int, n: int) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    low, high = wilson(successes, n)
    return float(low), float(high)
