"""Flows are checked at save: every problem named by field, value and what is accepted."""

from __future__ import annotations

from typing import Any

import pytest

from telephony.ivr.validate import FlowRejected, validate_flow


def say(text: str = "Merhaba") -> dict[str, Any]:
    return {"text": {"tr": text}}


def menu_flow(**menu: Any) -> dict[str, Any]:
    return {
        "start": "menu",
        "nodes": {
            "menu": {
                "kind": "menu",
                "prompt": say("Satış için 1, destek için 2"),
                "choices": {"1": {"next": "sales", "tag": "sales"}, "2": {"next": "support"}},
                "default": "sales",
                **menu,
            },
            "sales": {"kind": "agents", "group": "sales"},
            "support": {"kind": "agents", "group": "support"},
        },
    }


def problems(raw: dict[str, Any], files: set[str] | None = None) -> list[str]:
    with pytest.raises(FlowRejected) as rejected:
        validate_flow(raw, file_exists=lambda name: name in (files or set()))
    return rejected.value.problems


def test_a_short_menu_is_accepted_without_warnings() -> None:
    checked = validate_flow(menu_flow(), file_exists=lambda name: False)
    assert checked.warnings == []
    assert checked.flow.nodes["menu"].kind == "menu"


def test_unknown_node_references_are_named_by_field() -> None:
    raw = menu_flow(default="nowhere")
    raw["nodes"]["menu"]["choices"]["2"]["next"] = "gone"
    found = problems(raw)
    assert "nodes.menu.choices.2.next = 'gone': no such node (known: menu, sales, support)" in found
    assert any(p.startswith("nodes.menu.default = 'nowhere': no such node") for p in found)


def test_an_unknown_start_is_refused() -> None:
    raw = menu_flow()
    raw["start"] = "greeting"
    assert problems(raw)[0].startswith("start = 'greeting': no such node")


def test_a_loop_that_never_waits_is_refused() -> None:
    raw = {
        "start": "a",
        "nodes": {
            "a": {"kind": "play", "prompt": say(), "next": "b"},
            "b": {"kind": "tag", "tag": "x", "next": "a"},
        },
    }
    assert problems(raw) == [
        "nodes.a: the loop a → b → a never waits for the caller (put a menu in it, or end it)"
    ]


def test_a_node_leading_to_itself_is_a_loop() -> None:
    raw = {"start": "a", "nodes": {"a": {"kind": "play", "prompt": say(), "next": "a"}}}
    assert "never waits for the caller" in problems(raw)[0]


def test_a_loop_through_a_menu_is_allowed() -> None:
    raw = menu_flow()
    raw["nodes"]["menu"]["choices"]["9"] = {"next": "again"}
    raw["nodes"]["again"] = {"kind": "play", "prompt": say("Tekrar"), "next": "menu"}
    assert validate_flow(raw, file_exists=lambda name: False).warnings == []


def test_missing_prompt_files_are_refused_and_present_ones_accepted() -> None:
    raw = menu_flow()
    raw["nodes"]["menu"]["prompt"] = {"files": {"tr": "ivr/menu-tr"}}
    assert problems(raw) == [
        "nodes.menu.prompt.files.tr = 'ivr/menu-tr': no such sound file "
        "(upload it to the IVR sounds folder, or use text)"
    ]
    assert validate_flow(raw, file_exists=lambda name: name == "ivr/menu-tr").warnings == []


def test_sound_names_cannot_leave_the_sounds_folder() -> None:
    raw = menu_flow()
    raw["nodes"]["menu"]["prompt"] = {"files": {"tr": "../../etc/passwd"}}
    assert problems(raw) == [
        "nodes.menu.prompt.files.tr = '../../etc/passwd': a sound name without extension: "
        "letters, digits, _ - and /, no '..'"
    ]


def test_more_than_three_choices_is_a_warning_and_more_than_nine_refused() -> None:
    raw = menu_flow()
    for key in "345":
        raw["nodes"]["menu"]["choices"][key] = {"next": "sales"}
    checked = validate_flow(raw, file_exists=lambda name: False)
    assert checked.warnings == [
        "nodes.menu.choices: 5 choices; more than 3 keeps callers from a person "
        "(the playbook's auto-informer)"
    ]
    for key in "6789*#":
        raw["nodes"]["menu"]["choices"][key] = {"next": "sales"}
    assert any("at most 9" in p for p in problems(raw))


