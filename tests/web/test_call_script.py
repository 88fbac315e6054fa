"""The call's script over HTTP and in the pops, on a real migrated SQLite store with the
shipped library loaded: the pop carries the matched script and why (chosen once per
call and assigned first-wins), the agent's marks are checked against the script, and an
outcome needs a next step with date and time (or a reason for none), on the server."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import structlog
import structlog.testing
from aiohttp import web
from sqlalchemy.exc import OperationalError

from telephony.auth import Passwords
from telephony.config import AgentConfig
from telephony.push.call_scripts import CallScripts
from telephony.push.hub import Connection, Hub
from telephony.push.live import LiveView
from telephony.push.pops import Pops, agent_topic
from telephony.push.state import Push
from telephony.scripts.library import default_library
from telephony.scripts.model import CallScript, Language
from telephony.store.history import CallerContext, History
from telephony.store.notes import Notes
from telephony.store.repo import CallStore
from telephony.store.scripts import ScriptStore
from telephony.web import create_web_app
from telephony.web.call_script import CallScriptsWeb, Company, add_call_script_routes

from ..bad_input import report
from .conftest import CHEAP_HASHER, T0, Client, World, add_user, finished_call, log_in
from .test_push_ws import NUMBER, call_snapshot

DID = "908502220001"  # the demo's first advertised number (call_snapshot's DID)
ISTANBUL = ZoneInfo("Europe/Istanbul")
Lookup = Callable[[str | None, str], Awaitable[CallerContext]]


@dataclass
class Served:
    app: web.Application
    push: Push
    scripts: ScriptStore
    live: CallScripts


async def scripted_push(
    store: CallStore,
    world: World,
    *,
    look_up: Lookup | None = None,
    budget_s: float = 0.25,
    language: Language = "tr",
) -> tuple[Push, ScriptStore, CallScripts]:
    """Pops over the real history, matching from a real script store with the library
    (and the demo's campaign + open-deal rule for DID, in Turkish)."""
    history = History(store.engine)

    async def real_look_up(number: str | None, call_id: str) -> CallerContext:
        return await history.caller_context(number, exclude_call=call_id)

    scripts = ScriptStore(store.engine, world.clock)
    await scripts.load_defaults(default_library(), {DID: language})
    hub = Hub()
    pops = Pops(hub, look_up or real_look_up, clock=world.clock, budget_s=budget_s)
    live = CallScripts(scripts, zone_of=lambda did: ISTANBUL)
    pops.scripts = live
    await live.refresh()
    push = Push(
        hub=hub,
        pops=pops,
        live=LiveView(hub, live_calls=world.live_calls, agents=list, clock=world.clock),
        agent_state=lambda agent_id: {"id": agent_id, "status": "available"},
    )
    return push, scripts, live


def scripted_app(
    store: CallStore, world: World, push: Push, scripts: ScriptStore
) -> web.Application:
    app = create_web_app(
        store=store,
        live_calls=world.live_calls,
        ari_state=world.ari_state,
        db_ok=world.db_ok,
        now=world.clock,
        passwords=Passwords(CHEAP_HASHER),
        push=push,
    )
    companies = {DID: Company("Usta Tavan", "gergi tavan")}
    add_call_script_routes(app, CallScriptsWeb(store=scripts, calls=store, companies=companies))
    return app


@pytest.fixture
async def served(store: CallStore, world: World) -> Served:
    await store.upsert_agents(
        [
            AgentConfig(id="alice", name="Alice Kaya", endpoint="PJSIP/a"),
            AgentConfig(id="bob", name="Bob", endpoint="PJSIP/b"),
        ]
    )
    push, scripts, live = await scripted_push(store, world)
    app = scripted_app(store, world, push, scripts)
    await add_user(app, "alice", agent_id="alice")
    await add_user(app, "bob", agent_id="bob")
    await add_user(app, "sup", role="supervisor")
    return Served(app, push, scripts, live)


async def open_deal_before(store: CallStore, call_id: str = "old-deal") -> None:
    """The caller's earlier call ended with an offer made: a pending deal."""
    await store.upsert_agents([AgentConfig(id="bob", name="Bob", endpoint="PJSIP/b")])
    await finished_call(store, call_id, number=NUMBER, agent_id="bob", start=T0 - timedelta(days=2))
    await Notes(store.engine).save(
        call_id, {"outcome": "offer_made"}, agent_id="bob", by="bob", caller_number=NUMBER
    )


class Inbox:
    """What one agent's browser would receive (a real hub connection, no socket)."""

    def __init__(self, hub: Hub, agent: str) -> None:
        self.messages: list[dict[str, Any]] = []

        async def send(text: str) -> None:
            self.messages.append(json.loads(text))

        self.connection = Connection(agent, send)
        self.connection.keep(hub.subscribe(agent_topic(agent), self.connection))
        self.task = asyncio.create_task(self.connection.run())

    def of(self, *types: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] in types]

    async def close(self) -> None:
        self.connection.close()
        await self.task


