"""What the script store reads and writes inside one transaction, and what it returns.

Shared by `telephony.store.scripts` (the store), `script_defaults` (the first start)
and `script_conversion`; every write of an admin change goes with its audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from telephony.scripts.model import Campaign, MatchRule, Release, Script
from telephony.scripts.validate import ScriptRejected, parse
from telephony.store.models import (
    PolicyChange,
    ScriptCampaignRow,
    ScriptReleaseRow,
    ScriptRow,
    ScriptRuleRow,
)

AUDIT_KIND = "scripts"
DEFAULT_KIND = "script_default"  # its newest entry is the fallback in force

_M = TypeVar("_M", bound=BaseModel)


class ScriptRefused(ValueError):
    """A change refused; `problems` names each field, the value and what is accepted.
    `status` is the HTTP status it maps to (404: no such script or version)."""

    def __init__(self, problems: list[str], status: int = 422) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.status = status


@dataclass(frozen=True)
class VersionInfo:
    key: str
    version: int
    status: str  # draft / published / retired
    created_by: str
    created_at: datetime
    published_by: str | None
    published_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "version": self.version,
            "status": self.status,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "published_by": self.published_by,
            "published_at": self.published_at.isoformat() if self.published_at else None,
        }


@dataclass(frozen=True)
class ScriptInfo:
    key: str
    name: str
    language: str
    created_by: str
    created_at: datetime
    retired_by: str | None
    retired_at: datetime | None
    versions: list[VersionInfo]
    release: Release | None

    @property
    def draft(self) -> int | None:
        newest = self.versions[-1] if self.versions else None
        return newest.version if newest and newest.status == "draft" else None

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "language": self.language,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "retired_by": self.retired_by,
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
            "versions": [v.as_json() for v in self.versions],
            "draft": self.draft,
            "release": self.release.model_dump(mode="json") if self.release else None,
        }


@dataclass(frozen=True)
class Change:
    """One audited admin change of scripts, campaigns or rules."""

    who: str
    at: datetime
    old: dict[str, Any]
    new: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"who": self.who, "at": self.at.isoformat(), "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Defaults:
    """What `load_defaults` added (empty lists: everything was there already)."""

    scripts: list[str] = field(default_factory=list)
    campaigns: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)


def problems_of(error: ValidationError, prefix: str = "") -> list[str]:
    """pydantic's errors as `field.path = value: what is wrong`."""
    out = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"])
        where = f"{prefix}.{where}" if prefix and where else prefix or where
        value = item.get("input")
        shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
        if len(shown) > 60:
            shown = shown[:57] + "..."
        out.append(f"{where} = {shown}: {item['msg']}" if where else item["msg"])
    return out


def model_of(cls: type[_M], raw: object, prefix: str) -> _M:
    try:
        return cls.model_validate(raw)
    except ValidationError as error:
        raise ScriptRefused(problems_of(error, prefix)) from None


def parse_script(raw: object) -> Script:
    try:
        return parse(raw)
    except ScriptRejected as rejected:
        raise ScriptRefused(list(rejected.problems)) from None


def version_info(row: Any) -> VersionInfo:
    return VersionInfo(
        row.key,
        row.version,
        row.status,
        row.created_by,
        row.created_at,
        row.published_by,
        row.published_at,
    )


def campaign_of_row(row: Any) -> Campaign:
    return Campaign(
        key=row.key, name=row.name, source=row.source, dids=list(row.dids), script=row.script
    )


async def read_campaigns(conn: AsyncConnection) -> list[Campaign]:
    rows = (await conn.execute(select(ScriptCampaignRow).order_by(ScriptCampaignRow.key))).all()
    return [campaign_of_row(r) for r in rows]


async def read_rules(conn: AsyncConnection) -> list[MatchRule]:
    rows = (await conn.execute(select(ScriptRuleRow).order_by(ScriptRuleRow.position))).all()
    return [
        MatchRule.model_validate({"name": r.name, "when": r.when, "script": r.script}) for r in rows
    ]


async def write_rule(conn: AsyncConnection, position: int, rule: MatchRule) -> None:
    """One matching rule at its place in the order."""
    await conn.execute(
        insert(ScriptRuleRow).values(
            position=position,
            name=rule.name,
            when=rule.when.model_dump(mode="json"),
            script=rule.script,
        )
    )


async def read_releases(conn: AsyncConnection, key: str | None = None) -> dict[str, Release]:
    """The release in force (newest row) per script, or of one script."""
    newest = select(func.max(ScriptReleaseRow.id).label("id")).group_by(ScriptReleaseRow.key)
    if key is not None:
        newest = newest.where(ScriptReleaseRow.key == key)
    stmt = select(ScriptReleaseRow).where(ScriptReleaseRow.id.in_(newest.scalar_subquery()))
    rows = (await conn.execute(stmt)).all()
    return {r.key: Release.model_validate({"key": r.key, "variants": r.variants}) for r in rows}


async def read_default_script(conn: AsyncConnection) -> str | None:
    """The newest change of kind "script_default" is the fallback in force (as the
    newest "rings" change is the ring policy in force)."""
    row = (
        await conn.execute(
            select(PolicyChange.new)
            .where(PolicyChange.kind == DEFAULT_KIND)
            .order_by(PolicyChange.id.desc())
            .limit(1)
        )
    ).first()
    value = row.new.get("default_script") if row is not None else None
    return str(value) if value is not None else None


async def live_script(conn: AsyncConnection, key: str) -> Any:
    row = (await conn.execute(select(ScriptRow).where(ScriptRow.key == key))).first()
    if row is None:
        raise ScriptRefused([f"script {key!r}: no such script"], 404)
    if row.retired_at is not None:
        raise ScriptRefused([f"script {key!r} is retired"])
    return row


async def usable(conn: AsyncConnection, key: str, where: str) -> list[str]:
    """Problems of naming script `key` in a campaign, a rule or as the fallback."""
    row = (await conn.execute(select(ScriptRow).where(ScriptRow.key == key))).first()
    if row is None:
        known = [r.key for r in (await conn.execute(select(ScriptRow.key))).all()]
        return [f"{where} = {key!r}: no such script; scripts: {sorted(known)[:30]}"]
    if row.retired_at is not None:
        return [f"{where} = {key!r}: the script is retired"]
    if not (await read_releases(conn, key)):
        return [f"{where} = {key!r}: the script has no published version yet"]
    return []


async def write_release(
    conn: AsyncConnection,
    release: Release,
    who: str,
    at: datetime,
    *,
    old: Release | None,
    audited: bool = True,
) -> None:
    variants = [v.model_dump(mode="json") for v in release.variants]
    await conn.execute(
        insert(ScriptReleaseRow).values(key=release.key, variants=variants, who=who, at=at)
    )
    if audited:
        await audit(
            conn,
            who,
            at,
            {"key": release.key, "variants": [v.model_dump(mode="json") for v in old.variants]}
            if old
            else {},
            {"action": "set_release", "key": release.key, "variants": variants},
        )


async def audit(
    conn: AsyncConnection,
    who: str,
    at: datetime,
    old: dict[str, Any],
    new: dict[str, Any],
    kind: str = AUDIT_KIND,
) -> None:
    await conn.execute(insert(PolicyChange).values(kind=kind, who=who, at=at, old=old, new=new))
