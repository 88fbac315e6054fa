"""QA grading: the default form, versioned forms, grades as revisions (never edited),
mystery-shopper calls, scores per agent over time; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.config import AgentConfig
from telephony.store.grading import (
    DEFAULT_QUESTIONS,
    GradeRejected,
    GradingStore,
    UnknownCall,
)
from telephony.store.repo import CallStore

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


async def a_call(store: CallStore, call_id: str, agent: str) -> None:
    await store.call_arrived(
        call_id=call_id,
        did="100",
        caller_number_raw="+905551112233",
        caller_name_raw="Ayşe",
        caller_channel_id=f"ch-{call_id}",
        arrived_at=T0,
    )
    await store.update_call(call_id, agent_id=agent, ended_at=T0 + timedelta(minutes=3))


async def test_grades_are_revisions_and_scores_per_agent_and_week(
    store: CallStore, engine: AsyncEngine
) -> None:
    await store.upsert_agents([AgentConfig(id="ayse", name="Ayşe", endpoint="PJSIP/a")])
    clock = [T0]
    grading = GradingStore(engine, now=lambda: clock[0])
    form = await grading.form()
    assert form.version == 0 and form.questions[0]["id"] == "greeted"
    assert len(form.questions) == len(DEFAULT_QUESTIONS)
    await a_call(store, "c1", "ayse")
    await a_call(store, "c2", "ayse")
    yes_all = {q["id"]: True for q in form.questions}
    first = await grading.grade("c1", {"answers": {**yes_all, "objection": False}}, "sup")
    assert (first.revision, first.yes, first.asked, first.agent_id) == (1, 8, 9, "ayse")
    # The supervisor listens again and changes one answer: a second revision.
    second = await grading.grade(
        "c1", {"answers": {**yes_all, "objection": None}, "comment": "no objection came"}, "sup"
    )
    assert (second.revision, second.yes, second.asked) == (2, 8, 8)
    assert [g.revision for g in await grading.of_call("c1")] == [2, 1]
    clock[0] = T0 + timedelta(days=7)
    mystery = {"answers": {"greeted": True, "asked_name": False}, "mystery": True}
    await grading.grade("c2", {**mystery, "scenario": "price_first"}, "sup")
    scores = await grading.scores(since=T0, until=T0 + timedelta(days=14), unit="week")
    assert scores == [
        {"agent_id": "ayse", "period": "2026-11-02", "graded": 1, "mystery": 0, "score": 1.0},
        {"agent_id": "ayse", "period": "2026-11-09", "graded": 1, "mystery": 1, "score": 0.5},
    ]
    assert (
        await grading.scores(since=T0, until=T0 + timedelta(days=14), unit="week", agent="x") == []
    )


async def test_forms_are_versioned_and_grades_checked_against_the_form(
    store: CallStore, engine: AsyncEngine
) -> None:
    await store.upsert_agents([AgentConfig(id="ayse", name="Ayşe", endpoint="PJSIP/a")])
    grading = GradingStore(engine, now=lambda: T0)
    saved = await grading.save_form([{"id": "greeted", "text": "Greeted", "group": "open"}], "boss")
    assert saved.version == 1
    again = await grading.save_form([{"id": "smiled", "text": "<b>Smiled</b>"}], "boss")
    assert (again.version, (await grading.form()).questions) == (
        2,
        [{"id": "smiled", "text": "<b>Smiled</b>", "group": ""}],
    )
    with pytest.raises(GradeRejected) as bad_form:
        await grading.save_form([{"id": "A b", "text": ""}, {"id": "x", "text": "t", "y": 1}], "b")
    assert bad_form.value.problems[0].startswith("questions[0].id = 'A b'")
    with pytest.raises(GradeRejected, match="list of 1 to 30"):
        await grading.save_form([], "boss")
    await a_call(store, "c1", "ayse")
    with pytest.raises(GradeRejected) as bad:
        await grading.grade(
            "c1",
            {"answers": {"greeted": True, "smiled": "yes"}, "scenario": "zzz", "form_version": 1},
            "sup",
        )
    problems = bad.value.problems
    assert "form_version = 1: the form in force is version 2; reload the form" in problems
    assert "answers.greeted: not a question of form version 2" in problems
    assert "answers.smiled = 'yes': must be true, false or null (n/a)" in problems
    assert any(p.startswith("scenario = 'zzz'") for p in problems)
    with pytest.raises(GradeRejected, match="at least one question"):
        await grading.grade("c1", {"answers": {}}, "sup")
    with pytest.raises(UnknownCall):
        await grading.grade("nope", {"answers": {"smiled": True}}, "sup")
