"""The pop's pure composer, the pops watcher without a socket, and agent wrap-up."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from telephony.calls.agents import AgentPool, AgentSlot, AgentStatus
from telephony.config import AgentConfig
from telephony.push.hub import Connection, Hub
from telephony.push.pop import compose_pop, format_number, rings_left
from telephony.push.pops import Pops, agent_topic
from telephony.store.history import CallerContext, OpenCallback, PastCall

from .test_push_ws import call_snapshot

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def past(call_id: str, outcome: str | None) -> PastCall:
    return PastCall(
        call_id=call_id,
        arrived_at=T0 - timedelta(days=1),
        did="908502220001",
        agent_id="bob",
        agent_name="Bob",
        answered_at=T0 - timedelta(days=1),
        ended_at=T0 - timedelta(days=1) + timedelta(seconds=75.04),
        call_outcome="answered",
        outcome=outcome,
        lost_reason=None,
        notes="n" * 5000,
        needs="",
        next_step="call back",
        next_step_at=T0 + timedelta(days=1),
        has_recording=outcome is not None,
    )


def test_numbers_and_rings() -> None:
    assert format_number("+905321112233") == "+90 532 111 22 33"
    assert format_number(None) == "" and format_number("") == ""
    call = call_snapshot()
    assert rings_left(call, T0) == 3.0
    assert rings_left(call, T0 + timedelta(seconds=7.5)) == 1.5
    assert rings_left(call, T0 + timedelta(minutes=5)) == 0.0
    assert rings_left({**call, "ringing_since": None}, T0) is None


def test_compose_pop_prefers_the_typed_name_and_caps_hostile_text() -> None:
    context = CallerContext(
        "+905321112233",
        contact_name="Ali\u202e Vural",
        last_calls=[past("p1", "offer_made"), past("p2", None)],
        callbacks=[OpenCallback(3, T0, "pending", "bob", 0)],
    )
    pop = compose_pop(call_snapshot(name="<b>x</b>" * 100), context, now=T0)
    assert pop["caller"]["name"] == "Ali Vural" and pop["caller"]["name_from"] == "contact"
    assert len(pop["caller"]["caller_id_name"]) <= 80
    assert pop["caller"]["returning"] is True and pop["history_ready"] is True
    first, second = pop["last_calls"]
    assert first["duration_s"] == 75.0 and len(first["notes"]) == 2000
    assert first["recording_url"] == "/api/recordings/p1" and second["recording_url"] is None
    assert [d["call_id"] for d in pop["pending_deals"]] == ["p1"]
    assert pop["callbacks"][0]["id"] == 3 and pop["script"] is None
    json.dumps(pop)  # plain JSON

    anonymous = compose_pop({**call_snapshot(), "caller_number": None}, None, now=T0)
    assert anonymous["caller"]["anonymous"] is True and anonymous["history_ready"] is False
    assert anonymous["caller"]["returning"] is False


async def test_pops_lookup_once_per_call_and_ring_all_gets_one_serialisation() -> None:
    hub = Hub()
    lookups: list[str] = []

    async def look_up(number: str | None, call_id: str) -> CallerContext:
        lookups.append(call_id)
        return CallerContext(number)

    talking: list[tuple[str, str]] = []
    pops = Pops(hub, look_up, clock=lambda: T0, on_talking=lambda a, c: talking.append((a, c)))
    got: dict[str, list[dict[str, object]]] = {"alice": [], "bob": []}
    runs = []
    for agent in got:

        async def send(text: str, agent: str = agent) -> None:
            got[agent].append(json.loads(text))

        connection = Connection(agent, send)
        connection.keep(hub.subscribe(agent_topic(agent), connection))
        runs.append((connection, asyncio.create_task(connection.run())))
    pops.on_snapshot(call_snapshot(offered_to=("alice",)))
    pops.on_snapshot(call_snapshot(offered_to=("alice", "bob")))  # ring-all adds Bob
    await asyncio.sleep(0.01)
    assert lookups == ["c1"]
    assert [m["type"] for m in got["alice"]] == ["pop"]
    assert [m["type"] for m in got["bob"]] == ["pop"]
    assert pops.may_see("bob", "c1") and not pops.may_see("carol", "c1")
    pops.on_snapshot(call_snapshot(phase="talking", offered_to=("alice",), agent_id="alice"))
    await asyncio.sleep(0.01)
    assert talking == [("alice", "c1")]
    assert [m["type"] for m in got["bob"]] == ["pop", "pop_withdrawn"]
    assert pops.snapshot_for("alice")["call"]["call"]["id"] == "c1"
    pops.on_snapshot(call_snapshot(phase="ended", offered_to=(), agent_id="alice"))
    await asyncio.sleep(0.01)
    assert got["alice"][-1]["type"] == "call_ended"
    assert pops.snapshot_for("alice")["ended_call"]["call"]["id"] == "c1"
    assert pops.may_see("alice", "c1")
    pops.forget_ended("alice")
    assert pops.snapshot_for("alice") == {
        "pops": [],
        "call": None,
        "ended_call": None,
        "now": T0.isoformat(),
    }
    for connection, run in runs:
        connection.close()
        await run
    await pops.close()


async def test_a_history_read_without_await_pops_at_once_and_a_failing_one_falls_back() -> None:
    """SQLite: the read runs at the call's first change, so the pop leaves with the
    offer itself, before any await. A read that raises there is tried again in a task."""
    hub = Hub()
    published: list[str] = []
    real_publish_many = hub.publish_many

    def publish_many(topics: list[str], type_: str, data: dict[str, object]) -> int:
        published.append(type_)
        return real_publish_many(topics, type_, data)

    hub.publish_many = publish_many  # type: ignore[method-assign]
    asked: list[str] = []

    async def look_up(number: str | None, call_id: str) -> CallerContext:
        asked.append(call_id)
        return CallerContext(number)

    def now_or_fail(number: str | None, call_id: str) -> CallerContext | None:
        if call_id == "c2":
            raise RuntimeError("database is locked")
        return CallerContext(number, contact_name="Ayşe")

    pops = Pops(hub, look_up, clock=lambda: T0, lookup_now=now_or_fail)
    pops.on_snapshot(call_snapshot(offered_to=("alice",)))
    assert published == ["pop"] and asked == []  # no await: the pop has left already
    pops.on_snapshot({**call_snapshot(offered_to=("bob",)), "id": "c2"})
    assert published == ["pop"]  # c2 waits for its read in a task
    await asyncio.sleep(0.01)
    assert published == ["pop", "pop"] and asked == ["c2"]
    # Ring-all: both agents offered in one change get one message (one serialisation).
    pops.on_snapshot({**call_snapshot(offered_to=("carol", "dave")), "id": "c3"})
    assert published == ["pop", "pop", "pop"]
    await pops.close()


def status(slot: AgentSlot) -> AgentStatus:
    return slot.status  # read afresh (mypy would keep the narrowed type of an attribute)


def test_wrapup_after_a_talked_call_only_and_routing_skips_it() -> None:
    pool = AgentPool([AgentConfig(id="a", name="A", endpoint="PJSIP/a")], T0)
    changes: list[str] = []
    pool.on_change = lambda slot: changes.append(str(slot.status))
    [slot] = pool.reserve("c1")
    pool.release("a", T0, wrapup=True)  # an offer not answered: straight back
    assert status(slot) is AgentStatus.AVAILABLE
    pool.reserve("c2")
    pool.mark_talking("a", "c2")
    pool.release("a", T0, wrapup=True)
    assert status(slot) is AgentStatus.WRAPUP
    assert pool.reserve("c3") == []  # no offers in wrap-up
    assert pool.end_wrapup("a", T0) is slot and status(slot) is AgentStatus.AVAILABLE
    assert pool.end_wrapup("a", T0) is None
    assert changes == ["busy", "available", "busy", "wrapup", "available"]
    # A pause asked for in wrap-up takes effect at once.
    pool.reserve("c4")
    pool.mark_talking("a", "c4")
    pool.release("a", T0, wrapup=True)
    pool.pause("a", T0, "break")
    assert status(slot) is AgentStatus.PAUSED and pool.end_wrapup("a", T0) is None