async def until(check: Callable[[], object], timeout: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


# --- the pop ----------------------------------------------------------------------------


async def test_a_returning_caller_with_an_open_deal_gets_the_rule_s_script_with_why(
    served: Served, store: CallStore
) -> None:
    await open_deal_before(store)
    inbox = Inbox(served.push.hub, "alice")
    pops = served.push.pops
    pops.on_snapshot(call_snapshot("c-deal", offered_to=()))  # arrives: history looked up
    await until(lambda: pops.script_of("c-deal") is not None)
    pops.on_snapshot(call_snapshot("c-deal"))  # offered to Alice
    await until(lambda: inbox.of("pop"))
    pop = inbox.of("pop")[0]["pop"]
    script = pop["script"]
    assert script["key"] == "meeting_tr" and script["version"] == 1 and script["variant"] == "A"
    assert script["reason"][:3] == [
        f"DID {DID}",
        f"campaign 'Demo advert {DID} (tr)'",
        f"rule 'Returning caller with an open deal on {DID}'",
    ]
    assert script["body"]["key"] == "meeting_tr" and pop["source"] == f"Demo advert {DID} (tr)"
    # Stored when Alice answers (not before: no write joins a burst of ringing calls).
    await until(lambda: served.live._tasks == set())
    assert await served.scripts.for_call("c-deal") is None
    pops.on_snapshot(call_snapshot("c-deal", phase="talking", offered_to=(), agent_id="alice"))
    await until(lambda: served.live._tasks == set())
    stored = await served.scripts.for_call("c-deal")
    assert stored is not None and stored.key == "meeting_tr"
    assert stored.reason == script["reason"]
    await inbox.close()


async def test_a_new_caller_gets_the_campaign_s_script_and_it_never_changes(
    served: Served, store: CallStore
) -> None:
    inbox = Inbox(served.push.hub, "alice")
    pops = served.push.pops
    pops.on_snapshot(call_snapshot("c-new"))
    await until(lambda: inbox.of("pop"))
    first = inbox.of("pop")[0]["pop"]["script"]
    assert first["key"] == "inbound_sale_tr"
    assert first["reason"][2] == "the campaign's script"
    # A later change of the setup (another rule for every caller) leaves this call alone.
    await served.scripts.set_rules(
        [{"name": "everyone", "when": {}, "script": "phone_sale_tr"}], who="admin"
    )
    await served.live.refresh()
    pops.on_snapshot(call_snapshot("c-new", phase="talking", offered_to=(), agent_id="alice"))
    await until(lambda: inbox.of("call"))
    assert inbox.of("call")[-1]["pop"]["script"]["key"] == "inbound_sale_tr"
    # ... while the next call takes the new rule.
    pops.on_snapshot(call_snapshot("c-next"))
    await until(lambda: any(m["pop"]["call_id"] == "c-next" for m in inbox.of("pop")))
    nxt = next(m["pop"] for m in inbox.of("pop") if m["pop"]["call_id"] == "c-next")
    assert nxt["script"]["key"] == "phone_sale_tr"
    await inbox.close()


async def test_a_late_history_refines_the_provisional_script_before_it_is_assigned(
    store: CallStore, world: World
) -> None:
    await open_deal_before(store)
    history = History(store.engine)
    release = asyncio.Event()

    async def slow(number: str | None, call_id: str) -> CallerContext:
        await release.wait()
        return await history.caller_context(number, exclude_call=call_id)

    push, scripts, live = await scripted_push(store, world, look_up=slow, budget_s=0.02)
    inbox = Inbox(push.hub, "alice")
    push.pops.on_snapshot(call_snapshot("c-late"))
    await until(lambda: inbox.of("pop"))
    provisional = inbox.of("pop")[0]["pop"]
    assert provisional["history_ready"] is False
    assert provisional["script"]["key"] == "inbound_sale_tr"  # no history: a new caller
    assert await scripts.for_call("c-late") is None  # not assigned yet
    release.set()
    await until(lambda: inbox.of("pop_update"))
    update = inbox.of("pop_update")[0]["pop"]
    assert update["history_ready"] is True and update["script"]["key"] == "meeting_tr"
    talking = call_snapshot("c-late", phase="talking", offered_to=(), agent_id="alice")
    push.pops.on_snapshot(talking)
    await until(lambda: live._tasks == set())
    stored = await scripts.for_call("c-late")
    assert stored is not None and stored.key == "meeting_tr"
    await inbox.close()
    await push.pops.close()


async def test_the_store_s_first_assignment_wins_over_a_new_choice(
    served: Served, store: CallStore
) -> None:
    """E.g. after a restart: the call already had a script; the pop follows the store."""
    setup = await served.scripts.setup()
    body = setup.bodies[("phone_sale_tr", 1)]
    earlier = CallScript(
        key="phone_sale_tr",
        version=1,
        variant="A",
        name=body.name,
        language="tr",
        campaign=None,
        reason=["assigned before the restart"],
        body=body,
    )
    await served.scripts.assign("c-again", earlier)
    inbox = Inbox(served.push.hub, "alice")
    served.push.pops.on_snapshot(call_snapshot("c-again"))
    await until(lambda: inbox.of("pop"))
    assert inbox.of("pop")[0]["pop"]["script"]["key"] == "inbound_sale_tr"
    talking = call_snapshot("c-again", phase="talking", offered_to=(), agent_id="alice")
    served.push.pops.on_snapshot(talking)
    await until(lambda: len(inbox.of("call")) >= 2)
    update = inbox.of("call")[-1]["pop"]["script"]
    assert update["key"] == "phone_sale_tr" and update["reason"] == ["assigned before the restart"]
    await inbox.close()


async def answered_by_alice(served: Served, call_id: str) -> Inbox:
    """The call pops on Alice's screen, then she answers it (its script is assigned)."""
    inbox = Inbox(served.push.hub, "alice")
    pops = served.push.pops
    pops.on_snapshot(call_snapshot(call_id))
    await until(lambda: inbox.of("pop"))
    pops.on_snapshot(call_snapshot(call_id, phase="talking", offered_to=(), agent_id="alice"))
    return inbox


async def test_a_locked_database_delays_the_script_s_assignment_and_loses_nothing(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite under a burst: "database is locked" is tried again, as every store write."""
    monkeypatch.setattr("telephony.store.retry.WRITE_RETRY_DELAYS", (0.01,))
    real = served.scripts.assign
    tries: list[str] = []

    async def locked_once(call_id: str, script: CallScript) -> Any:
        tries.append(call_id)
        if len(tries) == 1:
            raise OperationalError("UPDATE calls", {}, Exception("database is locked"))
        return await real(call_id, script)

    monkeypatch.setattr(served.scripts, "assign", locked_once)
    inbox = await answered_by_alice(served, "c-locked")
    await until(lambda: len(tries) == 2 and served.live._tasks == set())
    stored = await served.scripts.for_call("c-locked")
    assert stored is not None and stored.key == "inbound_sale_tr"
    await inbox.close()


async def test_a_database_away_at_stop_holds_the_stop_no_longer_than_its_bound(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An assignment still being tried again when the service stops is given up after
    the bound (logged), not after its minute of retries."""
    monkeypatch.setattr("telephony.store.retry.WRITE_RETRY_DELAYS", (60.0,))
    tries: list[str] = []

    async def away(call_id: str, script: CallScript) -> Any:
        tries.append(call_id)
        raise OperationalError("UPDATE calls", {}, ConnectionRefusedError(111, "refused"))

    monkeypatch.setattr(served.scripts, "assign", away)
    inbox = await answered_by_alice(served, "c-away")
    await until(lambda: tries == ["c-away"])
    scripts = served.push.pops.scripts
    assert scripts is not None
    loop = asyncio.get_running_loop()
    started = loop.time()
    with structlog.testing.capture_logs() as logs:
        await scripts.close(within_s=0.05)
    assert loop.time() - started < 5
    assert any(e["event"] == "scripts.assignments_left_at_close" for e in logs)
    await inbox.close()


async def test_the_ivr_choice_its_language_and_the_did_s_local_hour_pick_the_rule(
    served: Served,
) -> None:
    """Rules on the IVR tag, the IVR language and the hour at the DID (Istanbul; the
    clock says 09:10 UTC = 12:10 there), each with why."""
    await served.scripts.set_rules(
        [
            {"name": "support menu", "when": {"ivr_tag": "support"}, "script": "phone_sale_tr"},
            {"name": "English speakers", "when": {"language": "en"}, "script": "inbound_sale_en"},
            {"name": "lunch hours", "when": {"hours": [12, 14]}, "script": "general_inbound_tr"},
        ],
        who="admin",
    )
    await served.live.refresh()
    inbox = Inbox(served.push.hub, "alice")
    calls = {
        "c-tag": {"tag": "support", "ivr": {"language": "tr", "tag": "support"}},
        "c-lang": {"tag": "sales", "ivr": {"language": "en", "tag": "sales"}},
        "c-hour": {},
    }
    for call_id, extra in calls.items():
        served.push.pops.on_snapshot({**call_snapshot(call_id), **extra})
    await until(lambda: len(inbox.of("pop")) == 3)
    got = {m["pop"]["call_id"]: m["pop"]["script"] for m in inbox.of("pop")}
    assert got["c-tag"]["key"] == "phone_sale_tr"
    assert got["c-tag"]["reason"][2] == "rule 'support menu'"
    assert got["c-lang"]["key"] == "inbound_sale_en"
    assert got["c-lang"]["reason"][2] == "rule 'English speakers'"
    assert got["c-hour"]["key"] == "general_inbound_tr"
    assert got["c-hour"]["reason"][2] == "rule 'lunch hours'"
    await inbox.close()


async def test_no_script_matches_leaves_null_and_the_campaign_still_names_the_source(
    store: CallStore, world: World
) -> None:
    push, scripts, live = await scripted_push(store, world)
    await scripts.set_default(None, who="admin")
    await scripts.delete_campaign(f"demo_{DID}", who="admin")
    await live.refresh()
    inbox = Inbox(push.hub, "alice")
    push.pops.on_snapshot({**call_snapshot("c-none"), "did": "902120000000"})
    await until(lambda: inbox.of("pop"))
    pop = inbox.of("pop")[0]["pop"]
    assert pop["script"] is None and pop["source"] == "902120000000"
    await inbox.close()
    await push.pops.close()


# --- the route ----------------------------------------------------------------------------


async def client_of(served: Served, aiohttp_client: Any, name: str) -> tuple[Client, str]:
    client: Client = await aiohttp_client(served.app)
    return client, await log_in(client, name)


async def talked_call(store: CallStore, call_id: str, agent_id: str = "alice") -> None:
    """A call to DID that `agent_id` talked, in the store."""
    await store.call_arrived(
        call_id=call_id,
        did=DID,
        caller_number_raw=NUMBER,
        caller_name_raw="Ali Vural",
        caller_channel_id=f"chan-{call_id}",
        arrived_at=T0,
    )
    await store.update_call(
        call_id,
        agent_id=agent_id,
        ringing_at=T0 + timedelta(seconds=1),
        answered_at=T0 + timedelta(seconds=4),
    )


async def call_with_script(served: Served, store: CallStore, call_id: str = "c-talk") -> None:
    """A call Alice answered, in the store, with the campaign's script assigned."""
    await talked_call(store, call_id)
    served.push.pops.on_snapshot(call_snapshot(call_id, offered_to=()))
    await until(lambda: served.push.pops.script_of(call_id) is not None)
    talking = call_snapshot(call_id, phase="talking", offered_to=(), agent_id="alice")
    served.push.pops.on_snapshot(talking)
    await until(lambda: served.live._tasks == set())
    assert await served.scripts.for_call(call_id) is not None


async def test_get_returns_the_script_marks_and_values_and_put_merges_marks(
    served: Served, store: CallStore, aiohttp_client: Any
) -> None:
    await call_with_script(served, store)
    alice, csrf = await client_of(served, aiohttp_client, "alice")
    got = await alice.get("/api/calls/c-talk/script")
    assert got.status == 200
    data = await got.json()
    assert data["script"]["key"] == "inbound_sale_tr" and data["progress"] == {}
    assert data["values"] == {
        "agent.first_name": "Alice",
        "company.name": "Usta Tavan",
        "company.activity": "gergi tavan",
    }
    headers = {"X-CSRF-Token": csrf}
    marks = {"stage": "needs", "questions": ["q_rooms", "q_deadline"], "price_asks": 2}
    put = await alice.put("/api/calls/c-talk/script", json=marks, headers=headers)
    assert put.status == 200, await put.text()
    more = {"insists": True, "no_next_step_reason": " caller \u202ewill call back "}
    put = await alice.put("/api/calls/c-talk/script", json=more, headers=headers)
    assert (await put.json())["progress"] == {
        **marks,
        "insists": True,
        "no_next_step_reason": "caller will call back",  # cleaned of the bidi override
    }
    again = await (await alice.get("/api/calls/c-talk/script")).json()
    assert again["progress"]["stage"] == "needs" and again["progress"]["price_asks"] == 2
    cleared = await alice.put(
        "/api/calls/c-talk/script", json={"no_next_step_reason": None}, headers=headers
    )
    assert (await cleared.json())["progress"]["no_next_step_reason"] is None


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ([1, 2], 400, "JSON object"),
        ("text", 400, "JSON object"),
        ({"stage": "needs", "admin": True}, 422, "'admin': unknown field"),
        ({"stage": "nowhere"}, 422, "stage = 'nowhere': must be a stage of this script"),
        ({"stage": 3}, 422, "stage = 3"),
        ({"stage": None}, 422, "stage = None"),
        ({"price_asks": -1}, 422, "price_asks = -1: must be a whole number 0..50"),
        ({"price_asks": 10**12}, 422, "price_asks = 1000000000000"),
        ({"price_asks": 2.5}, 422, "price_asks = 2.5"),
        ({"price_asks": True}, 422, "price_asks = True"),
        ({"questions": ["q_rooms", "q_nope"]}, 422, "questions = list of 2"),
        ({"questions": ["q_rooms", "q_rooms"]}, 422, "distinct question keys"),
        ({"questions": "q_rooms"}, 422, "questions = 'q_rooms'"),
        ({"questions": [{"key": "q_rooms"}]}, 422, "questions = list of 1"),
        ({"insists": "yes"}, 422, "insists = 'yes': must be true or false"),
        ({"no_next_step_reason": "x" * 201}, 422, "201 characters"),
        ({"no_next_step_reason": 5}, 422, "no_next_step_reason = 5"),
        ({"no_next_step_reason": "x" * 9000}, 413, "at most 8192 bytes"),
        ({"stage": "needs", "questions": [[[]]]}, 422, "questions = list of 1"),
    ],
)
async def test_bad_marks_are_refused_naming_the_field(
    served: Served,
    store: CallStore,
    aiohttp_client: Any,
    body: object,
    status: int,
    says: str,
) -> None:
    await call_with_script(served, store)
    alice, csrf = await client_of(served, aiohttp_client, "alice")
    put = await alice.put(
        "/api/calls/c-talk/script", data=json.dumps(body), headers={"X-CSRF-Token": csrf}
    )
    assert put.status == status
    reply = await put.json()
    assert says in json.dumps(reply, ensure_ascii=False), reply
    progress = await served.scripts.progress("c-talk")
    assert progress == {}  # nothing of a refused body was kept


