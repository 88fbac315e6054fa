"""Scripts in the database (SQLite and PostgreSQL): versions, releases, campaigns,
rules, the in-memory setup, each call's script and its conversion per variant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.scripts.matching import choose
from telephony.scripts.model import CallFacts, CallScript, Script
from telephony.scripts.variants import wilson
from telephony.store.notes import Notes
from telephony.store.repo import CallStore
from telephony.store.scripts import ScriptRefused, ScriptStore

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def body(
    key: str = "ceilings", *, say: str = "Good day, {company.name}.", **extra: Any
) -> dict[str, Any]:
    return {
        "key": key,
        "name": f"Script {key}",
        "language": "en",
        "stages": [
            {"id": "greeting", "kind": "greeting", "title": "Greeting", "say": [say]},
            {
                "id": "needs",
                "kind": "needs",
                "title": "Needs",
                "captures": [{"key": "budget", "label": "Budget", "type": "number"}],
                "questions": [
                    {"key": "q1", "text": "What area?", "kind": "technical"},
                ],
            },
            {"id": "close", "kind": "close", "title": "Close", "say": ["So, {captured.budget}?"]},
        ],
        **extra,
    }


@pytest.fixture
def scripts(engine: AsyncEngine) -> ScriptStore:
    return ScriptStore(engine, Clock())


async def published(scripts: ScriptStore, key: str = "ceilings", **extra: Any) -> int:
    await scripts.save_draft(body(key, **extra), who="admin")
    return (await scripts.publish(key, who="admin")).version


async def test_a_draft_is_edited_in_place_and_publishing_freezes_it(scripts: ScriptStore) -> None:
    first, warnings = await scripts.save_draft(body(), who="admin")
    assert (first.version, first.status) == (1, "draft")
    assert any("summary" in w for w in warnings)  # S1's warnings come back
    again, _ = await scripts.save_draft(body(say="Hello, {company.name}."), who="root")
    assert again.version == 1  # the open draft, changed in place
    v1 = await scripts.publish("ceilings", who="admin")
    assert (v1.version, v1.status, v1.published_by) == (1, "published", "admin")
    # The first published version is released to all calls.
    release = await scripts.release("ceilings")
    assert release is not None and [(v.label, v.version, v.weight) for v in release.variants] == [
        ("A", 1, 100)
    ]
    # The next save is a new draft, version 2; version 1 never changes.
    v2, _ = await scripts.save_draft(body(say="Changed, {company.name}."), who="admin")
    assert v2.version == 2
    _, frozen = await scripts.version("ceilings", 1)
    assert frozen.stages[0].say == ["Hello, {company.name}."]
    _, draft = await scripts.version("ceilings")
    assert draft.stages[0].say == ["Changed, {company.name}."]
    info = await scripts.script("ceilings")
    assert [v.status for v in info.versions] == ["published", "draft"] and info.draft == 2
    # Publishing v2 leaves the release as it was: the admin splits it explicitly.
    await scripts.publish("ceilings", who="admin", version=2)
    release = await scripts.release("ceilings")
    assert release is not None and [v.version for v in release.variants] == [1]


async def test_every_change_is_audited_with_who_old_and_new(scripts: ScriptStore) -> None:
    await published(scripts)
    await scripts.save_draft(body(say="Two {company.name}"), who="root")
    await scripts.save_draft(body(say="Three {company.name}"), who="root")
    history = await scripts.history("ceilings")
    actions = [h.new["action"] for h in history]
    assert actions == ["save_draft", "save_draft", "set_release", "publish", "save_draft"]
    newest = history[0]
    assert newest.who == "root"
    assert newest.old["body"]["stages"][0]["say"] == ["Two {company.name}"]
    assert newest.new["body"]["stages"][0]["say"] == ["Three {company.name}"]


async def test_invalid_scripts_and_publishing_are_refused_precisely(scripts: ScriptStore) -> None:
    broken = body()
    broken["stages"][0]["branches"] = [{"field": "budget", "equals": "1", "to": "nowhere"}]
    with pytest.raises(ScriptRefused) as refused:
        await scripts.save_draft(broken, who="admin")
    assert any("branches[0].to = 'nowhere': no such stage" in p for p in refused.value.problems)
    unknown = body(say="Hi {captured.nope}")
    with pytest.raises(ScriptRefused) as refused:
        await scripts.save_draft(unknown, who="admin")
    assert any("captured.nope" in p for p in refused.value.problems)
    too_many = body()
    too_many["stages"][1]["questions"] = [
        {"key": f"q{i}", "text": "Why?", "kind": "technical"} for i in range(8)
    ]
    with pytest.raises(ScriptRefused) as refused:
        await scripts.save_draft(too_many, who="admin")
    assert any("8 questions, the limit is 7" in p for p in refused.value.problems)
    assert await scripts.scripts() == []  # nothing stored
    with pytest.raises(ScriptRefused) as refused:
        await scripts.publish("ceilings", who="admin")
    assert refused.value.status == 404
    await published(scripts)
    with pytest.raises(ScriptRefused, match="no draft to publish"):
        await scripts.publish("ceilings", who="admin")
    await scripts.save_draft(body(), who="admin")
    with pytest.raises(ScriptRefused, match="only the draft"):
        await scripts.publish("ceilings", who="admin", version=1)
    other_language = {**body(), "language": "tr"}
    with pytest.raises(ScriptRefused, match="another language"):
        await scripts.save_draft(other_language, who="admin")


async def test_a_release_names_published_versions_with_some_weight(scripts: ScriptStore) -> None:
    await published(scripts)
    await scripts.save_draft(body(say="B {company.name}"), who="admin")  # v2, a draft
    with pytest.raises(ScriptRefused) as refused:
        await scripts.set_release(
            "ceilings",
            [
                {"label": "A", "version": 1, "weight": 50},
                {"label": "B", "version": 2, "weight": 50},
            ],
            who="admin",
        )
    assert any("version 2 is not published" in p for p in refused.value.problems)
    with pytest.raises(ScriptRefused) as refused:
        await scripts.set_release(
            "ceilings", [{"label": "A", "version": 1, "weight": 0}], who="admin"
        )
    assert any("weight 0" in p for p in refused.value.problems)
    with pytest.raises(ScriptRefused) as refused:
        await scripts.set_release(
            "ceilings",
            [{"label": "A", "version": 1, "weight": 1}, {"label": "A", "version": 1, "weight": 1}],
            who="admin",
        )
    assert any("repeated" in p for p in refused.value.problems)
    with pytest.raises(ScriptRefused) as refused:
        await scripts.set_release("ceilings", [{"label": "a", "version": 1}], who="admin")
    assert any(p.startswith("variants.0.label") for p in refused.value.problems)
    with pytest.raises(ScriptRefused) as refused:
        await scripts.set_release("nothing", [{"label": "A", "version": 1, "weight": 1}], who="x")
    assert refused.value.status == 404
    release = await scripts.release("ceilings")
    assert release is not None and len(release.variants) == 1  # unchanged

    await scripts.publish("ceilings", who="admin")
    await scripts.set_release(
        "ceilings",
        [{"label": "A", "version": 1, "weight": 50}, {"label": "B", "version": 2, "weight": 50}],
        who="admin",
    )
    setup = await scripts.setup()  # in force at once
    assert [v.version for v in setup.releases["ceilings"].variants] == [1, 2]
    assert {("ceilings", 1), ("ceilings", 2)} <= set(setup.bodies)
    # A released version cannot be retired; an unreleased one can.
    with pytest.raises(ScriptRefused, match="is released"):
        await scripts.retire("ceilings", who="admin", version=2)
    await scripts.set_release("ceilings", [{"label": "A", "version": 1, "weight": 1}], who="a")
    await scripts.retire("ceilings", who="admin", version=2)
    with pytest.raises(ScriptRefused) as refused:
        await scripts.set_release("ceilings", [{"label": "B", "version": 2, "weight": 1}], who="a")
    assert any("version 2 is not published" in p for p in refused.value.problems)


async def test_campaigns_and_rules_name_live_scripts(scripts: ScriptStore) -> None:
    await published(scripts)
    await published(scripts, "meeting")
    campaign = {
        "key": "ceilings_search",
        "name": "Stretch ceilings — search ads",
        "source": "search ads",
        "dids": ["908502220001"],
        "script": "ceilings",
    }
    await scripts.save_campaign(campaign, who="admin")
    with pytest.raises(ScriptRefused) as refused:
        await scripts.save_campaign({**campaign, "key": "other", "script": "missing"}, who="a")
    problems = refused.value.problems
    assert any("script = 'missing': no such script" in p for p in problems)
    assert any(
        "dids.0 = '908502220001': already in campaign 'ceilings_search'" in p for p in problems
    )
    with pytest.raises(ScriptRefused) as refused:
        await scripts.save_campaign({**campaign, "bogus": 1}, who="admin")
    assert any(p.startswith("bogus") for p in refused.value.problems)

    rules = [
        {"name": "Open deal", "when": {"history": ["open_deal"]}, "script": "meeting"},
        {"name": "Search ads", "when": {"campaign": "ceilings_search"}, "script": "ceilings"},
    ]
    saved = await scripts.set_rules(rules, who="admin")
    assert [r.name for r in saved] == ["Open deal", "Search ads"]
    assert [r.name for r in await scripts.rules()] == ["Open deal", "Search ads"]
    with pytest.raises(ScriptRefused) as refused:
        await scripts.set_rules(
            [
                {"name": "x", "when": {"campaign": "nope"}, "script": "ceilings"},
                {"name": "y", "script": "ghost"},
                {"name": "z", "when": {"hours": [9, 30]}, "script": "ceilings"},
            ],
            who="admin",
        )
    problems = refused.value.problems
    assert any("campaign = 'nope': no such campaign" in p for p in problems)
    assert any("rules.1.script = 'ghost': no such script" in p for p in problems)
    assert any("hours" in p for p in problems)
    assert len(await scripts.rules()) == 2  # unchanged

    # Retiring a script in use is refused; once unused it retires and leaves the setup.
    with pytest.raises(ScriptRefused, match="in use by rule 'Open deal'"):
        await scripts.retire("meeting", who="admin")
    await scripts.set_rules(rules[1:], who="admin")
    await scripts.retire("meeting", who="admin")
    assert "meeting" not in (await scripts.setup()).releases
    with pytest.raises(ScriptRefused) as refused:
        await scripts.set_rules(rules, who="admin")
    assert any(
        "rules.0.script = 'meeting': the script is retired" in p for p in refused.value.problems
    )
    with pytest.raises(ScriptRefused, match="retired"):
        await scripts.save_campaign({**campaign, "script": "meeting"}, who="admin")
    with pytest.raises(ScriptRefused, match="retired"):
        await scripts.save_draft(body("meeting"), who="admin")
    with pytest.raises(ScriptRefused, match="named by rule"):
        await scripts.delete_campaign("ceilings_search", who="admin")
    await scripts.set_rules([], who="admin")
    await scripts.delete_campaign("ceilings_search", who="admin")
    assert await scripts.campaigns() == []


async def test_setup_is_cached_and_rebuilt_after_each_change(scripts: ScriptStore) -> None:
    await published(scripts)
    first = await scripts.setup()
    assert await scripts.setup() is first  # no reads between changes
    await scripts.set_default("ceilings", who="admin")
    second = await scripts.setup()
    assert second is not first and second.default_script == "ceilings"
    picked = choose(second, CallFacts(call_id="c1", did="123"))
    assert picked is not None and picked.key == "ceilings" and picked.version == 1
    # A second store on the same database (a restart) reads the same setup.
    again = ScriptStore(scripts._engine)
    assert (await again.setup()).default_script == "ceilings"
    with pytest.raises(ScriptRefused, match="no such script"):
        await scripts.set_default("ghost", who="admin")
    with pytest.raises(ScriptRefused, match="fallback"):
        await scripts.retire("ceilings", who="admin")


def call_script(version: int, variant: str, key: str = "ceilings") -> CallScript:
    script = Script.model_validate(body(key))
    return CallScript(
        key=key,
        version=version,
        variant=variant,
        name=script.name,
        language="en",
        reason=["the default script"],
        body=script,
    )


async def test_a_call_keeps_its_first_script_and_its_progress_merges(
    scripts: ScriptStore,
) -> None:
    await published(scripts)
    await scripts.save_draft(body(say="v2 {company.name}"), who="admin")
    await scripts.publish("ceilings", who="admin")
    first = await scripts.assign("call-1", call_script(1, "A"))
    again = await scripts.assign("call-1", call_script(2, "B"))
    assert (first.version, first.variant) == (again.version, again.variant) == (1, "A")
    stored = await scripts.for_call("call-1")
    assert stored is not None and stored.body.stages[0].say == ["Good day, {company.name}."]
    assert stored.reason == ["the default script"]
    assert await scripts.for_call("nope") is None
    assert await scripts.progress("call-1") == {}
    await scripts.save_progress("call-1", {"stage": "needs", "price_asks": 1})
    merged = await scripts.save_progress("call-1", {"price_asks": 2, "questions": ["q1"]})
    assert merged == {"stage": "needs", "price_asks": 2, "questions": ["q1"]}
    assert await scripts.progress("call-1") == merged
    assert await scripts.save_progress("nope", {"stage": "x"}) is None


async def test_conversion_is_attributed_per_version_and_variant(
    scripts: ScriptStore, store: CallStore
) -> None:
    await published(scripts)
    await scripts.save_draft(body(say="v2 {company.name}"), who="admin")
    await scripts.publish("ceilings", who="admin")
    notes = Notes(store.engine, now=lambda: T0)
    outcomes: dict[str, tuple[int, str, str | None, bool]] = {
        "a1": (1, "A", "sale", True),
        "a2": (1, "A", "lost", False),
        "a3": (1, "A", None, False),  # no outcome saved: counted as a call only
        "b1": (2, "B", "sale", True),
        "b2": (2, "B", "sale", False),
        "b3": (2, "B", "offer_made", True),
        "b4": (2, "B", "pending_purchase", False),
    }
    for call_id, (version, variant, outcome, next_step) in outcomes.items():
        await store.call_arrived(
            call_id=call_id,
            did="908502220001",
            caller_number_raw="+905551112233",
            caller_name_raw="X",
            caller_channel_id=f"ch-{call_id}",
            arrived_at=T0,
        )
        await scripts.assign(call_id, call_script(version, variant))
        fields: dict[str, Any] = {}
        if outcome:
            fields["outcome"] = outcome
        if next_step:
            fields["next_step_at"] = T0 + timedelta(days=2)
        if fields:
            await notes.save(call_id, fields, agent_id=None, by="alice")
    await published(scripts, "other")
    await scripts.assign("other", call_script(1, "A", key="other"))
    with pytest.raises(ScriptRefused, match="not a published version"):
        await scripts.assign("ghost", call_script(9, "A"))
    rows = await scripts.conversion("ceilings", T0 - timedelta(days=1), T0 + timedelta(days=1))
    a, b = rows
    assert (a.version, a.variant, a.calls, a.sales, a.lost, a.next_steps) == (1, "A", 3, 1, 1, 1)
    assert (b.version, b.variant, b.calls, b.sales, b.offers, b.pending, b.next_steps) == (
        2,
        "B",
        4,
        2,
        1,
        1,
        2,
    )
    assert a.conversion == pytest.approx(1 / 3) and b.conversion == pytest.approx(0.5)
    assert (b.low, b.high) == pytest.approx(wilson(2, 4))
    assert b.as_json()["ci95"] == pytest.approx(list(wilson(2, 4)))
    every = await scripts.conversion(None, T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert [(r.key, r.variant, r.calls) for r in every] == [
        ("ceilings", "A", 3),
        ("ceilings", "B", 4),
        ("other", "A", 1),
    ]
    # The period is [since, until): nothing assigned before it.
    assert (
        await scripts.conversion("ceilings", T0 + timedelta(days=1), T0 + timedelta(days=2)) == []
    )


def library() -> list[Script]:
    return [
        Script.model_validate({**body("inbound_sale_tr"), "language": "tr"}),
        Script.model_validate(body("inbound_sale_en")),
        Script.model_validate({**body("meeting_tr"), "language": "tr"}),
        Script.model_validate(body("meeting_en")),
    ]


async def test_defaults_load_once_with_the_demo_campaigns_and_rules(scripts: ScriptStore) -> None:
    demo = {"908502220001": "tr", "908502220002": "en"}
    added = await scripts.load_defaults(library(), demo)  # type: ignore[arg-type]
    assert sorted(added.scripts) == [
        "inbound_sale_en",
        "inbound_sale_tr",
        "meeting_en",
        "meeting_tr",
    ]
    assert added.campaigns == ["demo_908502220001", "demo_908502220002"]
    assert len(added.rules) == 2
    again = await scripts.load_defaults(library(), demo)  # type: ignore[arg-type]
    assert (again.scripts, again.campaigns, again.rules) == ([], [], [])
    infos = await scripts.scripts()
    assert all([(v.version, v.status) for v in i.versions] == [(1, "published")] for i in infos)
    setup = await scripts.setup()
    assert setup.default_script == "inbound_sale_tr"
    tr = choose(setup, CallFacts(call_id="c1", did="908502220001"))
    en = choose(setup, CallFacts(call_id="c2", did="908502220002"))
    assert tr is not None and (tr.key, tr.language, tr.campaign) == (
        "inbound_sale_tr",
        "tr",
        "demo_908502220001",
    )
    assert en is not None and (en.key, en.language) == ("inbound_sale_en", "en")
    back = choose(setup, CallFacts(call_id="c3", did="908502220002", history="open_deal"))
    assert back is not None and back.key == "meeting_en"
    assert any("open deal" in r for r in back.reason)


async def test_the_shipped_library_loads_as_published_versions(scripts: ScriptStore) -> None:
    from telephony.scripts.library import default_library

    shipped = default_library()
    added = await scripts.load_defaults(shipped, {"908502220001": "tr", "908502220002": "en"})
    assert len(added.scripts) == len(shipped) and len(added.campaigns) == 2
    setup = await scripts.setup()
    languages = {
        choose(setup, CallFacts(call_id="c", did=did)).language  # type: ignore[union-attr]
        for did in ("908502220001", "908502220002")
    }
    assert languages == {"tr", "en"}


async def test_the_remaining_refusals(scripts: ScriptStore) -> None:
    await published(scripts)
    await scripts.save_draft(body(say="v2 {company.name}"), who="admin")
    await scripts.retire("ceilings", who="admin", version=2)  # a draft can be dropped
    with pytest.raises(ScriptRefused, match="already retired"):
        await scripts.retire("ceilings", who="admin", version=2)
    with pytest.raises(ScriptRefused) as refused:
        await scripts.retire("ceilings", who="admin", version=9)
    assert refused.value.status == 404
    again, _ = await scripts.save_draft(body(say="v3 {company.name}"), who="admin")
    assert again.version == 3  # numbers are never reused
    campaign = {"key": "ads", "name": "Ads", "dids": ["+908502220001", "908502220001"]}
    with pytest.raises(ScriptRefused, match="listed twice"):
        await scripts.save_campaign(campaign, who="admin")
    with pytest.raises(ScriptRefused) as refused:
        await scripts.delete_campaign("ads", who="admin")
    assert refused.value.status == 404
    with pytest.raises(ScriptRefused, match="must be a list"):
        await scripts.set_rules({"name": "x"}, who="admin")
    with pytest.raises(ScriptRefused, match="at most 200"):
        await scripts.set_rules([{"name": "x", "script": "ceilings"}] * 201, who="admin")
    await scripts.assign("c1", call_script(1, "A"))
    with pytest.raises(ScriptRefused, match="at most 50 keys"):
        await scripts.save_progress("c1", {f"k{i}": i for i in range(51)})
    assert await scripts.progress("c1") == {}
    await scripts.retire("ceilings", who="admin")
    with pytest.raises(ScriptRefused, match="is retired"):
        await scripts.publish("ceilings", who="admin")
    with pytest.raises(ScriptRefused, match="is retired"):
        await scripts.set_release("ceilings", [{"label": "A", "version": 1, "weight": 1}], who="a")
    assert (await scripts.for_call("c1")) is not None  # a call keeps its script
