"""Template grammar and rendering: placeholders, braces, and hostile values kept as text."""

from __future__ import annotations

import time
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephony.scripts.template import (
    MISSING,
    TemplateError,
    placeholders,
    problems,
    render,
)

FIELDS = ["budget", "rooms"]
VALUES = {
    "agent.first_name": "Elif",
    "caller.name": "Ayşe Yılmaz",
    "caller.number": "+905551112233",
    "company.name": "Tavan38",
    "company.activity": "Gergi tavan",
    "captured.budget": "40 000 TL",
}


def test_placeholders_in_order_with_repeats_and_literal_braces() -> None:
    text = "{{not}} {caller.name}, {company.name} {{x}} {caller.name} {captured.budget}"
    assert placeholders(text) == ["caller.name", "company.name", "caller.name", "captured.budget"]
    assert placeholders("no placeholder at all") == []
    assert placeholders("{{caller.name}}") == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Hello {caller.name", "'{' at 6 is never closed (write '{{' for a brace)"),
        ("Hello caller.name}", "'}' at 17 closes nothing (write '}}' for a brace)"),
        ("a {} b", "{} at 2 is not a placeholder"),
        ("a {caller} b", "{caller} at 2 is not a placeholder"),
        ("a {Caller.Name} b", "{Caller.Name} at 2 is not a placeholder"),
        ("a {caller.name.x} b", "{caller.name.x} at 2 is not a placeholder"),
        ("a {caller. name} b", "{caller. name} at 2 is not a placeholder"),
        ("{{caller.name}", "'}' at 13 closes nothing"),
        ("{caller.{name}}", "'{' at 0 is never closed"),
    ],
)
def test_malformed_braces_are_named_with_their_position(text: str, problem: str) -> None:
    with pytest.raises(TemplateError) as caught:
        placeholders(text)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems
    assert any(p.startswith(problem) for p in problems(text, FIELDS))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{captured.budjet}", "{captured.budjet} names no field of this script; fields: "),
        ("{agent.last_name}", "{agent.last_name} is not known; agent has: ['agent.first_name']"),
        ("{caller.email}", "{caller.email} is not known; caller has: ['caller.name', "),
        ("{order.total}", "{order.total}: unknown namespace 'order'; namespaces: "),
    ],
)
def test_unknown_names_are_problems(text: str, problem: str) -> None:
    found = problems(text, FIELDS)
    assert len(found) == 1 and found[0].startswith(problem), found
    assert problems("{captured.rooms} {company.activity} {caller.number}", FIELDS) == []


def test_render_fills_values_and_literal_braces() -> None:
    text = "{company.activity} {company.name}, {agent.first_name}. {{Hi}} {caller.name}!"
    assert render(text, VALUES) == "Gergi tavan Tavan38, Elif. {Hi} Ayşe Yılmaz!"


def test_missing_or_blank_values_show_the_missing_mark() -> None:
    assert render("{caller.name}: {captured.rooms}", {"caller.name": "  \t"}) == (
        f"{MISSING}: {MISSING}"
    )
    assert render("{caller.name}", {}, missing="?") == "?"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>"),
        ("{caller.number}", "{caller.number}"),  # never expanded again
        ("{{caller.name}}", "{{caller.name}}"),  # braces in a value are not unescaped
        ("}{", "}{"),
        ("Ali\u202egnp.exe", "Alignp.exe"),  # bidi override dropped
        ("Ali\u2066\u2069\u200f\u200b Veli", "Ali Veli"),  # isolates, marks, zero width
        ("Ali\x00\x07\x1b[31m", "Ali[31m"),  # NUL, BEL, ESC dropped
        ("Ali\nVeli\r\n\tDeli", "Ali Veli Deli"),  # one line
        ("Ali\ud800", "Ali"),  # a lone surrogate
        ("&lt;b&gt;", "&lt;b&gt;"),  # not decoded either
    ],
)
def test_hostile_values_stay_plain_text(value: str, shown: str) -> None:
    assert render("[{caller.name}]", {"caller.name": value}) == f"[{shown}]"


def test_a_huge_value_is_capped_quickly() -> None:
    value = "A" * 100_000 + "<b>"
    start = time.perf_counter()
    out = render("{caller.name} / {caller.name}", {"caller.name": value})
    assert time.perf_counter() - start < 1.0
    assert out == "A" * 80 + " / " + "A" * 80


@pytest.mark.parametrize(
    "text", ["{" * 100_000, "{a" * 50_000, "}" * 99_999, "{caller.name" * 8_000, "{{}}" * 25_000]
)
def test_a_huge_malformed_template_renders_its_text_in_linear_time(text: str) -> None:
    start = time.perf_counter()
    out = render(text, VALUES)
    assert time.perf_counter() - start < 2.0
    assert out.replace("{", "").replace("}", "") == text.replace("{", "").replace("}", "")


def test_a_malformed_template_still_renders_its_good_parts() -> None:
    assert render("{caller.name} owes {captured.budget", VALUES) == (
        "Ayşe Yılmaz owes {captured.budget"
    )
    assert render("{bad name} {caller.name}", VALUES) == "{bad name} Ayşe Yılmaz"


_DROPPED = {"Cc", "Cf", "Cs", "Co", "Cn"}


@given(st.text(max_size=300))
def test_any_value_renders_printable_one_line_and_capped(value: str) -> None:
    out = render("{caller.name}", {"caller.name": value})
    assert len(out) <= 80
    assert out == MISSING or not any(unicodedata.category(ch) in _DROPPED for ch in out)
    assert "\n" not in out and "\r" not in out
