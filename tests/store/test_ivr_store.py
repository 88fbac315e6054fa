"""IVR flows (versioned per DID) and IVR runs, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.store.ivr import IvrStore

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
FLOW = {"start": "agents", "nodes": {"agents": {"kind": "agents"}}}


async def test_each_save_is_a_new_version_and_the_newest_is_in_force(engine: AsyncEngine) -> None:
    store = IvrStore(engine)
    first = await store.save_flow("9001", FLOW, who="admin", at=T0)
    changed = {**FLOW, "language": "en", "languages": ["en"]}
    second = await store.save_flow("9001", changed, who="root", at=T0 + timedelta(minutes=1))
    await store.save_flow("9002", FLOW, who="admin", at=T0)
    assert (first.version, second.version) == (1, 2)
    in_force = await store.flows_in_force()
    assert set(in_force) == {"9001", "9002"}
    assert in_force["9001"].flow == changed and in_force["9001"].who == "root"
    history = await store.history("9001")
    assert [(h.version, h.who) for h in history] == [(2, "root"), (1, "admin")]
    assert history[0].at == T0 + timedelta(minutes=1)


async def test_removing_a_flow_is_a_version_too(engine: AsyncEngine) -> None:
    store = IvrStore(engine)
    await store.save_flow("9001", FLOW, who="admin", at=T0)
    removed = await store.save_flow("9001", None, who="admin", at=T0 + timedelta(seconds=1))
    assert removed.version == 2
    assert await store.flows_in_force() == {}
    assert [h.flow for h in await store.history()] == [None, FLOW]


def record(result: str, path: list[str], at: datetime, seconds: float) -> dict[str, object]:
    return {
        "path": path,
        "keys": "1",
        "tags": ["sales"],
        "language": "tr",
        "started_at": at.isoformat(),
        "ended_at": (at + timedelta(seconds=seconds)).isoformat(),
        "seconds": seconds,
        "result": result,
        "alarms": [],
    }


async def test_runs_are_stored_and_counted_by_path_and_result(engine: AsyncEngine) -> None:
    store = IvrStore(engine)
    await store.record_run(
        call_id="c1",
        did="9001",
        flow_version=1,
        caller_number="+905551112233",
        record=record("agents", ["greeting", "menu", "sales"], T0, 4.0),
        detail={"group": "sales"},
    )
    await store.record_run(
        call_id="c2",
        did="9001",
        flow_version=1,
        caller_number=None,
        record=record("abandoned", ["greeting", "menu"], T0 + timedelta(minutes=1), 2.0),
        detail={},
    )
    await store.record_run(
        call_id="c3",
        did="9001",
        flow_version=1,
        caller_number=None,
        record=record("agents", ["greeting", "menu", "sales"], T0 + timedelta(minutes=2), 6.0),
        detail={"group": "sales"},
    )
    run = await store.run("c1")
    assert run is not None
    assert run.path == ["greeting", "menu", "sales"] and run.keys == "1"
    assert run.tags == ["sales"] and run.result == "agents" and run.detail == {"group": "sales"}
    assert run.started_at == T0 and run.seconds == 4.0
    assert await store.run("nope") is None
    figures = await store.figures(T0, T0 + timedelta(hours=1))
    (did,) = figures["dids"]
    assert did["calls"] == 3 and did["abandoned"] == 1
    assert did["results"] == {"agents": 2, "abandoned": 1}
    assert did["paths"][0] == {"path": "greeting → menu → sales", "calls": 2}
    assert did["mean_seconds"] == 4.0
    assert [r.call_id for r in await store.recent_runs()] == ["c3", "c2", "c1"]
