"""Save-time checks of a script: every problem named by its place, value and what is accepted.

On top of the model's own checks (types, keys, lengths): keys are unique, every branch
and `next` names a stage, a branch reads a field some stage captures, templates name
known placeholders with well-formed braces, field options fit the field's type, the
price and contact references exist, a needs stage keeps to MAX_QUESTIONS unless it
says `allow_more_questions`, and every stage can be reached from the first.

An unreachable stage is REFUSED, not warned: it is almost always a typo in a branch or
`next`, and a stage no call can reach is dead weight the admin should remove. Loops are
fine (an agent may go back). Soft issues (no close stage, price before needs...) are
`warnings`: the script is saved anyway.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from telephony.rings.policy import field_path
from telephony.scripts import template
from telephony.scripts.model import MAX_QUESTIONS, CaptureField, Script, Stage

QUESTION_KINDS = ("technical", "expertise", "motivation")


class ScriptRejected(ValueError):
    """A proposed script is invalid; `problems` has one line per fault."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


_PATTERNS = {
    "key": "a key: a lower-case letter, then lower-case letters, digits or _ (at most 40)",
    "id": "a stage id: a lower-case letter, then lower-case letters, digits or _ (at most 40)",
    "to": "a stage id",
    "next": "a stage id",
    "field": "a field key",
    "captures": "a field key",
    "price_stage": "a stage id",
    "contact_field": "a field key",
}


def parse(raw: object) -> Script:
    """A valid script, or `ScriptRejected` listing every problem found."""
    try:
        script = Script.model_validate(raw)
    except ValidationError as error:
        raise ScriptRejected([_describe(err, raw) for err in error.errors()]) from None
    found = problems(script)
    if found:
        raise ScriptRejected(found)
    return script


def problems(script: Script) -> list[str]:
    """The whole-script problems of a model-valid script (empty: it may be saved)."""
    found: list[str] = []
    stage_ids = [stage.id for stage in script.stages]
    fields = {field.key: field for _, _, field in _fields(script)}
    field_keys = sorted(fields)

    found += _duplicates("stage id", ((f"stages[{i}]", s.id) for i, s in enumerate(script.stages)))
    found += _duplicates(
        "field key", ((f"{_at(script, i)}.captures[{j}]", f.key) for i, j, f in _fields(script))
    )
    found += _duplicates(
        "question key",
        (
            (f"{_at(script, i)}.questions[{j}]", q.key)
            for i, stage in enumerate(script.stages)
            for j, q in enumerate(stage.questions)
        ),
    )
    found += _duplicates(
        "objection key", ((f"objections[{i}]", o.key) for i, o in enumerate(script.objections))
    )

    for i, stage in enumerate(script.stages):
        at = _at(script, i)
        for j, field in enumerate(stage.captures):
            found += _field_problems(f"{at}.captures[{j}]", field)
        for j, branch in enumerate(stage.branches):
            if branch.to not in stage_ids:
                found.append(
                    f"{at}.branches[{j}].to = {branch.to!r}: no such stage; stages: {stage_ids}"
                )
            target = fields.get(branch.field)
            if target is None:
                found.append(
                    f"{at}.branches[{j}].field = {branch.field!r}: no stage captures it; "
                    f"fields: {field_keys}"
                )
            elif target.type == "choice" and branch.equals not in target.choices:
                found.append(
                    f"{at}.branches[{j}].equals = {branch.equals!r}: not a choice of "
                    f"{target.key!r}; choices: {target.choices}"
                )
            elif target.type == "number" and not _is_number(branch.equals):
                found.append(
                    f"{at}.branches[{j}].equals = {branch.equals!r}: {target.key!r} is a "
                    "number; write a number such as 3 or 2.5"
                )
        if stage.next is not None and stage.next not in stage_ids:
            found.append(f"{at}.next = {stage.next!r}: no such stage; stages: {stage_ids}")
        for j, question in enumerate(stage.questions):
            if question.captures is not None and question.captures not in fields:
                found.append(
                    f"{at}.questions[{j}].captures = {question.captures!r}: no stage captures "
                    f"it; fields: {field_keys}"
                )
        if (
            stage.kind == "needs"
            and len(stage.questions) > MAX_QUESTIONS
            and not stage.allow_more_questions
        ):
            found.append(
                f"{at}: {len(stage.questions)} questions, the limit is {MAX_QUESTIONS} "
                "(set allow_more_questions to allow)"
            )

    for place, text in _templates(script):
        found += [f"{place}: {why}" for why in template.problems(text, fields)]

    if script.price_stage is not None and script.price_stage not in stage_ids:
        found.append(f"price_stage = {script.price_stage!r}: no such stage; stages: {stage_ids}")
    if script.contact_field is not None and script.contact_field not in fields:
        found.append(
            f"contact_field = {script.contact_field!r}: no stage captures it; fields: {field_keys}"
        )

    seen = reachable(script)
    for sid in dict.fromkeys(sid for sid in stage_ids if sid not in seen):
        i = stage_ids.index(sid)
        found.append(
            f"{_at(script, i)}: cannot be reached from the first stage "
            f"{stage_ids[0]!r} (lead a branch or next to it, or remove it)"
        )
    return found


