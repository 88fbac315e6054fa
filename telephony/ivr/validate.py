"""Save-time checks of a flow: every problem named by field, value and what is accepted.

On top of the model's own checks: every node reference exists; no loop can go round
without waiting for the caller (a loop through a menu is fine, the hop limit bounds it at
run time); every prompt speaks the flow's default language; recorded prompt files exist;
TTS text is in a language the engine speaks. Warnings (saved anyway): more than 3 menu
choices, nodes nothing leads to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from telephony.ivr.flow import (
    WAITING_KINDS,
    WARN_CHOICES,
    CallbackNode,
    Flow,
    HoursNode,
    LanguageNode,
    MenuNode,
    prompts,
    successors,
)
from telephony.rings.policy import field_path

TTS_LANGUAGES = frozenset({"tr", "en"})


class FlowRejected(ValueError):
    """A proposed flow is invalid; `problems` has one line per field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Checked:
    flow: Flow
    warnings: list[str]


def validate_flow(
    raw: Any,
    *,
    file_exists: Callable[[str], bool],
    tts_languages: Iterable[str] = TTS_LANGUAGES,
) -> Checked:
    """A valid flow and its warnings, or `FlowRejected` listing every problem."""
    try:
        flow = Flow.model_validate(raw)
    except ValidationError as error:
        raise FlowRejected([_describe(err) for err in error.errors()]) from None
    problems: list[str] = []
    warnings: list[str] = []
    speaks = set(tts_languages)
    if flow.start not in flow.nodes:
        problems.append(f"start = {flow.start!r}: no such node (known: {_known(flow)})")
    if flow.language not in flow.languages:
        problems.append(
            f"language = {flow.language!r}: must be one of languages {list(flow.languages)}"
        )
    for node_id, node in flow.nodes.items():
        where = f"nodes.{node_id}"
        for path, target in successors(node):
            if target not in flow.nodes:
                problems.append(
                    f"{where}.{path} = {target!r}: no such node (known: {_known(flow)})"
                )
        for path, prompt in prompts(node):
            if flow.language not in prompt.languages():
                problems.append(
                    f"{where}.{path}: no file or text in the default language {flow.language!r}"
                )
            for language in sorted(prompt.languages() - set(flow.languages)):
                problems.append(
                    f"{where}.{path}.{language}: {language!r} is not one of the flow's "
                    f"languages {list(flow.languages)}"
                )
            for language, name in sorted(prompt.files.items()):
                if not file_exists(name):
                    problems.append(
                        f"{where}.{path}.files.{language} = {name!r}: no such sound file "
                        "(upload it to the IVR sounds folder, or use text)"
                    )
            for language in sorted(set(prompt.text) - set(prompt.files) - speaks):
                problems.append(
                    f"{where}.{path}.text.{language}: the TTS engine speaks "
                    f"{sorted(speaks)} only; record a file for {language!r}"
                )
        if isinstance(node, MenuNode) and len(node.choices) > WARN_CHOICES:
            warnings.append(
                f"{where}.choices: {len(node.choices)} choices; more than {WARN_CHOICES} "
                "keeps callers from a person (the playbook's auto-informer)"
            )
        if isinstance(node, CallbackNode) and node.after_opening is not None:
            if not isinstance(flow.nodes.get(node.after_opening), HoursNode):
                problems.append(
                    f"{where}.after_opening = {node.after_opening!r}: must name an hours "
                    f"node (known: {_known(flow)})"
                )
        if isinstance(node, LanguageNode):
            for key, language in sorted(node.choices.items()):
                if language not in flow.languages:
                    problems.append(
                        f"{where}.choices.{key} = {language!r}: not one of the flow's "
                        f"languages {list(flow.languages)}"
                    )
    if not problems:
        problems += _loops(flow)
        unreachable = sorted(set(flow.nodes) - _reachable(flow))
        if unreachable:
            warnings.append(f"nodes {unreachable}: nothing leads to them")
    if problems:
        raise FlowRejected(problems)
    return Checked(flow, warnings)


def _known(flow: Flow) -> str:
    return ", ".join(sorted(flow.nodes))


def _reachable(flow: Flow) -> set[str]:
    seen: set[str] = set()
    todo = [flow.start]
    while todo:
        node_id = todo.pop()
        if node_id in seen or node_id not in flow.nodes:
            continue
        seen.add(node_id)
        todo += [target for _, target in successors(flow.nodes[node_id])]
    return seen


def _loops(flow: Flow) -> list[str]:
    """A loop (strongly connected part of the graph) with no node that waits for the
    caller would spin without end: refused."""
    problems = []
    for component in _strongly_connected(flow):
        looped = len(component) > 1 or any(
            target == component[0] for _, target in successors(flow.nodes[component[0]])
        )
        if looped and not any(flow.nodes[n].kind in WAITING_KINDS for n in component):
            cycle = " → ".join([*component, component[0]])
            problems.append(
                f"nodes.{component[0]}: the loop {cycle} never waits for the caller "
                "(put a menu in it, or end it)"
            )
    return problems


def _strongly_connected(flow: Flow) -> list[list[str]]:
    """Tarjan's algorithm; each component in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node_id: str) -> None:
        index[node_id] = low[node_id] = len(index)
        stack.append(node_id)
        on_stack.add(node_id)
        for _, target in successors(flow.nodes[node_id]):
            if target not in flow.nodes:
                continue
            if target not in index:
                visit(target)
                low[node_id] = min(low[node_id], low[target])
            elif target in on_stack:
                low[node_id] = min(low[node_id], index[target])
        if low[node_id] == index[node_id]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node_id:
                    break
            found.append(sorted(component))

    for node_id in sorted(flow.nodes):
        if node_id not in index:
            visit(node_id)
    return found


_KINDS = "hours, play, menu, language, tag, agents, callback, voicemail, external, hangup"
# What a pattern-checked field accepts, by the field's name.
_PATTERNS = {
    "files": "a sound name without extension: letters, digits, _ - and /, no '..'",
    "next": "a node id: lower-case letters, digits and _, a letter first",
    "default": "a node id: lower-case letters, digits and _, a letter first",
    "start": "a node id: lower-case letters, digits and _, a letter first",
    "tag": "1-64 letters, digits, space, _ . -",
    "group": "1-64 letters, digits, space, _ . -",
    "number": "a phone number: 3-15 digits, '+' first allowed",
    "language": "two lower-case letters (tr, en)",
}


def _describe(err: ErrorDetails) -> str:
    loc = list(err["loc"])
    if len(loc) > 2 and loc[0] == "nodes" and isinstance(loc[2], str) and loc[2] in _KINDS:
        del loc[2]  # the discriminator pydantic adds: nodes.menu.menu.prompt -> nodes.menu.prompt
    path = field_path(tuple(loc))
    if err["type"] == "extra_forbidden":
        return f"{path}: unknown field"
    if err["type"] == "missing":
        return f"{path}: required"
    if err["type"] == "union_tag_not_found":
        return f"{path}: a node needs a kind: {_KINDS}"
    if err["type"] == "union_tag_invalid":
        return f"{path}: kind {err['input'].get('kind')!r} is not one of {_KINDS}"
    names = [part for part in loc if isinstance(part, str)]
    message = str(err.get("ctx", {}).get("error", err["msg"]))
    if err["type"] == "string_pattern_mismatch":
        named = [name for name in names if name in _PATTERNS]
        message = _PATTERNS[named[-1]] if named else message
    shown = repr(err["input"])
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{path} = {shown}: {message}"
