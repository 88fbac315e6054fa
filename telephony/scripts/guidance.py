"""The playbook's rules during a call, as pure functions of the script and what is known.

What the agent's page shows and the server enforces: where a stage leads, the question
counter against the limit, when to name the price, "contacts before price", the summary
pre-filled from the answers, and what an outcome needs before it can be saved.
Everything returned is plain text in the script's language (tr or en), except
`outcome_problems`, which the server returns to the agent's page in English like every
other refusal.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, Literal

from telephony.scripts import template
from telephony.scripts.model import MAX_QUESTIONS, Language, QuestionKind, Script, Stage

# An outcome of a call, as the statistics count them.
Outcome = Literal["offer", "pending", "sale", "next_step", "lost"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("offer", "pending", "sale", "next_step", "lost")
QUESTION_KINDS: Final[tuple[QuestionKind, ...]] = ("technical", "expertise", "motivation")
# Stage kinds whose captured answers the summary repeats back.
SUMMARY_SOURCES: Final = frozenset({"first_question", "needs"})


class UnknownStage(ValueError):
    """A stage id the script does not have."""


def _stage_index(script: Script, stage_id: str) -> int:
    for i, stage in enumerate(script.stages):
        if stage.id == stage_id:
            return i
    raise UnknownStage(
        f"stage {stage_id!r}: no such stage; stages: {[s.id for s in script.stages]}"
    )


def _same(answer: str, expected: str) -> bool:
    return answer.strip().casefold() == expected.strip().casefold()


def next_stage(script: Script, stage_id: str, captured: Mapping[str, str]) -> str | None:
    """Where a stage leads: its first branch whose field holds the value, else its `next`,
    else the following stage; None after the last stage."""
    index = _stage_index(script, stage_id)
    stage = script.stages[index]
    for branch in stage.branches:
        answer = captured.get(branch.field)
        if isinstance(answer, str) and _same(answer, branch.equals):
            return branch.to
    if stage.next is not None:
        return stage.next
    return script.stages[index + 1].id if index + 1 < len(script.stages) else None


@dataclass(frozen=True)
class QuestionCount:
    """The clarifying questions asked so far against the limit."""

    asked: int
    limit: int
    kinds: Mapping[QuestionKind, int]  # asked, per kind
    missing_kinds: tuple[QuestionKind, ...]  # kinds not asked yet

    @property
    def over(self) -> bool:
        return self.asked > self.limit


def question_counter(script: Script, asked: Collection[str]) -> QuestionCount:
    """How many of the script's questions were asked (keys; unknown ones and repeats are not
    counted) and the limit: MAX_QUESTIONS, or all the questions of a needs stage that
    explicitly allows more."""
    questions = {q.key: q for stage in script.stages for q in stage.questions}
    done = [questions[key] for key in dict.fromkeys(asked) if key in questions]
    kinds = {kind: sum(1 for q in done if q.kind == kind) for kind in QUESTION_KINDS}
    limit = MAX_QUESTIONS
    for stage in script.stages:
        if stage.kind == "needs" and stage.allow_more_questions:
            limit = max(limit, len(stage.questions))
    return QuestionCount(
        asked=len(done),
        limit=limit,
        kinds=kinds,
        missing_kinds=tuple(kind for kind in QUESTION_KINDS if not kinds[kind]),
    )


@dataclass(frozen=True)
class PriceAdvice:
    answer: bool  # True: name the price now; False: deflect and ask a question
    why: str  # one line in the script's language
    asks: int
    answer_on: int


_PRICE_TEXT: Final[dict[Language, dict[str, str]]] = {
    "en": {
        "none": "No direct price question yet.",
        "insists": "The caller insists: name the price now.",
        "now": "Direct price question {asks} of {on}: name the price now.",
        "deflect": (
            "Direct price question {asks} of {on}: give the range, then ask a question "
            "({left} more before the price)."
        ),
    },
    "tr": {
        "none": "Henüz doğrudan fiyat sorusu yok.",
        "insists": "Arayan ısrar ediyor: fiyatı şimdi söyleyin.",
        "now": "Doğrudan fiyat sorusu {asks}/{on}: fiyatı şimdi söyleyin.",
        "deflect": (
            "Doğrudan fiyat sorusu {asks}/{on}: aralığı verin, sonra bir soru sorun "
            "(fiyata {left} soru kaldı)."
        ),
    },
}


def price_advice(script: Script, asks: int, insists: bool = False) -> PriceAdvice:
    """Whether to name the price now: on the script's `answer_on_ask`-th direct ask (the
    playbook's 3rd by default), or at once when the caller insists."""
    on = script.price.answer_on_ask
    text = _PRICE_TEXT[script.language]
    asks = max(0, asks)
    if insists:
        return PriceAdvice(True, text["insists"], asks, on)
    if asks == 0:
        return PriceAdvice(False, text["none"], asks, on)
    if asks >= on:
        return PriceAdvice(True, text["now"].format(asks=asks, on=on), asks, on)
    why = text["deflect"].format(asks=asks, on=on, left=on - asks)
    return PriceAdvice(False, why, asks, on)


