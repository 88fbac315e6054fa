"""The default library: every script valid, import/export round-trips unchanged."""

from __future__ import annotations

import pytest

from telephony.scripts.library import Format, default_library, export, import_script
from telephony.scripts.model import Script
from telephony.scripts.validate import ScriptRejected, parse, problems, warnings

LIBRARY = default_library()


def _ids() -> list[str]:
    return [script.key for script in LIBRARY]


@pytest.mark.parametrize("script", LIBRARY, ids=_ids())
def test_every_library_script_validates_with_no_problems(script: Script) -> None:
    assert problems(script) == []
    assert parse(script.model_dump()) == script


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("script", LIBRARY, ids=_ids())
def test_export_then_import_gives_the_same_script(script: Script, fmt: Format) -> None:
    text = export(script, fmt)
    assert import_script(text, fmt) == script
    assert export(import_script(text, fmt), fmt) == text


def test_yaml_aliases_are_refused() -> None:
    with pytest.raises(ScriptRejected, match="aliases"):
        import_script("a: &x [1, 2]\nb: *x\n")


NINE = [
    "greeting",
    "first_question",
    "name",
    "first_answer",
    "needs",
    "summary",
    "presentation",
    "aside",
    "close",
]


def test_the_library_has_each_script_in_turkish_and_english() -> None:
    keys = {script.key: script.language for script in LIBRARY}
    bases = {"inbound_sale", "general_inbound", "meeting", "phone_sale", "mystery_shopper"}
    assert keys == {f"{b}_{lang}": lang for b in bases for lang in ("tr", "en")}


@pytest.mark.parametrize("language", ["tr", "en"])
def test_the_inbound_sale_follows_the_playbook(language: str) -> None:
    script = next(s for s in LIBRARY if s.key == f"inbound_sale_{language}")
    assert [stage.kind for stage in script.stages] == NINE
    needs = script.stages[NINE.index("needs")]
    assert len(needs.questions) <= 7
    assert {q.kind for q in needs.questions} == {"technical", "expertise", "motivation"}
    assert {o.key for o in script.objections} >= {
        "too_expensive",
        "discount",
        "think_about_it",
        "boss_asked",
    }
    assert script.price_stage == "presentation" and script.contact_field == "phone"
    assert script.price.answer_on_ask == 3 and script.require_next_step
    assert warnings(script) == []


def test_the_general_template_has_twelve_steps_and_the_flows_their_stages() -> None:
    by_key = {s.key: s for s in LIBRARY}
    assert len(by_key["general_inbound_en"].stages) == 12
    assert [s.id for s in by_key["meeting_tr"].stages] == [
        "contact",
        "question",
        "proposal",
        "resistance",
        "agreement",
        "summary",
    ]
    assert [s.id for s in by_key["phone_sale_en"].stages] == [
        "contact",
        "question",
        "problem",
        "offer",
        "objections",
        "agreement",
        "summary",
    ]
    shopper = by_key["mystery_shopper_tr"]
    assert not shopper.require_next_step and warnings(shopper) == []
    grade = shopper.stages[-1]
    assert all(f.type == "choice" and len(f.choices) == 2 for f in grade.captures)


def test_twins_share_their_structure() -> None:
    # The Turkish and English versions differ in words only: same stages, fields, questions.
    by_key = {s.key: s for s in LIBRARY}
    for base in ("inbound_sale", "general_inbound", "meeting", "phone_sale", "mystery_shopper"):
        tr, en = by_key[f"{base}_tr"], by_key[f"{base}_en"]
        assert [
            (s.id, s.kind, [f.key for f in s.captures], [q.key for q in s.questions])
            for s in tr.stages
        ] == [
            (s.id, s.kind, [f.key for f in s.captures], [q.key for q in s.questions])
            for s in en.stages
        ]
        assert [o.key for o in tr.objections] == [o.key for o in en.objections]


@pytest.mark.parametrize(
    ("text", "fmt", "problem"),
    [
        ("key: [unclosed", "yaml", "not valid YAML: "),
        ("{", "json", "not valid JSON: line 1 column 2: "),
        ("[" * 100_000 + "]" * 100_000, "json", "not valid JSON: nested too deep"),
        ("- " * 5_000 + "x", "yaml", "not valid YAML"),
        ("key: x", "toml", "format 'toml': accepted ['yaml', 'json']"),
        ("x" * 1_000_001, "yaml", "the file has 1000001 characters, the limit is 1000000"),
        ("key: x\n", "yaml", "name: required"),
    ],
)
def test_unreadable_imports_are_refused_with_a_reason(text: str, fmt: str, problem: str) -> None:
    with pytest.raises(ScriptRejected) as caught:
        import_script(text, fmt)  # type: ignore[arg-type]
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems
