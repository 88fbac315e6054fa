"""A call flow as data: the short front door of one DID, run by the IVR walker.

Frozen pydantic models that refuse unknown fields. A flow is a table of nodes by id and
the id of the first one. Nodes that wait for the caller (`menu`, `language`,
`callback`) are the only ones a flow may loop through; everything else moves on at
once or after a prompt. Terminal nodes hand the call over: to the agents (the DID's
ring policy), to a callback task, to voicemail, to an external number, or hang up.

Save-time checks that need the whole flow (references, loops, prompt files) live in
`telephony.ivr.validate`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# A sound file without extension, relative to the IVR sounds folder: no "..", no "/" first.
SOUND_PATTERN: Final = re.compile(r"^[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*$")
NODE_ID_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
LANGUAGE_PATTERN: Final = re.compile(r"^[a-z]{2}$")
TAG_PATTERN: Final = re.compile(r"^[A-Za-z0-9_. -]{1,64}$")
NUMBER_PATTERN: Final = re.compile(r"^\+?[0-9]{3,15}$")
KEYS: Final = frozenset("0123456789*#")
MAX_CHOICES: Final = 9
WARN_CHOICES: Final = 3  # the playbook's short IVR: more than this is a warning
MAX_PROMPT_TEXT: Final = 500

_Seconds = Annotated[float, Field(strict=False, allow_inf_nan=False, gt=0, le=60)]
_Retries = Annotated[int, Field(ge=0, le=5)]
_NodeRef = Annotated[str, Field(pattern=NODE_ID_PATTERN.pattern)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Prompt(_Frozen):
    """What the caller hears, per language: a recorded file, else text spoken by TTS.

    A recorded file replaces the text for its language.
    """

    files: dict[str, Annotated[str, Field(pattern=SOUND_PATTERN.pattern, max_length=128)]] = {}
    text: dict[str, Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_TEXT)]] = {}

    @field_validator("files", "text")
    @classmethod
    def _languages(cls, value: dict[str, str]) -> dict[str, str]:
        for language in value:
            if not LANGUAGE_PATTERN.match(language):
                raise ValueError(f"{language!r} is not a language: two lower-case letters (tr, en)")
        return value

    @model_validator(mode="after")
    def _something(self) -> Prompt:
        if not self.files and not self.text:
            raise ValueError("a prompt needs a recorded file or a text, for at least one language")
        return self

    def languages(self) -> set[str]:
        return set(self.files) | set(self.text)


# --- nodes --------------------------------------------------------------------

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: Final[tuple[Weekday, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = Annotated[str, Field(pattern=r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]


class OpenSpan(_Frozen):
    """Open on these weekdays from `start` to `end` (local time of the flow's zone)."""

    days: tuple[Weekday, ...] = Field(min_length=1)
    start: _HHMM
    end: _HHMM

    @model_validator(mode="after")
    def _order(self) -> OpenSpan:
        if self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        return self


class HoursNode(_Frozen):
    """Business hours and holidays in the flow's time zone: open → `open`, else `closed`."""

    kind: Literal["hours"] = "hours"
    open_spans: tuple[OpenSpan, ...] = Field(min_length=1)
    holidays: tuple[date, ...] = ()
    open: _NodeRef
    closed: _NodeRef


class PlayNode(_Frozen):
    kind: Literal["play"] = "play"
    prompt: Prompt
    next: _NodeRef


class Choice(_Frozen):
    next: _NodeRef
    tag: Annotated[str, Field(pattern=TAG_PATTERN.pattern)] | None = None


class MenuNode(_Frozen):
    """A prompt and up to `MAX_CHOICES` keys. No key in `timeout_s`, or a key not in the
    menu, plays `timeout_prompt` / `invalid_prompt` and the menu again, `retries` times;
    then the caller goes to `default`."""

    kind: Literal["menu"] = "menu"
    prompt: Prompt
    choices: dict[str, Choice] = Field(min_length=1)
    timeout_s: _Seconds = 5.0
    retries: _Retries = 2
    invalid_prompt: Prompt | None = None
    timeout_prompt: Prompt | None = None
    default: _NodeRef

    @field_validator("choices")
    @classmethod
    def _keys(cls, value: dict[str, Choice]) -> dict[str, Choice]:
        for key in value:
            if key not in KEYS:
                raise ValueError(f"key {key!r}: a menu key is one of 0-9, * or #")
        if len(value) > MAX_CHOICES:
            raise ValueError(f"{len(value)} choices: at most {MAX_CHOICES} (3 or fewer is best)")
        return value


class LanguageNode(_Frozen):
    """Press a key to choose the language of the prompts, the script and the agent's pop.
    No key (or a wrong one, `retries` times): the flow's default language is kept."""

    kind: Literal["language"] = "language"
    prompt: Prompt
    choices: dict[str, Annotated[str, Field(pattern=LANGUAGE_PATTERN.pattern)]] = Field(
        min_length=1
    )
    timeout_s: _Seconds = 4.0
    retries: _Retries = 1
    next: _NodeRef

    @field_validator("choices")
    @classmethod
    def _keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key not in KEYS:
                raise ValueError(f"key {key!r}: a key is one of 0-9, * or #")
        return value


class TagNode(_Frozen):
    """Attach a tag to the call (the pop and the script matching receive it)."""

    kind: Literal["tag"] = "tag"
    tag: Annotated[str, Field(pattern=TAG_PATTERN.pattern)]
    next: _NodeRef


class AgentsNode(_Frozen):
    """Hand the call to the agents under the DID's ring policy; `group` goes on the call."""

    kind: Literal["agents"] = "agents"
    group: Annotated[str, Field(pattern=TAG_PATTERN.pattern)] = "default"


class CallbackNode(_Frozen):
    """Offer a callback: `confirm_key` confirms the Caller ID, or the caller keys a
    number ending with `#`. A task is created with the confirmed number; `done_prompt`
    thanks the caller, who is then hung up. No valid answer after `retries`: `fallback`."""

    kind: Literal["callback"] = "callback"
    prompt: Prompt  # with a Caller ID: "press 1 for this number, or key another and #"
    keyin_prompt: Prompt  # without one: "key your number and #"
    done_prompt: Prompt | None = None
    invalid_prompt: Prompt | None = None
    confirm_key: Literal["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*"] = "1"
    timeout_s: _Seconds = 8.0
    retries: _Retries = 2
    fallback: _NodeRef | None = None  # None: hang up
    due_in_minutes: Annotated[int, Field(ge=0, le=7 * 24 * 60)] = 15
    # An hours node: the callback is due `due_in_minutes` after it next opens (a caller
    # after hours is not called back at night). None: `due_in_minutes` from now.
    after_opening: _NodeRef | None = None


class VoicemailNode(_Frozen):
    kind: Literal["voicemail"] = "voicemail"
    prompt: Prompt
    max_s: Annotated[int, Field(ge=5, le=300)] = 120


class ExternalNode(_Frozen):
    kind: Literal["external"] = "external"
    number: Annotated[str, Field(pattern=NUMBER_PATTERN.pattern)]


class HangupNode(_Frozen):
    kind: Literal["hangup"] = "hangup"
    prompt: Prompt | None = None


Node = Annotated[
    HoursNode
    | PlayNode
    | MenuNode
    | LanguageNode
    | TagNode
    | AgentsNode
    | CallbackNode
    | VoicemailNode
    | ExternalNode
    | HangupNode,
    Field(discriminator="kind"),
]
WAITING_KINDS: Final = frozenset({"menu", "language", "callback"})
TERMINAL_KINDS: Final = frozenset({"agents", "voicemail", "external", "hangup"})


class Flow(_Frozen):
    """The flow of one DID. `language` is the default; `languages` those it speaks."""

    start: _NodeRef
    time_zone: str = "Europe/Istanbul"
    language: Annotated[str, Field(pattern=LANGUAGE_PATTERN.pattern)] = "tr"
    languages: tuple[Annotated[str, Field(pattern=LANGUAGE_PATTERN.pattern)], ...] = ("tr",)
    max_hops: Annotated[int, Field(ge=2, le=200)] = 30
    nodes: dict[str, Node] = Field(min_length=1)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a time zone: an IANA name like Europe/Istanbul"
            ) from None
        return value

    @field_validator("nodes")
    @classmethod
    def _ids(cls, value: dict[str, Node]) -> dict[str, Node]:
        for node_id in value:
            if not NODE_ID_PATTERN.match(node_id):
                raise ValueError(
                    f"node id {node_id!r}: lower-case letters, digits and _, a letter first"
                )
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