def test_keys_must_be_phone_keys() -> None:
    raw = menu_flow()
    raw["nodes"]["menu"]["choices"]["a"] = {"next": "sales"}
    assert any("key 'a': a menu key is one of 0-9, * or #" in p for p in problems(raw))


def test_prompts_must_speak_the_default_language_and_only_the_flows_languages() -> None:
    raw = menu_flow()
    raw["nodes"]["menu"]["prompt"] = {"text": {"en": "Press 1"}}
    found = problems(raw)
    assert "nodes.menu.prompt: no file or text in the default language 'tr'" in found
    assert any(p.startswith("nodes.menu.prompt.en: 'en' is not one of") for p in found)


def test_tts_languages_are_limited_to_what_the_engine_speaks() -> None:
    raw = menu_flow()
    raw["languages"] = ["tr", "de"]
    raw["nodes"]["menu"]["prompt"] = {"text": {"tr": "Bir", "de": "Eins"}}
    assert problems(raw) == [
        "nodes.menu.prompt.text.de: the TTS engine speaks ['en', 'tr'] only; record a file for 'de'"
    ]


def test_bad_values_name_the_field_value_and_what_is_accepted() -> None:
    raw = menu_flow(timeout_s=-1, retries=9)
    raw["time_zone"] = "Mars/Olympus"
    raw["nodes"]["x"] = {"kind": "teleport"}
    found = problems(raw)
    assert any(p.startswith("time_zone = 'Mars/Olympus': ") and "IANA" in p for p in found)
    assert any("timeout_s = -1" in p for p in found)
    assert any("retries = 9" in p for p in found)
    assert (
        "nodes.x: kind 'teleport' is not one of hours, play, menu, language, tag, "
        + ("agents, callback, voicemail, external, hangup")
        in found
    )


def test_unknown_fields_are_refused() -> None:
    raw = menu_flow(colour="blue")
    assert any(p.endswith("colour: unknown field") for p in problems(raw))


def test_a_language_choice_must_be_one_of_the_flows_languages() -> None:
    raw = {
        "start": "lang",
        "languages": ["tr", "en"],
        "nodes": {
            "lang": {
                "kind": "language",
                "prompt": {"text": {"tr": "Türkçe için 1", "en": "For English press 2"}},
                "choices": {"1": "tr", "2": "en", "3": "fr"},
                "next": "agents",
            },
            "agents": {"kind": "agents"},
        },
    }
    assert problems(raw) == [
        "nodes.lang.choices.3 = 'fr': not one of the flow's languages ['tr', 'en']"
    ]


def test_hours_need_sane_spans() -> None:
    raw = {
        "start": "hours",
        "nodes": {
            "hours": {
                "kind": "hours",
                "open_spans": [{"days": ["mon"], "start": "18:00", "end": "09:00"}],
                "open": "agents",
                "closed": "agents",
            },
            "agents": {"kind": "agents"},
        },
    }
    assert any("end 09:00 must be after start 18:00" in p for p in problems(raw))


def test_unreachable_nodes_are_a_warning() -> None:
    raw = menu_flow()
    raw["nodes"]["orphan"] = {"kind": "hangup"}
    checked = validate_flow(raw, file_exists=lambda name: False)
    assert checked.warnings == ["nodes ['orphan']: nothing leads to them"]


def test_a_callback_waits_for_an_hours_node_only() -> None:
    raw = menu_flow()
    raw["nodes"]["offer"] = {
        "kind": "callback",
        "prompt": say("Bir"),
        "keyin_prompt": say("Numara"),
        "after_opening": "menu",
    }
    raw["nodes"]["menu"]["choices"]["3"] = {"next": "offer"}
    assert problems(raw) == [
        "nodes.offer.after_opening = 'menu': must name an hours node "
        "(known: menu, offer, sales, support)"
    ]