def warnings(script: Script) -> list[str]:
    """Soft issues: the script is saved, the admin is told."""
    found: list[str] = []
    kinds = [stage.kind for stage in script.stages]
    ids = [stage.id for stage in script.stages]
    if "close" not in kinds and script.require_next_step:
        found.append("no close stage: the playbook ends every call on an agreed next step")
    if "summary" not in kinds and "needs" in kinds:
        found.append("no summary stage: the caller never confirms what the agent understood")
    if "needs" in kinds and "summary" in kinds and kinds.index("summary") < kinds.index("needs"):
        found.append("the summary stage comes before the needs stage")
    for i, stage in enumerate(script.stages):
        if stage.kind != "needs" or not stage.questions:
            continue
        missing = sorted(set(QUESTION_KINDS) - {q.kind for q in stage.questions})
        if missing:
            found.append(
                f"{_at(script, i)}: no {', '.join(missing)} question; the playbook asks "
                "for all three kinds"
            )
    if script.price_stage is not None and script.price_stage in ids:
        price_at = ids.index(script.price_stage)
        if "needs" in kinds and price_at < kinds.index("needs"):
            found.append(
                f"price_stage {script.price_stage!r} comes before the needs stage: "
                "the price is named at the end of the presentation"
            )
        if script.contact_field is None:
            found.append("price_stage is set but contact_field is not: contacts come first")
        elif script.contact_field in {f.key for _, _, f in _fields(script)}:
            taken_at = min(i for i, _, f in _fields(script) if f.key == script.contact_field)
            if taken_at > price_at:
                found.append(
                    f"contact_field {script.contact_field!r} is captured after the price "
                    f"stage {script.price_stage!r}: take contacts before the price"
                )
    if script.contact_field is not None:
        for _, _, field in _fields(script):
            if field.key == script.contact_field and field.type != "phone":
                found.append(f"contact_field {field.key!r} is of type {field.type!r}, not 'phone'")
                break
    return found


def successors(script: Script, index: int) -> list[str]:
    """Stage ids the stage at `index` can lead to: its branches, then next or the following."""
    stage = script.stages[index]
    out = [branch.to for branch in stage.branches]
    if stage.next is not None:
        out.append(stage.next)
    elif index + 1 < len(script.stages):
        out.append(script.stages[index + 1].id)
    return out


def reachable(script: Script) -> set[str]:
    """Stage ids reachable from the first stage."""
    index: dict[str, int] = {}
    for i, stage in enumerate(script.stages):
        index.setdefault(stage.id, i)
    seen = {script.stages[0].id}
    todo = [0]
    while todo:
        for sid in successors(script, todo.pop()):
            if sid in index and sid not in seen:
                seen.add(sid)
                todo.append(index[sid])
    return seen


