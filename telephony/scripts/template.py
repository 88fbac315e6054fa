"""The template grammar of a script's words: `{namespace.name}` placeholders, `{{`/`}}` braces.

Namespaces: `agent.first_name`, `caller.name`, `caller.number`, `company.name`,
`company.activity` and `captured.<field key>` (a field of the script). `render` returns
PLAIN TEXT: each value is cleaned (control and bidi characters dropped, one line, capped)
and inserted as it is — a value that looks like a placeholder or like markup stays that
literal text, it is never scanned again. The browser twin is `agent_ui/script_template.js`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Final

from telephony.numbers import clean_caller_name

# The fixed namespaces; `captured` takes any field key of the script.
FIXED_NAMES: Final = frozenset(
    {"agent.first_name", "caller.name", "caller.number", "company.name", "company.activity"}
)
CAPTURED: Final = "captured"
NAMESPACES: Final = ("agent", "caller", "company", CAPTURED)
MISSING: Final = "…"
_NAME: Final = re.compile(r"^([a-z][a-z_]*)\.([a-z][a-z0-9_]*)$")
# A placeholder's name is short; looking no further for its '}' keeps a scan linear.
_MAX_NAME: Final = 64
_BRACE: Final = re.compile(r"[{}]")


class TemplateError(ValueError):
    """A malformed template; `problems` has one line per fault, with its position."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Placeholder:
    name: str  # "caller.name"


# A template is a sequence of literal text and placeholders.
Segment = str | Placeholder


def scan(template: str) -> tuple[list[Segment], list[str]]:
    """The segments of a template and the problems of its braces.

    Tolerant by design: a malformed brace is kept as literal text, so a bad template
    still renders (validation refuses it before it is saved).
    """
    segments: list[Segment] = []
    problems: list[str] = []
    text: list[str] = []
    i = 0
    size = len(template)
    while i < size:
        char = template[i]
        if char == "{":
            if template.startswith("{{", i):
                text.append("{")
                i += 2
                continue
            end = template.find("}", i + 1, i + 2 + _MAX_NAME)
            inner = template[i + 1 : end] if end != -1 else ""
            if end == -1 or "{" in inner:
                problems.append(f"'{{' at {i} is never closed (write '{{{{' for a brace)")
                text.append("{")
                i += 1
                continue
            if not _NAME.fullmatch(inner):
                shown = inner if len(inner) <= 40 else inner[:37] + "..."
                problems.append(
                    f"{{{shown}}} at {i} is not a placeholder: write {{namespace.name}}, "
                    "e.g. {caller.name}, or '{{' for a brace"
                )
                text.append(template[i : end + 1])
                i = end + 1
                continue
            if text:
                segments.append("".join(text))
                text = []
            segments.append(Placeholder(inner))
            i = end + 1
        elif char == "}":
            if template.startswith("}}", i):
                text.append("}")
                i += 2
                continue
            problems.append(f"'}}' at {i} closes nothing (write '}}}}' for a brace)")
            text.append("}")
            i += 1
        else:
            # Copy the run of plain characters up to the next brace at once.
            found = _BRACE.search(template, i)
            stop = found.start() if found else size
            text.append(template[i:stop])
            i = stop
    if text:
        segments.append("".join(text))
    return segments, problems


def placeholders(template: str) -> list[str]:
    """The names a template uses, in order (repeats kept); `TemplateError` if malformed."""
    segments, problems = scan(template)
    if problems:
        raise TemplateError(problems)
    return [seg.name for seg in segments if isinstance(seg, Placeholder)]


def unknown_name(name: str, fields: Collection[str]) -> str | None:
    """Why `name` is not a placeholder of a script with these field keys, or None."""
    if name in FIXED_NAMES:
        return None
    namespace = name.split(".", 1)[0]
    if namespace == CAPTURED:
        if name.split(".", 1)[1] in fields:
            return None
        return f"{{{name}}} names no field of this script; fields: {sorted(fields)}"
    if namespace in NAMESPACES:
        known = sorted(n for n in FIXED_NAMES if n.startswith(namespace + "."))
        return f"{{{name}}} is not known; {namespace} has: {known}"
    return (
        f"{{{name}}}: unknown namespace {namespace!r}; namespaces: {list(NAMESPACES)} "
        "(captured.<field key>)"
    )


def problems(template: str, fields: Collection[str]) -> list[str]:
    """Everything wrong with a template of a script whose fields are `fields`."""
    segments, found = scan(template)
    for seg in segments:
        if isinstance(seg, Placeholder) and (why := unknown_name(seg.name, fields)):
            found.append(why)
    return found


def clean_value(raw: str) -> str:
    """A value as the agent may see it: printable, one line, at most 80 characters."""
    return clean_caller_name(raw)


def render(template: str, values: Mapping[str, str], *, missing: str = MISSING) -> str:
    """Plain text of `template` with each placeholder replaced by its cleaned value.

    A name without a (non-blank) value shows `missing`. Values are inserted once and
    never scanned again, so `{caller.name}` or `<script>` inside a value stays text.
    """
    segments, _ = scan(template)
    out: list[str] = []
    for seg in segments:
        if isinstance(seg, Placeholder):
            raw = values.get(seg.name)
            value = clean_value(raw) if isinstance(raw, str) else ""
            out.append(value or missing)
        else:
            out.append(seg)
    return "".join(out)
