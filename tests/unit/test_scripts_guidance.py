"""The playbook's rules during a call: next stage, counters, price, contacts, summary, outcome."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from telephony.scripts.guidance import (
    QuestionCount,
    UnknownStage,
    contacts_before_price,
    next_stage,
    outcome_problems,
    price_advice,
    question_counter,
    stage_of,
    summary,
)
from telephony.scripts.library import default_library
from telephony.scripts.model import MAX_QUESTIONS, Script
from telephony.scripts.validate import parse

LIBRARY = {script.key: script for script in default_library()}
EN = LIBRARY["inbound_sale_en"]
TR = LIBRARY["inbound_sale_tr"]


def _branchy() -> Script:
    return parse(
        {
            "key": "branchy",
            "name": "Branchy",
            "language": "en",
            "stages": [
                {
                    "id": "a",
                    "title": "A",
                    "captures": [
                        {
                            "key": "kind",
                            "label": "Kind",
                            "type": "choice",
                            "choices": ["Flat", "House", "Office"],
                        },
                        {"key": "size", "label": "Size"},
                    ],
                    "branches": [
                        {"field": "kind", "equals": "House", "to": "c"},
                        {"field": "size", "equals": "big", "to": "d"},
                        {"field": "kind", "equals": "Office", "to": "d"},
                    ],
                },
                {"id": "b", "title": "B", "next": "d"},
                {"id": "c", "title": "C"},
                {"id": "d", "title": "D"},
            ],
        }
    )


@pytest.mark.parametrize(
    ("stage", "captured", "expected"),
    [
        ("a", {}, "b"),  # no branch holds: the following stage
        ("a", {"kind": "House"}, "c"),
        ("a", {"kind": " house "}, "c"),  # case and spaces do not matter
        ("a", {"kind": "Office", "size": "big"}, "d"),
        ("a", {"kind": "House", "size": "big"}, "c"),  # the first branch that holds wins
        ("a", {"kind": "Flat"}, "b"),
        ("b", {"kind": "House"}, "d"),  # next
        ("c", {}, "d"),
        ("d", {}, None),  # the last stage ends
    ],
)
def test_next_stage(stage: str, captured: dict[str, str], expected: str | None) -> None:
    assert next_stage(_branchy(), stage, captured) == expected


def test_next_stage_in_the_library_loops_back_on_a_no() -> None:
    assert next_stage(EN, "summary", {"confirmed": "No"}) == "needs"
    assert next_stage(EN, "summary", {"confirmed": "Yes"}) == "presentation"
    assert next_stage(TR, "summary", {"confirmed": "Hayır"}) == "needs"


def test_an_unknown_stage_names_the_stages() -> None:
    with pytest.raises(UnknownStage, match=r"stage 'x': no such stage; stages: \['a', 'b'"):
        next_stage(_branchy(), "x", {})
    assert stage_of(_branchy(), "c").title == "C"


def test_question_counter_counts_known_questions_once() -> None:
    count = question_counter(EN, ["q_rooms", "q_rooms", "q_walls", "made_up"])
    assert count == QuestionCount(
        asked=2,
        limit=MAX_QUESTIONS,
        kinds={"technical": 1, "expertise": 1, "motivation": 0},
        missing_kinds=("motivation",),
    )
    assert not count.over
    every = [q.key for stage in EN.stages for q in stage.questions]
    full = question_counter(EN, every)
    assert (full.asked, full.limit, full.missing_kinds) == (7, 7, ())


def test_question_limit_grows_only_when_a_needs_stage_allows_more() -> None:
    stages = [s.model_dump() for s in EN.stages]
    needs = next(s for s in stages if s["id"] == "needs")
    needs["questions"] += [
        {"key": f"extra{i}", "text": "More?", "kind": "technical"} for i in range(3)
    ]
    needs["allow_more_questions"] = True
    script = parse({**EN.model_dump(), "stages": stages})
    assert question_counter(script, []).limit == 10


@pytest.mark.parametrize(
    ("asks", "insists", "answer", "why"),
    [
        (0, False, False, "No direct price question yet."),
        (
            1,
            False,
            False,
            "Direct price question 1 of 3: give the range, then ask a question "
            "(2 more before the price).",
        ),
        (
            2,
            False,
            False,
            "Direct price question 2 of 3: give the range, then ask a question "
            "(1 more before the price).",
        ),
        (3, False, True, "Direct price question 3 of 3: name the price now."),
        (5, False, True, "Direct price question 5 of 3: name the price now."),
        (1, True, True, "The caller insists: name the price now."),
        (-1, False, False, "No direct price question yet."),
    ],
)
def test_price_advice(asks: int, insists: bool, answer: bool, why: str) -> None:
    advice = price_advice(EN, asks, insists)
    assert (advice.answer, advice.why, advice.answer_on) == (answer, why, 3)


def test_price_advice_follows_the_script_and_its_language() -> None:
    script = parse({**TR.model_dump(), "price": {"answer_on_ask": 1}})
    advice = price_advice(script, 1, False)
    assert advice.answer
    assert advice.why == "Doğrudan fiyat sorusu 1/1: fiyatı şimdi söyleyin."
    assert price_advice(TR, 1, True).why == "Arayan ısrar ediyor: fiyatı şimdi söyleyin."


def test_contacts_before_price() -> None:
    assert contacts_before_price(EN, "presentation", {}) == (
        "Contacts before the price: fill in “Phone number” before naming the price."
    )
    assert contacts_before_price(EN, "presentation", {"phone": "  "}) is not None
    assert contacts_before_price(EN, "presentation", {"phone": "+905551112233"}) is None
    assert contacts_before_price(EN, "needs", {}) is None  # not the price stage
    assert contacts_before_price(TR, "presentation", {}) == (
        "Fiyattan önce iletişim: fiyatı söylemeden önce “Telefon numarası” alanını doldurun."
    )
    no_rule = parse({**EN.model_dump(), "price_stage": None})
    assert contacts_before_price(no_rule, "presentation", {}) is None


def test_summary_repeats_the_answers_in_script_order() -> None:
    captured = {
        "priority": "looks",
        "rooms": "3",
        "finish": "Matte",
        "phone": "+905551112233",  # the contact is not a need
        "caller_name": "Ayşe",  # the name stage is not a source
        "lighting": "",
    }
    assert summary(EN, captured, {"caller.name": "Ayşe"}) == [
        "So, Ayşe, you need:",
        "Rooms: 3",
        "Finish: Matte",
        "What matters most: looks",
        "Is that correct?",
    ]
    assert summary(TR, {"area_m2": "50", "finish": "Mat"}, {}) == [
        "Özetlersem ihtiyacınız:",
        "Alan (m²): 50",
        "Yüzey: Mat",
        "Doğru mu?",
    ]
    assert summary(EN, {}, {"caller.name": "Ayşe"}) == []


def test_summary_keeps_hostile_answers_as_plain_one_line_text() -> None:
    lines = summary(EN, {"rooms": "<b>3</b>\n{caller.name}\u202e"}, {"caller.name": "<i>x</i>\x00"})
    assert lines[:2] == ["So, <i>x</i>, you need:", "Rooms: <b>3</b> {caller.name}"]


NOON = datetime(2026, 12, 1, 14, 30)


@pytest.mark.parametrize(
    ("outcome", "step", "at", "reason", "problems"),
    [
        ("sale", "measurement visit", NOON, None, []),
        ("next_step", "measurement visit", "2026-12-01T14:30", None, []),
        ("pending", None, None, "caller will call back himself", []),
        (
            "sale",
            None,
            None,
            None,
            [
                "next_step: this script requires a next step with a date and a time "
                "(next_step, next_step_at), or a no_next_step_reason"
            ],
        ),
        (
            "sale",
            "  ",
            "",
            "   ",
            [
                "next_step: this script requires a next step with a date and a time "
                "(next_step, next_step_at), or a no_next_step_reason"
            ],
        ),
        (
            "sale",
            "visit",
            None,
            None,
            ["next_step_at: required with next_step (a date and a time)"],
        ),
        (
            "sale",
            "visit",
            "2026-12-01",
            None,
            ["next_step_at = '2026-12-01': a date alone; add the time"],
        ),
        (
            "sale",
            "visit",
            date(2026, 12, 1),
            None,
            ["next_step_at = '2026-12-01': a date alone; add the time"],
        ),
        (
            "sale",
            "visit",
            "tomorrow",
            None,
            ["next_step_at = 'tomorrow': not a date and time such as 2026-12-01T14:30"],
        ),
        ("sale", None, NOON, None, ["next_step: required with next_step_at (say what was agreed)"]),
        ("sale", "visit", NOON, "no time", []),  # a complete next step is enough
        (
            "won",
            "visit",
            NOON,
            None,
            ["outcome = 'won': accepted ['offer', 'pending', 'sale', 'next_step', 'lost']"],
        ),
    ],
)
def test_outcome_problems(
    outcome: str,
    step: str | None,
    at: datetime | date | str | None,
    reason: str | None,
    problems: list[str],
) -> None:
    assert outcome_problems(EN, outcome, step, at, reason) == problems


def test_without_require_next_step_an_outcome_needs_nothing_more() -> None:
    shopper = LIBRARY["mystery_shopper_en"]
    assert not shopper.require_next_step
    assert outcome_problems(shopper, "lost", None, None, None) == []
    # but a next step that is given must still be complete
    assert outcome_problems(shopper, "lost", "visit", None, None) == [
        "next_step_at: required with next_step (a date and a time)"
    ]
