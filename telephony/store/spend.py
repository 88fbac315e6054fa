"""Ad spend per source (a DID) and month, entered by an admin; every change is written
to the policy audit trail (kind "ad_spend": who, when, old, new)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.store.models import AdSpend
from telephony.store.policy_audit import AuditEntry, PolicyAudit

AUDIT_KIND = "ad_spend"
MAX_AMOUNT = Decimal("1000000000")  # per source and month
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SpendRejected(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def check_month(name: str, value: object) -> str:
    """A month as YYYY-MM, or ValueError naming the parameter and the value."""
    if not isinstance(value, str) or not _MONTH.match(value):
        raise ValueError(f"{name} = {value!r}: must be a month like 2026-11")
    return value


@dataclass(frozen=True)
class Spend:
    did: str
    month: str
    amount_cents: int
    currency: str
    who: str
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "did": self.did,
            "month": self.month,
            "amount": self.amount_cents / 100,
            "currency": self.currency,
            "who": self.who,
            "at": self.at.isoformat(),
        }


def validate(body: Mapping[str, Any]) -> tuple[str, str, int, str]:
    """(did, month, amount in cents, currency) of an admin's entry, or SpendRejected."""
    problems: list[str] = []
    allowed = {"did", "month", "amount", "currency"}
    for extra in sorted(set(body) - allowed):
        problems.append(f"{extra}: unknown field (accepted: {', '.join(sorted(allowed))})")
    did = body.get("did")
    if not isinstance(did, str) or not 1 <= len(did) <= 80 or not did.isprintable():
        problems.append(f"did = {did!r}: must be the number (text, 1 to 80 characters)")
    month = body.get("month")
    try:
        check_month("month", month)
    except ValueError as error:
        problems.append(str(error))
    raw = body.get("amount")
    cents = 0
    try:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise InvalidOperation
        amount = Decimal(str(raw))
        if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
            raise InvalidOperation
        if amount != amount.quantize(Decimal("0.01")):
            raise InvalidOperation
        cents = int(amount * 100)
    except InvalidOperation:
        problems.append(
            f"amount = {raw!r}: must be a number from 0 to {MAX_AMOUNT} with at most 2 decimals"
        )
    currency = body.get("currency", "TRY")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        problems.append(f"currency = {currency!r}: must be three capital letters like TRY")
    if problems:
        raise SpendRejected(problems)
    return str(did), str(month), cents, str(currency)


class SpendStore:
    def __init__(
        self, engine: AsyncEngine, audit: PolicyAudit, *, now: Callable[[], datetime] = _utc_now
    ) -> None:
        self._engine = engine
        self._audit = audit
        self._now = now

    async def put(self, body: Mapping[str, Any], who: str) -> Spend:
        """Set one source's spend for one month (validated, audited)."""
        did, month, cents, currency = validate(body)
        at = self._now()
        key = (AdSpend.did == did, AdSpend.month == month)
        values = {"amount_cents": cents, "currency": currency, "who": who, "at": at}
        async with self._engine.begin() as conn:
            old = (await conn.execute(select(AdSpend).where(*key))).first()
            if old is None:
                await conn.execute(insert(AdSpend).values(did=did, month=month, **values))
            else:
                await conn.execute(update(AdSpend).where(*key).values(**values))
        spend = Spend(did, month, cents, currency, who, at)
        before = (
            {"did": did, "month": month, "amount_cents": old.amount_cents, "currency": old.currency}
            if old is not None
            else {}
        )
        after = {"did": did, "month": month, "amount_cents": cents, "currency": currency}
        await self._audit.record(AuditEntry(AUDIT_KIND, who, at, before, after))
        return spend

    async def months(self, first: str, last: str) -> list[Spend]:
        """Every entry for months first..last (YYYY-MM, both included), by month and DID."""
        stmt = (
            select(AdSpend)
            .where(AdSpend.month >= first, AdSpend.month <= last)
            .order_by(AdSpend.month, AdSpend.did)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [Spend(r.did, r.month, r.amount_cents, r.currency, r.who, r.at) for r in rows]