_CONTACTS_TEXT: Final[dict[Language, str]] = {
    "en": "Contacts before the price: fill in “{label}” before naming the price.",
    "tr": "Fiyattan önce iletişim: fiyatı söylemeden önce “{label}” alanını doldurun.",
}


def contacts_before_price(script: Script, stage_id: str, captured: Mapping[str, str]) -> str | None:
    """A warning when the agent reaches the price stage without the contact field filled."""
    if script.price_stage is None or script.contact_field is None:
        return None
    if stage_id != script.price_stage:
        return None
    value = captured.get(script.contact_field)
    if isinstance(value, str) and value.strip():
        return None
    label = _field_label(script, script.contact_field) or script.contact_field
    return _CONTACTS_TEXT[script.language].format(label=label)


def _field_label(script: Script, key: str) -> str | None:
    for stage in script.stages:
        for field in stage.captures:
            if field.key == key:
                return field.label
    return None


_SUMMARY_TEXT: Final[dict[Language, tuple[str, str, str]]] = {
    # (opening with the name, opening without it, the closing question)
    "en": ("So, {name}, you need:", "So you need:", "Is that correct?"),
    "tr": ("{name}, özetlersem ihtiyacınız:", "Özetlersem ihtiyacınız:", "Doğru mu?"),
}


def summary(script: Script, captured: Mapping[str, str], values: Mapping[str, str]) -> list[str]:
    """The summary the agent reads back, as plain-text lines: an opening, one
    "label: answer" line per answered field of the first-question and needs stages (in the
    script's order), and the closing question. Empty when nothing was answered yet.
    `values` are the template values (`caller.name`...)."""
    lines: list[str] = []
    for stage in script.stages:
        if stage.kind not in SUMMARY_SOURCES:
            continue
        for field in stage.captures:
            if field.key == script.contact_field:
                continue
            raw = captured.get(field.key)
            answer = template.clean_value(raw) if isinstance(raw, str) else ""
            if answer:
                lines.append(f"{field.label}: {answer}")
    if not lines:
        return []
    with_name, without, closing = _SUMMARY_TEXT[script.language]
    raw_name = values.get("caller.name")
    name = template.clean_value(raw_name) if isinstance(raw_name, str) else ""
    opening = with_name.format(name=name) if name else without
    return [opening, *lines, closing]


def outcome_problems(
    script: Script,
    outcome: str,
    next_step: str | None,
    next_step_at: datetime | date | str | None,
    no_next_step_reason: str | None,
) -> list[str]:
    """What stops this outcome from being saved (empty: it may be). With
    `require_next_step`, a next step needs a description AND a date with a time, or the
    agent gives an explicit reason why there is none."""
    found: list[str] = []
    if outcome not in OUTCOMES:
        found.append(f"outcome = {outcome!r}: accepted {list(OUTCOMES)}")
    step = (next_step or "").strip()
    reason = (no_next_step_reason or "").strip()
    when_given = next_step_at is not None and not (
        isinstance(next_step_at, str) and not next_step_at.strip()
    )
    if step or when_given:
        if not step:
            found.append("next_step: required with next_step_at (say what was agreed)")
        found += _when_problems(next_step_at)  # a reason given as well is simply not needed
    elif script.require_next_step and not reason:
        found.append(
            "next_step: this script requires a next step with a date and a time "
            "(next_step, next_step_at), or a no_next_step_reason"
        )
    return found


def _when_problems(when: datetime | date | str | None) -> list[str]:
    if when is None:
        return ["next_step_at: required with next_step (a date and a time)"]
    if isinstance(when, datetime):
        return []
    if isinstance(when, date):
        return [f"next_step_at = {when.isoformat()!r}: a date alone; add the time"]
    text = when.strip()
    shown = text if len(text) <= 40 else text[:37] + "..."
    if len(text) == 10:
        try:
            date.fromisoformat(text)
        except ValueError:
            pass
        else:
            return [f"next_step_at = {shown!r}: a date alone; add the time"]
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return [f"next_step_at = {shown!r}: not a date and time such as 2026-12-01T14:30"]
    return []


def stage_of(script: Script, stage_id: str) -> Stage:
    """The stage with this id; `UnknownStage` naming the stages if there is none."""
    return script.stages[_stage_index(script, stage_id)]