def _at(script: Script, index: int) -> str:
    return f"stages[{index}] {script.stages[index].id!r}"


def _fields(script: Script) -> Iterator[tuple[int, int, CaptureField]]:
    for i, stage in enumerate(script.stages):
        for j, field in enumerate(stage.captures):
            yield i, j, field


def _templates(script: Script) -> Iterator[tuple[str, str]]:
    for i, stage in enumerate(script.stages):
        yield from _texts(_at(script, i), stage)
    for i, objection in enumerate(script.objections):
        at = f"objections[{i}] {objection.key!r}"
        yield from ((f"{at}.say[{j}]", text) for j, text in enumerate(objection.say))
        yield from ((f"{at}.hints[{j}]", text) for j, text in enumerate(objection.hints))


def _texts(at: str, stage: Stage) -> Iterator[tuple[str, str]]:
    yield from ((f"{at}.say[{j}]", text) for j, text in enumerate(stage.say))
    yield from ((f"{at}.hints[{j}]", text) for j, text in enumerate(stage.hints))
    yield from ((f"{at}.questions[{j}].text", q.text) for j, q in enumerate(stage.questions))


def _field_problems(at: str, field: CaptureField) -> list[str]:
    found: list[str] = []
    if field.type == "choice" and not field.choices:
        found.append(f"{at} {field.key!r}: a choice field needs choices")
    if field.type != "choice" and field.choices:
        found.append(f"{at} {field.key!r}: choices are for type 'choice', not {field.type!r}")
    if field.type == "choice":
        repeated = sorted(c for c, n in Counter(field.choices).items() if n > 1)
        if repeated:
            found.append(f"{at} {field.key!r}: choices repeated: {repeated}")
    if field.type != "number" and (field.min is not None or field.max is not None):
        found.append(f"{at} {field.key!r}: min and max are for type 'number', not {field.type!r}")
    if field.min is not None and field.max is not None and field.min > field.max:
        found.append(f"{at} {field.key!r}: min {field.min:g} is above max {field.max:g}")
    return found


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _duplicates(what: str, items: Iterable[tuple[str, str]]) -> list[str]:
    places: dict[str, list[str]] = {}
    for place, key in items:
        places.setdefault(key, []).append(place)
    return [
        f"{what} {key!r} is used more than once: {', '.join(where)}"
        for key, where in places.items()
        if len(where) > 1
    ]


def _describe(err: ErrorDetails, raw: object) -> str:
    loc = tuple(err["loc"])
    path = _named_path(loc, raw)
    if err["type"] == "extra_forbidden":
        return f"{path}: unknown field"
    if err["type"] == "missing":
        return f"{path}: required"
    message = str(err.get("ctx", {}).get("error", err["msg"]))
    if err["type"] == "string_pattern_mismatch":
        names = [part for part in loc if isinstance(part, str) and part in _PATTERNS]
        message = _PATTERNS[names[-1]] if names else message
    try:
        shown = repr(err["input"])
    except RecursionError:  # an input nested deeper than Python's stack
        shown = "(nested too deep)"
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{path} = {shown}: {message}" if path else f"{shown}: {message}"


def _named_path(loc: tuple[int | str, ...], raw: object) -> str:
    """field_path, with a stage's id after its index when the input has one."""
    path = field_path(loc)
    if len(loc) >= 2 and loc[0] == "stages" and isinstance(loc[1], int) and isinstance(raw, dict):
        stages = raw.get("stages")
        if isinstance(stages, list) and 0 <= loc[1] < len(stages):
            stage = stages[loc[1]]
            sid = stage.get("id") if isinstance(stage, dict) else None
            if isinstance(sid, str) and len(sid) <= 40:
                head = f"stages[{loc[1]}]"
                path = f"{head} {sid!r}" + path[len(head) :]
    return path