async def test_who_may_read_and_mark_a_call_s_script(
    served: Served, store: CallStore, aiohttp_client: Any
) -> None:
    await call_with_script(served, store)
    url = "/api/calls/c-talk/script"
    anonymous: Client = await aiohttp_client(served.app)
    assert (await anonymous.get(url)).status == 401
    assert (await anonymous.put(url, json={"stage": "needs"})).status == 401
    bob, bob_csrf = await client_of(served, aiohttp_client, "bob")
    assert (await bob.get(url)).status == 403
    put = await bob.put(url, json={"stage": "needs"}, headers={"X-CSRF-Token": bob_csrf})
    assert put.status == 403
    alice, csrf = await client_of(served, aiohttp_client, "alice")
    assert (await alice.put(url, json={"stage": "needs"})).status == 403  # no CSRF token
    wrong = await alice.put(url, json={"stage": "needs"}, headers={"X-CSRF-Token": "x"})
    assert wrong.status == 403
    sup, sup_csrf = await client_of(served, aiohttp_client, "sup")
    assert (await sup.get(url)).status == 200
    ok = await sup.put(url, json={"stage": "close"}, headers={"X-CSRF-Token": sup_csrf})
    assert ok.status == 200
    assert (await alice.get("/api/calls/nope/script")).status == 404
    # A call of Alice's that got no script: nothing to mark.
    await finished_call(store, "c-bare", number=NUMBER, agent_id="alice")
    assert (await (await alice.get("/api/calls/c-bare/script")).json())["script"] is None
    bare = await alice.put(
        "/api/calls/c-bare/script", json={"stage": "x"}, headers={"X-CSRF-Token": csrf}
    )
    assert bare.status == 404


