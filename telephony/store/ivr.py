"""IVR flows (versioned per DID; the newest version is in force) and IVR runs per call."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.store.models import IvrFlowVersion, IvrRun


@dataclass(frozen=True)
class FlowVersion:
    did: str
    version: int
    flow: dict[str, Any] | None  # None: removed
    who: str
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "did": self.did,
            "version": self.version,
            "flow": self.flow,
            "who": self.who,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class IvrRunRecord:
    call_id: str
    did: str
    flow_version: int | None
    caller_number: str | None
    started_at: datetime
    ended_at: datetime | None
    seconds: float | None
    path: list[str]
    keys: str
    tags: list[str]
    language: str
    result: str | None
    detail: dict[str, Any]
    alarms: list[str]


class IvrStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # --- flows ------------------------------------------------------------------

    async def save_flow(
        self, did: str, flow: dict[str, Any] | None, *, who: str, at: datetime
    ) -> FlowVersion:
        """Store a new version of `did`'s flow (None removes it); versions count from 1."""
        async with self._engine.begin() as conn:
            newest = (
                await conn.execute(
                    select(func.max(IvrFlowVersion.version)).where(IvrFlowVersion.did == did)
                )
            ).scalar()
            version = int(newest or 0) + 1
            await conn.execute(
                insert(IvrFlowVersion).values(did=did, version=version, flow=flow, who=who, at=at)
            )
        return FlowVersion(did, version, flow, who, at)

    async def flows_in_force(self) -> dict[str, FlowVersion]:
        """The newest version of every DID that has a flow (removed ones left out)."""
        newest = (
            select(IvrFlowVersion.did, func.max(IvrFlowVersion.version).label("version"))
            .group_by(IvrFlowVersion.did)
            .subquery()
        )
        stmt = select(IvrFlowVersion).join(
            newest,
            (IvrFlowVersion.did == newest.c.did) & (IvrFlowVersion.version == newest.c.version),
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return {r.did: FlowVersion(r.did, r.version, r.flow, r.who, r.at) for r in rows if r.flow}

    async def history(self, did: str | None = None, limit: int = 20) -> list[FlowVersion]:
        """Newest first; all DIDs or one."""
        stmt = select(IvrFlowVersion).order_by(IvrFlowVersion.id.desc()).limit(limit)
        if did is not None:
            stmt = stmt.where(IvrFlowVersion.did == did)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [FlowVersion(r.did, r.version, r.flow, r.who, r.at) for r in rows]

    # --- runs -------------------------------------------------------------------

    async def record_run(
        self,
        *,
        call_id: str,
        did: str,
        flow_version: int | None,
        caller_number: str | None,
        record: dict[str, Any],
        detail: dict[str, Any],
    ) -> None:
        """Store the IVR part of a call, as the walker recorded it (`IvrState.record`)."""
        values = {
            "call_id": call_id,
            "did": did,
            "flow_version": flow_version,
            "caller_number": caller_number,
            "started_at": datetime.fromisoformat(record["started_at"]),
            "ended_at": datetime.fromisoformat(record["ended_at"]),
            "seconds": record["seconds"],
            "path": list(record["path"]),
            "keys": str(record["keys"])[:64],
            "tags": list(record["tags"]),
            "language": record["language"],
            "result": record["result"],
            "detail": detail,
            "alarms": list(record["alarms"]),
        }
        async with self._engine.begin() as conn:
            await conn.execute(insert(IvrRun).values(**values))

    async def run(self, call_id: str) -> IvrRunRecord | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(IvrRun).where(IvrRun.call_id == call_id))
            ).one_or_none()
        return _run(row) if row is not None else None

    async def recent_runs(self, limit: int = 50) -> list[IvrRunRecord]:
        stmt = select(IvrRun).order_by(IvrRun.started_at.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_run(r) for r in rows]

    async def figures(self, since: datetime, until: datetime) -> dict[str, Any]:
        """IVR figures per DID: calls, abandoned in the IVR, where calls went, the paths
        taken (most frequent first) and the mean time spent."""
        stmt = select(IvrRun).where(IvrRun.started_at >= since, IvrRun.started_at < until)
        async with self._engine.connect() as conn:
            rows = [_run(r) for r in (await conn.execute(stmt)).all()]
        per_did: dict[str, list[IvrRunRecord]] = {}
        for row in rows:
            per_did.setdefault(row.did, []).append(row)
        out = []
        for did, runs in sorted(per_did.items()):
            results = Counter(r.result or "open" for r in runs)
            paths = Counter(" → ".join(r.path) for r in runs)
            seconds = [r.seconds for r in runs if r.seconds is not None]
            out.append(
                {
                    "did": did,
                    "calls": len(runs),
                    "abandoned": results.get("abandoned", 0),
                    "results": dict(results),
                    "paths": [{"path": p, "calls": n} for p, n in paths.most_common(20)],
                    "mean_seconds": round(sum(seconds) / len(seconds), 1) if seconds else None,
                }
            )
        return {"since": since.isoformat(), "until": until.isoformat(), "dids": out}


def _run(row: Any) -> IvrRunRecord:
    return IvrRunRecord(
        call_id=row.call_id,
        did=row.did,
        flow_version=row.flow_version,
        caller_number=row.caller_number,
        started_at=row.started_at,
        ended_at=row.ended_at,
        seconds=row.seconds,
        path=list(row.path),
        keys=row.keys,
        tags=list(row.tags),
        language=row.language,
        result=row.result,
        detail=dict(row.detail),
        alarms=list(row.alarms),
    )