def successors(node: Node) -> list[tuple[str, str]]:
    """(field path within the node, node id) of every node this one can lead to."""
    match node:
        case HoursNode():
            return [("open", node.open), ("closed", node.closed)]
        case PlayNode() | TagNode() | LanguageNode():
            return [("next", node.next)]
        case MenuNode():
            refs = [(f"choices.{key}.next", c.next) for key, c in node.choices.items()]
            return [*refs, ("default", node.default)]
        case CallbackNode():
            return [("fallback", node.fallback)] if node.fallback else []
        case _:
            return []


def prompts(node: Node) -> list[tuple[str, Prompt]]:
    """(field path within the node, prompt) of every prompt a node plays."""
    found: list[tuple[str, Prompt | None]] = []
    match node:
        case PlayNode() | LanguageNode() | VoicemailNode():
            found = [("prompt", node.prompt)]
        case MenuNode():
            found = [
                ("prompt", node.prompt),
                ("invalid_prompt", node.invalid_prompt),
                ("timeout_prompt", node.timeout_prompt),
            ]
        case CallbackNode():
            found = [
                ("prompt", node.prompt),
                ("keyin_prompt", node.keyin_prompt),
                ("done_prompt", node.done_prompt),
                ("invalid_prompt", node.invalid_prompt),
            ]
        case HangupNode():
            found = [("prompt", node.prompt)]
    return [(path, prompt) for path, prompt in found if prompt is not None]