# --- the outcome needs a next step --------------------------------------------------------


async def test_the_outcome_waits_for_a_next_step_with_date_and_time(
    served: Served, store: CallStore, aiohttp_client: Any
) -> None:
    await call_with_script(served, store)
    alice, csrf = await client_of(served, aiohttp_client, "alice")
    headers = {"X-CSRF-Token": csrf}
    notes = "/api/calls/c-talk/notes"
    refused = await alice.put(notes, json={"outcome": "sale"}, headers=headers)
    assert refused.status == 422
    problems = (await refused.json())["problems"]
    assert problems == [
        "outcome = 'sale' refused: next_step: this script requires a next step with a date "
        "and a time (next_step, next_step_at), or a no_next_step_reason"
    ]
    # A next step without its time is not concrete.
    vague = await alice.put(
        notes, json={"outcome": "offer_made", "next_step": "meet sometime"}, headers=headers
    )
    assert vague.status == 422
    assert "next_step_at: required with next_step" in (await vague.text())
    assert (await Notes(store.engine).get("c-talk")).outcome is None  # nothing saved
    # The next step typed first (saved), the outcome after: accepted.
    step = {"next_step": "measurement visit", "next_step_at": "2026-11-30T10:00:00+03:00"}
    assert (await alice.put(notes, json=step, headers=headers)).status == 200
    ok = await alice.put(notes, json={"outcome": "sale"}, headers=headers)
    assert ok.status == 200, await ok.text()
    assert (await ok.json())["outcome"] == "sale"


