"""Validation: every problem named by its place, its value and what would be accepted."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.scripts.model import MAX_QUESTIONS, Script
from telephony.scripts.validate import ScriptRejected, parse, reachable, warnings

Raw = dict[str, Any]


def base() -> Raw:
    """A small valid script: greeting, needs, summary (a branch back), presentation, close."""
    return {
        "key": "ceilings",
        "name": "Ceilings",
        "language": "en",
        "stages": [
            {
                "id": "greeting",
                "kind": "greeting",
                "title": "Greeting",
                "say": ["Hello, {company.name}, {agent.first_name} speaking."],
                "captures": [{"key": "phone", "label": "Phone", "type": "phone"}],
            },
            {
                "id": "needs",
                "kind": "needs",
                "title": "Needs",
                "captures": [
                    {"key": "budget", "label": "Budget", "type": "number", "min": 0, "max": 100000},
                    {
                        "key": "finish",
                        "label": "Finish",
                        "type": "choice",
                        "choices": ["Matte", "Gloss"],
                    },
                ],
                "questions": [
                    {
                        "key": "q_budget",
                        "text": "What budget, {caller.name}?",
                        "kind": "technical",
                        "captures": "budget",
                    },
                    {"key": "q_walls", "text": "Brick or concrete?", "kind": "expertise"},
                    {"key": "q_when", "text": "How soon?", "kind": "motivation"},
                ],
            },
            {
                "id": "summary",
                "kind": "summary",
                "title": "Summary",
                "say": ["So {captured.budget}, {captured.finish}?"],
                "captures": [
                    {"key": "ok", "label": "Confirmed", "type": "choice", "choices": ["Yes", "No"]}
                ],
                "branches": [{"field": "ok", "equals": "No", "to": "needs"}],
            },
            {"id": "presentation", "kind": "presentation", "title": "Presentation"},
            {"id": "close", "kind": "close", "title": "Close"},
        ],
        "objections": [
            {
                "key": "too_expensive",
                "title": "Too expensive",
                "say": ["Compared with what, {caller.name}?"],
            }
        ],
        "price_stage": "presentation",
        "contact_field": "phone",
    }


def rejected(raw: Raw) -> list[str]:
    with pytest.raises(ScriptRejected) as caught:
        parse(raw)
    return caught.value.problems


def test_the_base_script_is_valid_and_has_no_warnings() -> None:
    script = parse(base())
    assert isinstance(script, Script)
    assert warnings(script) == []


def _stage(raw: Raw, index: int) -> Raw:
    stage: Raw = raw["stages"][index]
    return stage


def _set(path: Callable[[Raw], Raw], key: str, value: object) -> Callable[[Raw], None]:
    def change(raw: Raw) -> None:
        path(raw)[key] = value

    return change


STAGES = "['greeting', 'needs', 'summary', 'presentation', 'close']"
FIELDS = "['budget', 'finish', 'ok', 'phone']"

CASES: list[tuple[str, Callable[[Raw], None], str]] = [
    (
        "branch to a missing stage",
        _set(lambda r: _stage(r, 2)["branches"][0], "to", "sumary"),
        f"stages[2] 'summary'.branches[0].to = 'sumary': no such stage; stages: {STAGES}",
    ),
    (
        "next to a missing stage",
        _set(lambda r: _stage(r, 0), "next", "neds"),
        f"stages[0] 'greeting'.next = 'neds': no such stage; stages: {STAGES}",
    ),
    (
        "branch on a field no stage captures",
        _set(lambda r: _stage(r, 2)["branches"][0], "field", "okay"),
        f"stages[2] 'summary'.branches[0].field = 'okay': no stage captures it; fields: {FIELDS}",
    ),
    (
        "branch on a value that is not a choice",
        _set(lambda r: _stage(r, 2)["branches"][0], "equals", "Nope"),
        "stages[2] 'summary'.branches[0].equals = 'Nope': not a choice of 'ok'; "
        "choices: ['Yes', 'No']",
    ),
    (
        "branch on a number with a non-number",
        lambda r: _stage(r, 1).update(
            branches=[{"field": "budget", "equals": "lots", "to": "close"}]
        ),
        "stages[1] 'needs'.branches[0].equals = 'lots': 'budget' is a number; write a number "
        "such as 3 or 2.5",
    ),
    (
        "question captures no field",
        _set(lambda r: _stage(r, 1)["questions"][0], "captures", "budjet"),
        "stages[1] 'needs'.questions[0].captures = 'budjet': no stage captures it; "
        f"fields: {FIELDS}",
    ),
    (
        "say names an unknown field",
        _set(lambda r: _stage(r, 2), "say", ["ok", "So {captured.budjet}?"]),
        "stages[2] 'summary'.say[1]: {captured.budjet} names no field of this script; "
        f"fields: {FIELDS}",
    ),
    (
        "hint with an unknown namespace",
        _set(lambda r: _stage(r, 0), "hints", ["{crm.owner}"]),
        "stages[0] 'greeting'.hints[0]: {crm.owner}: unknown namespace 'crm'",
    ),
    (
        "question text with malformed braces",
        _set(lambda r: _stage(r, 1)["questions"][1], "text", "Brick {or concrete?"),
        "stages[1] 'needs'.questions[1].text: '{' at 6 is never closed",
    ),
    (
        "objection say with an unknown caller name",
        _set(lambda r: r["objections"][0], "say", ["{caller.surname}"]),
        "objections[0] 'too_expensive'.say[0]: {caller.surname} is not known; caller has: ",
    ),
    (
        "choice field without choices",
        _set(lambda r: _stage(r, 1)["captures"][1], "choices", []),
        "stages[1] 'needs'.captures[1] 'finish': a choice field needs choices",
    ),
    (
        "choices on a text field",
        _set(lambda r: _stage(r, 0)["captures"][0], "choices", ["a"]),
        "stages[0] 'greeting'.captures[0] 'phone': choices are for type 'choice', not 'phone'",
    ),
    (
        "repeated choices",
        _set(lambda r: _stage(r, 1)["captures"][1], "choices", ["Matte", "Matte"]),
        "stages[1] 'needs'.captures[1] 'finish': choices repeated: ['Matte']",
    ),
    (
        "min on a non-number",
        _set(lambda r: _stage(r, 0)["captures"][0], "min", 1),
        "stages[0] 'greeting'.captures[0] 'phone': min and max are for type 'number', not 'phone'",
    ),
    (
        "min above max",
        _set(lambda r: _stage(r, 1)["captures"][0], "min", 200000),
        "stages[1] 'needs'.captures[0] 'budget': min 200000 is above max 100000",
    ),
    (
        "price stage missing",
        _set(lambda r: r, "price_stage", "price"),
        f"price_stage = 'price': no such stage; stages: {STAGES}",
    ),
    (
        "contact field missing",
        _set(lambda r: r, "contact_field", "mobile"),
        f"contact_field = 'mobile': no stage captures it; fields: {FIELDS}",
    ),
    (
        "unreachable stage",
        _set(lambda r: _stage(r, 2), "next", "close"),
        "stages[3] 'presentation': cannot be reached from the first stage 'greeting' "
        "(lead a branch or next to it, or remove it)",
    ),
]


@pytest.mark.parametrize(("name", "change", "problem"), CASES, ids=[c[0] for c in CASES])
def test_each_problem_is_named_precisely(
    name: str, change: Callable[[Raw], None], problem: str
) -> None:
    raw = copy.deepcopy(base())
    change(raw)
    found = rejected(raw)
    assert any(p.startswith(problem) for p in found), found


def test_duplicate_keys_name_every_place() -> None:
    raw = base()
    _stage(raw, 3)["id"] = "needs"
    _stage(raw, 4)["captures"] = [{"key": "budget", "label": "Budget again"}]
    _stage(raw, 4)["questions"] = [{"key": "q_when", "text": "When?", "kind": "motivation"}]
    raw["objections"].append({"key": "too_expensive", "title": "Again"})
    found = rejected(raw)
    assert "stage id 'needs' is used more than once: stages[1], stages[3]" in found
    assert (
        "field key 'budget' is used more than once: stages[1] 'needs'.captures[0], "
        "stages[4] 'close'.captures[0]"
    ) in found
    assert (
        "question key 'q_when' is used more than once: stages[1] 'needs'.questions[2], "
        "stages[4] 'close'.questions[0]"
    ) in found
    assert "objection key 'too_expensive' is used more than once: objections[0], objections[1]" in (
        found
    )


def _questions(n: int) -> list[Raw]:
    kinds = ["technical", "expertise", "motivation"]
    return [{"key": f"q{i}", "text": f"Question {i}?", "kind": kinds[i % 3]} for i in range(n)]


def test_more_questions_than_the_limit_are_refused_unless_allowed() -> None:
    raw = base()
    _stage(raw, 1)["questions"] = _questions(MAX_QUESTIONS + 1)
    assert rejected(raw) == [
        f"stages[1] 'needs': {MAX_QUESTIONS + 1} questions, the limit is {MAX_QUESTIONS} "
        "(set allow_more_questions to allow)"
    ]
    _stage(raw, 1)["allow_more_questions"] = True
    assert len(parse(raw).stages[1].questions) == MAX_QUESTIONS + 1
    _stage(raw, 1)["questions"] = _questions(MAX_QUESTIONS)
    _stage(raw, 1)["allow_more_questions"] = False
    parse(raw)


def test_a_loop_is_fine_and_every_stage_is_reachable() -> None:
    raw = base()
    _stage(raw, 4)["next"] = "greeting"  # the close goes back to the start: a loop
    script = parse(raw)
    assert reachable(script) == {s.id for s in script.stages}


def test_a_stage_reached_only_by_a_branch_is_reachable() -> None:
    raw = base()
    _stage(raw, 2)["next"] = "close"  # presentation only through a branch now
    _stage(raw, 2)["branches"].append({"field": "ok", "equals": "Yes", "to": "presentation"})
    parse(raw)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r.pop("key"), "key: required"),
        (lambda r: r.update(colour="red"), "colour: unknown field"),
        (lambda r: r.update(language="de"), "language = 'de': Input should be 'tr' or 'en'"),
        (lambda r: r.update(stages=[]), "stages = []: List should have at least 1 item"),
        (
            lambda r: _stage(r, 1).update(id="Needs!"),
            "stages[1] 'Needs!'.id = 'Needs!': a stage id: a lower-case letter",
        ),
        (
            lambda r: _stage(r, 1)["questions"][0].update(kind="emotional"),
            "stages[1] 'needs'.questions[0].kind = 'emotional': Input should be 'technical', "
            "'expertise' or 'motivation'",
        ),
        (
            lambda r: _stage(r, 1)["captures"][0].update(type="email"),
            "stages[1] 'needs'.captures[0].type = 'email': Input should be",
        ),
        (lambda r: _stage(r, 0).update(say=[""]), "stages[0] 'greeting'.say[0] = '': String"),
        (
            lambda r: _stage(r, 0).update(say=["x" * 5000]),
            "stages[0] 'greeting'.say[0] = 'xxxx",
        ),
        (lambda r: r.update(price={"answer_on_ask": 0}), "price.answer_on_ask = 0: Input should"),
    ],
)
def test_model_errors_read_as_paths(change: Callable[[Raw], object], problem: str) -> None:
    raw = base()
    change(raw)
    found = rejected(raw)
    assert any(p.startswith(problem) for p in found), found
    assert all(len(p) < 400 for p in found)


def test_not_a_mapping_and_deep_nesting_are_refused_not_raised() -> None:
    assert rejected([])  # type: ignore[arg-type]
    deep: object = "x"
    for _ in range(5000):
        deep = [deep]
    raw = base()
    raw["description"] = deep
    assert rejected(raw)


def test_warnings_are_soft_issues() -> None:
    raw = base()
    del raw["stages"][4]  # no close
    raw["stages"][1], raw["stages"][2] = raw["stages"][2], raw["stages"][1]  # summary first
    _stage(raw, 2)["questions"] = _stage(raw, 2)["questions"][:1]  # technical only
    raw["stages"].insert(0, raw["stages"].pop(3))  # the price stage first
    raw["stages"][0], raw["stages"][1] = raw["stages"][1], raw["stages"][0]
    script = parse(raw)
    assert warnings(script) == [
        "no close stage: the playbook ends every call on an agreed next step",
        "the summary stage comes before the needs stage",
        "stages[3] 'needs': no expertise, motivation question; the playbook asks for all "
        "three kinds",
        "price_stage 'presentation' comes before the needs stage: the price is named at the "
        "end of the presentation",
    ]


def test_contacts_after_the_price_stage_and_a_non_phone_contact_warn() -> None:
    raw = base()
    _stage(raw, 0)["captures"] = []
    _stage(raw, 4)["captures"] = [{"key": "phone", "label": "Phone"}]
    assert warnings(parse(raw)) == [
        "contact_field 'phone' is captured after the price stage 'presentation': take "
        "contacts before the price",
        "contact_field 'phone' is of type 'text', not 'phone'",
    ]
    raw = base()
    del raw["contact_field"]
    assert warnings(parse(raw)) == [
        "price_stage is set but contact_field is not: contacts come first"
    ]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(_JSON)
def test_any_input_is_a_script_or_refused_never_a_crash(raw: object) -> None:
    try:
        parse(raw)
    except ScriptRejected as refused:
        assert refused.problems and all(isinstance(p, str) for p in refused.problems)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_change_to_a_valid_script_is_accepted_or_refused_with_reasons(
    data: st.DataObject,
) -> None:
    raw = base()
    stage = data.draw(st.integers(0, 4))
    key = data.draw(st.sampled_from(["id", "next", "kind", "say", "title", "branches"]))
    _stage(raw, stage)[key] = data.draw(_JSON | st.sampled_from(["needs", "close", "x"]))
    try:
        script = parse(raw)
    except ScriptRejected as refused:
        assert refused.problems
    else:
        assert reachable(script) == {s.id for s in script.stages}
