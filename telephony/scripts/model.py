"""A sales script as data: the agent's guide through a call (issue 7).

Frozen pydantic models that refuse unknown fields. This module is the contract the
script pieces share:

- `Script` — one version's body: stages in order, each with the words the agent may say
  (templates such as `{caller.name}` or `{captured.budget}`), hints, the fields it
  captures, its clarifying questions (tagged by kind) and its branches; an objection
  library reachable from any stage; the price and contacts rules.
- `Campaign`, `MatchRule`, `Release` — where a call came from and which script (and
  which weighted variants of it) a call of that kind gets; `MatchSetup` is all of it.
- `CallFacts` — what matching reads about one call; `CallScript` — what it decided,
  carried in the pop and kept with the call so its outcome is attributed to the script
  version and variant.

Checks that need the whole script (references, templates, limits) live in
`telephony.scripts.validate`; rendering in `telephony.scripts.template`; matching and
variant assignment in `telephony.scripts.matching` and `telephony.scripts.variants`.
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

KEY_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
LANGUAGES: Final = ("tr", "en")
MAX_QUESTIONS: Final = 7  # the playbook's limit of clarifying questions in a needs stage
MAX_TEXT: Final = 2000  # one template, hint or label
MAX_STAGES: Final = 40

Key = Annotated[str, Field(pattern=KEY_PATTERN.pattern)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
Language = Literal["tr", "en"]
FieldType = Literal["text", "number", "choice", "datetime", "phone"]
QuestionKind = Literal["technical", "expertise", "motivation"]
StageKind = Literal[
    "greeting",
    "first_question",
    "name",
    "first_answer",
    "needs",
    "summary",
    "presentation",
    "aside",
    "close",
    "other",
]
# The caller's history as matching sees it.
History = Literal["new", "returning", "open_deal", "customer"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CaptureField(_Frozen):
    """A typed answer the agent types in during a stage (saved with the call at once)."""

    key: Key
    label: Text
    type: FieldType = "text"
    required: bool = False
    choices: list[Text] = []  # type "choice" only
    min: float | None = None  # type "number" only
    max: float | None = None


class Question(_Frozen):
    """A clarifying question of the needs stage; its answer may fill a captured field."""

    key: Key
    text: Text  # a template
    kind: QuestionKind
    captures: Key | None = None  # a field key of this script


class Branch(_Frozen):
    """Go to stage `to` when captured field `field` equals `equals` (first match wins)."""

    field: Key
    equals: Text
    to: Key


class Stage(_Frozen):
    id: Key
    kind: StageKind = "other"
    title: Text
    say: list[Text] = []  # templates: the words the agent may use
    hints: list[Text] = []
    captures: list[CaptureField] = []
    questions: list[Question] = []
    allow_more_questions: bool = False  # lifts the limit of MAX_QUESTIONS, explicitly
    branches: list[Branch] = []
    next: Key | None = None  # None: the following stage in order (the last one ends)


class Objection(_Frozen):
    key: Key
    title: Text  # "Too expensive"
    say: list[Text] = []
    hints: list[Text] = []


class PriceRule(_Frozen):
    """When the agent names the price: on the `answer_on_ask`-th direct ask (the
    playbook's default 3), or at once if the caller insists."""

    answer_on_ask: int = Field(default=3, ge=1, le=10)


class Script(_Frozen):
    """One version's body. `key` names the script across its versions."""

    key: Key
    name: Text
    language: Language
    description: str = Field(default="", max_length=MAX_TEXT)
    stages: list[Stage] = Field(min_length=1, max_length=MAX_STAGES)
    objections: list[Objection] = []
    price: PriceRule = PriceRule()
    # The stage where the price is named and the field holding the caller's phone:
    # reaching that stage without that field warns ("contacts before price").
    price_stage: Key | None = None
    contact_field: Key | None = None
    # Close: a next step with date and time, or an explicit "no next step" reason,
    # before the call's outcome can be saved.
    require_next_step: bool = True


class VariantShare(_Frozen):
    """One arm of an A/B split: a published version of the script and its weight."""

    label: Annotated[str, Field(pattern=r"^[A-Z]$")]  # "A", "B", ...
    version: int = Field(ge=1)
    weight: int = Field(ge=0, le=1000)


class Release(_Frozen):
    """What calls get for script `key`: one or more weighted variants."""

    key: Key
    variants: list[VariantShare] = Field(min_length=1, max_length=8)


class Campaign(_Frozen):
    """An inbound flow: the DIDs of one advert or source, and its script."""

    key: Key
    name: Text
    source: str = Field(default="", max_length=200)  # "search ads", "price list"...
    dids: list[Annotated[str, Field(pattern=r"^\+?[0-9]{3,20}$")]] = []
    script: Key | None = None


class MatchWhen(_Frozen):
    """Conditions of a rule; all given ones must hold (none given: always)."""

    did: str | None = None
    campaign: Key | None = None
    ivr_tag: str | None = Field(default=None, max_length=64)
    history: list[History] = []
    language: Language | None = None
    hours: tuple[int, int] | None = None  # [from, to) local hour of the DID's time zone


class MatchRule(_Frozen):
    name: Text
    when: MatchWhen = MatchWhen()
    script: Key


class MatchSetup(_Frozen):
    """Everything matching reads: rules in order, campaigns, the released scripts (with
    the published bodies their variants name), and the fallback script."""

    rules: list[MatchRule] = []
    campaigns: list[Campaign] = []
    releases: dict[str, Release] = {}
    bodies: dict[tuple[str, int], Script] = {}  # (key, version) → body
    default_script: Key | None = None


class CallFacts(_Frozen):
    call_id: str
    did: str = ""
    ivr_tag: str | None = None
    history: History = "new"
    language: Language | None = None
    local_hour: int | None = Field(default=None, ge=0, le=23)


class CallScript(_Frozen):
    """The script a call got and why; stored with the call, carried in its pop."""

    key: Key
    version: int
    variant: str
    name: str
    language: Language
    campaign: Key | None = None
    reason: list[str]  # ["DID 908501234567", "campaign 'Ceilings — search ads'", ...]
    body: Script