async def test_a_reason_for_no_next_step_lets_the_outcome_be_saved(
    served: Served, store: CallStore, aiohttp_client: Any
) -> None:
    await call_with_script(served, store)
    alice, csrf = await client_of(served, aiohttp_client, "alice")
    headers = {"X-CSRF-Token": csrf}
    notes = "/api/calls/c-talk/notes"
    assert (await alice.put(notes, json={"outcome": "lost"}, headers=headers)).status == 422
    reason = {"no_next_step_reason": "wrong number, not a buyer"}
    assert (await alice.put("/api/calls/c-talk/script", json=reason, headers=headers)).ok
    lost = await alice.put(notes, json={"outcome": "lost", "lost_reason": "x"}, headers=headers)
    assert lost.status == 200
    # Clearing the outcome never needs anything.
    assert (await alice.put(notes, json={"outcome": None}, headers=headers)).status == 200


async def test_a_call_without_a_script_saves_its_outcome_as_before(
    served: Served, store: CallStore, aiohttp_client: Any
) -> None:
    await finished_call(store, "c-bare", number=NUMBER, agent_id="alice")
    alice, csrf = await client_of(served, aiohttp_client, "alice")
    put = await alice.put(
        "/api/calls/c-bare/notes", json={"outcome": "sale"}, headers={"X-CSRF-Token": csrf}
    )
    assert put.status == 200


