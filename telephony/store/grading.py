"""QA grading: an admin-defined yes/no form (each save a new version, with who and when)
and supervisors' grades of calls. A grade is never edited: a change is a new revision
of the call's grade, so who changed what and when stays visible. Mystery-shopper test
calls are graded on the same form, flagged, with their scenario.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from telephony.stats.sql import Dialect, Unit, count_where
from telephony.store.models import Call, Grade, GradingForm

# The playbook's form: the inbound-sale script's stages as yes/no questions.
DEFAULT_QUESTIONS: tuple[dict[str, str], ...] = (
    {"id": "greeted", "group": "opening", "text": "Greeted with the activity, company and name"},
    {"id": "asked_name", "group": "opening", "text": "Asked the caller's name"},
    {"id": "used_name", "group": "opening", "text": "Used the caller's name"},
    {"id": "clarified", "group": "needs", "text": "Asked clarifying questions (at most 7)"},
    {"id": "summary_yes", "group": "needs", "text": 'Summarised the needs and got a "yes"'},
    {"id": "benefits", "group": "presentation", "text": "Presented benefits for those needs"},
    {"id": "contacts_first", "group": "presentation", "text": "Took contacts before the price"},
    {"id": "objection", "group": "close", "text": "Handled the objection"},
    {"id": "next_step", "group": "close", "text": "Agreed a next step with date and time"},
)
# Mystery-shopper scenarios: what the test caller plays.
SCENARIOS: dict[str, str] = {
    "price_first": "Asks the price in the first sentence",
    "think_about_it": 'Says "I\'ll think about it" after the offer',
    "boss_asked": '"My boss asked me to find out": a caller who does not decide',
    "discount": "Asks for a discount before hearing the offer",
}
MAX_QUESTIONS = 30
_ID = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class GradeRejected(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class UnknownCall(LookupError):
    pass


@dataclass(frozen=True)
class Form:
    version: int  # 0: the default form, never saved
    questions: list[dict[str, str]]
    who: str | None = None
    at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "questions": self.questions,
            "who": self.who,
            "at": self.at.isoformat() if self.at else None,
            "scenarios": SCENARIOS,
        }


@dataclass(frozen=True)
class GradeRecord:
    call_id: str
    revision: int
    form_version: int
    agent_id: str | None
    answers: dict[str, bool | None]
    yes: int
    asked: int
    mystery: bool
    scenario: str
    comment: str
    who: str
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "revision": self.revision,
            "form_version": self.form_version,
            "agent_id": self.agent_id,
            "answers": self.answers,
            "yes": self.yes,
            "asked": self.asked,
            "score": round(self.yes / self.asked, 4) if self.asked else None,
            "mystery": self.mystery,
            "scenario": self.scenario,
            "comment": self.comment,
            "who": self.who,
            "at": self.at.isoformat(),
        }


def check_questions(questions: object) -> list[dict[str, str]]:
    """An admin's questions: [{"id", "text", "group"?}], or GradeRejected naming each problem."""
    if not isinstance(questions, list) or not 1 <= len(questions) <= MAX_QUESTIONS:
        raise GradeRejected([f"questions: must be a list of 1 to {MAX_QUESTIONS} questions"])
    problems: list[str] = []
    seen: set[str] = set()
    clean: list[dict[str, str]] = []
    for n, item in enumerate(questions):
        where = f"questions[{n}]"
        if not isinstance(item, dict) or set(item) - {"id", "text", "group"}:
            problems.append(f"{where}: must be an object with id, text and group")
            continue
        qid, text, group = item.get("id"), item.get("text"), item.get("group", "")
        if not isinstance(qid, str) or not _ID.match(qid):
            problems.append(f"{where}.id = {qid!r}: must be a-z, 0-9, _ (up to 32, a letter first)")
        elif qid in seen:
            problems.append(f"{where}.id = {qid!r}: used twice")
        else:
            seen.add(qid)
        if not isinstance(text, str) or not 1 <= len(text.strip()) <= 200:
            problems.append(f"{where}.text: must be text of 1 to 200 characters")
        if not isinstance(group, str) or len(group) > 40:
            problems.append(f"{where}.group: must be text of at most 40 characters")
        if not problems:
            clean.append({"id": str(qid), "text": str(text).strip(), "group": str(group)})
    if problems:
        raise GradeRejected(problems)
    return clean