async def test_the_page_asking_before_the_answer_stores_the_pop_s_choice(
    served: Served, store: CallStore, aiohttp_client: Any
) -> None:
    await talked_call(store, "c-ring")  # the row; the call rings for Alice now
    served.push.pops.on_snapshot(call_snapshot("c-ring"))
    await until(lambda: served.push.pops.script_of("c-ring") is not None)
    assert await served.scripts.for_call("c-ring") is None
    alice, _ = await client_of(served, aiohttp_client, "alice")
    got = await (await alice.get("/api/calls/c-ring/script")).json()
    assert got["script"]["key"] == "inbound_sale_tr"
    stored = await served.scripts.for_call("c-ring")
    assert stored is not None and stored.reason == got["script"]["reason"]


def random_marks(rng: random.Random) -> object:
    """A body made of known and unknown keys with values of every JSON type."""
    values: list[object] = [
        None,
        True,
        -1,
        0,
        3,
        51,
        2**63,
        1.5,
        "",
        "needs",
        "close",
        "x" * rng.randint(0, 300),
        "{caller.name}\u202e<b>",
        [],
        ["q_rooms"],
        ["q_rooms", "q_rooms"],
        ["q_nope"],
        [1, None],
        {},
        {"stage": "needs"},
    ]
    keys = ["stage", "questions", "price_asks", "insists", "no_next_step_reason", "x", ""]
    if rng.random() < 0.05:
        return rng.choice([[], "text", 7, None])
    return {rng.choice(keys): rng.choice(values) for _ in range(rng.randint(0, 5))}


async def test_a_thousand_random_mark_bodies_crash_nothing_and_leak_nothing(
    served: Served, store: CallStore, aiohttp_client: Any
) -> None:
    """Each body is accepted whole or refused whole (4xx, nothing stored); never a 500."""
    await call_with_script(served, store)
    alice, csrf = await client_of(served, aiohttp_client, "alice")
    rng = random.Random(7)
    tried = crashed = leaked = 0
    for _ in range(1000):
        body = random_marks(rng)
        before = await served.scripts.progress("c-talk")
        put = await alice.put(
            "/api/calls/c-talk/script", data=json.dumps(body), headers={"X-CSRF-Token": csrf}
        )
        tried += 1
        after = await served.scripts.progress("c-talk")
        if put.status >= 500:
            crashed += 1
        elif put.status != 200 and after != before:
            leaked += 1
        elif put.status == 200:
            assert isinstance(body, dict) and (await put.json())["progress"] == after
    report("call script marks", tried=tried, crashed=crashed, leaked=leaked)
    assert crashed == 0 and leaked == 0