def check_grade(
    form: Form, body: Mapping[str, Any]
) -> tuple[dict[str, bool | None], bool, str, str]:
    """(answers, mystery, scenario, comment) of a grade on `form`, or GradeRejected."""
    problems: list[str] = []
    allowed = {"answers", "mystery", "scenario", "comment", "form_version"}
    for extra in sorted(set(body) - allowed):
        problems.append(f"{extra}: unknown field (accepted: {', '.join(sorted(allowed))})")
    if body.get("form_version", form.version) != form.version:
        problems.append(
            f"form_version = {body.get('form_version')!r}: the form in force is version "
            f"{form.version}; reload the form"
        )
    answers = body.get("answers")
    ids = [q["id"] for q in form.questions]
    clean: dict[str, bool | None] = {}
    if not isinstance(answers, dict):
        problems.append("answers: must be an object of question id -> true, false or null")
    else:
        for key in sorted(set(answers) - set(ids)):
            problems.append(f"answers.{key}: not a question of form version {form.version}")
        for qid in ids:
            value = answers.get(qid)
            if value is not None and not isinstance(value, bool):
                problems.append(f"answers.{qid} = {value!r}: must be true, false or null (n/a)")
            clean[qid] = value if isinstance(value, bool) else None
        if not any(v is not None for v in clean.values()):
            problems.append("answers: at least one question must be answered yes or no")
    mystery = body.get("mystery", False)
    if not isinstance(mystery, bool):
        problems.append(f"mystery = {mystery!r}: must be true or false")
    scenario = body.get("scenario", "")
    if not isinstance(scenario, str) or (scenario and scenario not in SCENARIOS):
        problems.append(f"scenario = {scenario!r}: must be one of {', '.join(SCENARIOS)} or empty")
    comment = body.get("comment", "")
    if not isinstance(comment, str) or len(comment) > 1000:
        problems.append("comment: must be text of at most 1000 characters")
    if problems:
        raise GradeRejected(problems)
    return clean, bool(mystery), str(scenario), str(comment)


def _grade(r: Any) -> GradeRecord:
    return GradeRecord(
        r.call_id,
        r.revision,
        r.form_version,
        r.agent_id,
        dict(r.answers),
        r.yes,
        r.asked,
        bool(r.mystery),
        r.scenario,
        r.comment,
        r.who,
        r.at,
    )


class GradingStore:
    def __init__(self, engine: AsyncEngine, *, now: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._now = now

    async def form(self) -> Form:
        stmt = select(GradingForm).order_by(GradingForm.version.desc()).limit(1)
        async with self._engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return Form(0, [dict(q) for q in DEFAULT_QUESTIONS])
        return Form(row.version, list(row.questions), row.who, row.at)

    async def save_form(self, questions: object, who: str) -> Form:
        clean = check_questions(questions)
        at = self._now()
        async with self._engine.begin() as conn:
            newest = (await conn.execute(select(func.max(GradingForm.version)))).scalar()
            version = (newest or 0) + 1
            await conn.execute(
                insert(GradingForm).values(version=version, questions=clean, who=who, at=at)
            )
        return Form(version, clean, who, at)

    async def grade(self, call_id: str, body: Mapping[str, Any], who: str) -> GradeRecord:
        """Grade a call (a new revision if it was graded before)."""
        form = await self.form()
        answers, mystery, scenario, comment = check_grade(form, body)
        at = self._now()
        async with self._engine.begin() as conn:
            agent = (await conn.execute(select(Call.agent_id).where(Call.id == call_id))).first()
            if agent is None:
                raise UnknownCall(call_id)
            newest = (
                await conn.execute(select(func.max(Grade.revision)).where(Grade.call_id == call_id))
            ).scalar()
            record = GradeRecord(
                call_id=call_id,
                revision=(newest or 0) + 1,
                form_version=form.version,
                agent_id=agent.agent_id,
                answers=answers,
                yes=sum(v is True for v in answers.values()),
                asked=sum(v is not None for v in answers.values()),
                mystery=mystery,
                scenario=scenario,
                comment=comment,
                who=who,
                at=at,
            )
            await conn.execute(insert(Grade).values(**record.__dict__))
        return record

    async def of_call(self, call_id: str) -> list[GradeRecord]:
        """Every revision of a call's grade, newest first."""
        stmt = select(Grade).where(Grade.call_id == call_id).order_by(Grade.revision.desc())
        async with self._engine.connect() as conn:
            return [_grade(r) for r in await conn.execute(stmt)]

    async def scores(
        self, *, since: datetime, until: datetime, unit: Unit, agent: str | None = None
    ) -> list[dict[str, Any]]:
        """Per agent and day/week/month of grading: calls graded (newest revision of
        each), yes answers / answered questions, and how many were mystery calls."""
        newest = (
            select(Grade.call_id, func.max(Grade.revision).label("revision"))
            .group_by(Grade.call_id)
            .subquery()
        )
        bucket = Dialect(self._engine.dialect.name).bucket(Grade.at, unit).label("period")
        stmt = (
            select(
                func.coalesce(Grade.agent_id, "").label("agent_id"),
                bucket,
                func.count().label("graded"),
                func.sum(Grade.yes).label("yes"),
                func.sum(Grade.asked).label("asked"),
                count_where(Grade.mystery.is_(True)).label("mystery"),
            )
            .join(
                newest,
                and_(newest.c.call_id == Grade.call_id, newest.c.revision == Grade.revision),
            )
            .where(Grade.at >= since, Grade.at < until)
            .group_by(Grade.agent_id, bucket)
            .order_by(func.coalesce(Grade.agent_id, ""), bucket)
        )
        if agent is not None:
            stmt = stmt.where(Grade.agent_id == agent)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            {
                "agent_id": r.agent_id or None,
                "period": r.period,
                "graded": r.graded,
                "mystery": int(r.mystery or 0),
                "score": round(r.yes / r.asked, 4) if r.asked else None,
            }
            for r in rows
        ]
