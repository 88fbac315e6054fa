"""The admin-configurable ring policy: how many rings, who rings, what happens after.

Frozen pydantic models that refuse unknown fields. Every refusal names the field
path (`per_did.2000.escalation[1].external.dial`); `describe_errors` turns a
`ValidationError` into one line per problem with the value and what is accepted.
Rings are defined in `telephony.rings.conversions`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from itertools import pairwise
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from telephony.policy.call_state import HoldOnMax
from telephony.rings.cadences import NAME_PATTERN, Cadence, find_cadence, known_cadence_names

MAX_RINGS_LIMIT: Final = 20
DEFAULT_AGENT_RINGS: Final = 3.0

# Where a call can be sent outside the service: a phone number (dialled through the
# carrier trunk, like the IVR's external node), an agent phone or trunk number over
# PJSIP, or a dialplan extension (a ring group) through a Local channel. No ',' '&' or
# spaces: the string must not smuggle Dial() options or extra channels.
PHONE_NUMBER_PATTERN: Final = re.compile(r"^\+?[0-9]{3,15}$")
DIAL_PATTERN: Final = re.compile(
    r"^(?:\+?[0-9]{3,15}"
    r"|PJSIP/[A-Za-z0-9_.+*#-]+(?:@[A-Za-z0-9_.-]+)?"
    r"|Local/[A-Za-z0-9_.+*#-]+@[A-Za-z0-9_.-]+(?:/[nbjm]+)?)$"
)
# A sound without extension, relative to Asterisk's sounds folder: no "..", no "/" first.
SOUND_PATTERN: Final = re.compile(r"^[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*$")
MOH_CLASS_PATTERN: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DID_PATTERN: Final = re.compile(r"^[A-Za-z0-9+*#_.-]{1,64}$")

TERMINAL_KINDS: Final = frozenset({"voicemail", "external", "message"})

_Rings = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_Seconds = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0)]
_Count = Annotated[int, Field(strict=True)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- escalation steps ---------------------------------------------------------


class RingAllStep(_Frozen):
    """Ring every available agent at once."""

    kind: Literal["ring_all"] = "ring_all"


class QueueStep(_Frozen):
    """The system answers (short greeting) and holds the caller with music and announcements."""

    kind: Literal["queue"] = "queue"
    moh_class: str = Field(default="default", pattern=MOH_CLASS_PATTERN.pattern)
    announce_every_s: _Seconds = 30.0


class CallbackOfferStep(_Frozen):
    """Offer a callback (press 1; confirm the Caller ID or key in a number). No key,
    another key, or no usable number: the next step runs."""

    kind: Literal["callback_offer"] = "callback_offer"


class VoicemailStep(_Frozen):
    """The caller leaves a message; it becomes a callback task for the agents."""

    kind: Literal["voicemail"] = "voicemail"


class ExternalStep(_Frozen):
    """Hand the call to an external number or a ring group (dialled and bridged)."""

    kind: Literal["external"] = "external"
    dial: str = Field(pattern=DIAL_PATTERN.pattern, max_length=128)


class MessageStep(_Frozen):
    """Play a message, then hang up."""

    kind: Literal["message"] = "message"
    sound: str = Field(
        default="sorry-youre-having-problems", pattern=SOUND_PATTERN.pattern, max_length=128
    )


EscalationStep = Annotated[
    RingAllStep | QueueStep | CallbackOfferStep | VoicemailStep | ExternalStep | MessageStep,
    Field(discriminator="kind"),
]


# --- hold ---------------------------------------------------------------------------


class HoldPolicy(_Frozen):
    """The hold watchdog: the playbook keeps a hold under 30 seconds."""

    warn_after_s: _Seconds = 30.0  # the agent's screen warns loudly
    max_s: _Seconds = 90.0  # then `on_max`
    on_max: HoldOnMax = "return"
    reassure: bool = Field(default=True, strict=True)  # "thank you for waiting" at the warning
    moh_class: str = Field(default="default", pattern=MOH_CLASS_PATTERN.pattern)

    @field_validator("max_s")
    @classmethod
    def _max_after_warning(cls, value: float, info: ValidationInfo) -> float:
        warn = info.data.get("warn_after_s")
        if warn is not None and value <= warn:
            raise ValueError(f"must be more than warn_after_s ({warn:g})")
        return value


# --- one policy -----------------------------------------------------------------


class RingPolicy(_Frozen):
    """The ring policy of one DID (or the default). Rings may be fractional (2.5)."""

    # None: the caller's country's cadence, else the default (see `choose_cadence`).
    cadence: str | None = Field(default=None, pattern=NAME_PATTERN.pattern)
    max_rings: _Rings = Field(default=3.0, gt=0, le=MAX_RINGS_LIMIT)
    # Rings before the call is put through to an agent (the screen pop is at ring 0).
    min_rings: _Rings = Field(default=0.0, ge=0)
    # Each agent rings at most this many rings before the next is tried. Defaults
    # to 3, or to max_rings when that is smaller.
    agent_rings: _Rings = Field(default=DEFAULT_AGENT_RINGS, gt=0)
    selection: Literal["longest_idle", "round_robin", "ring_all", "sequential"] = "longest_idle"
    escalation: tuple[EscalationStep, ...] = (QueueStep(),)
    max_rings_outbound: _Count = Field(default=5, ge=1, le=MAX_RINGS_LIMIT)
    outbound_retry_after_hours: _Seconds = 48.0
    outbound_max_attempts: _Count = Field(default=3, ge=1, le=10)
    auto_pause_on_miss: bool = Field(default=True, strict=True)
    hold: HoldPolicy = HoldPolicy()

    @model_validator(mode="before")
    @classmethod
    def _agent_rings_default(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "agent_rings" not in data:
            max_rings = data.get("max_rings")
            if (
                isinstance(max_rings, int | float)
                and not isinstance(max_rings, bool)
                and 0 < max_rings < DEFAULT_AGENT_RINGS
            ):
                return {**data, "agent_rings": max_rings}
        return data

    @field_validator("cadence", mode="before")
    @classmethod
    def _lower_cadence(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("min_rings")
    @classmethod
    def _min_below_max(cls, value: float, info: ValidationInfo) -> float:
        max_rings = info.data.get("max_rings")
        if max_rings is not None and value >= max_rings:
            raise ValueError(f"must be less than max_rings ({max_rings:g})")
        return value

    @field_validator("agent_rings")
    @classmethod
    def _agent_within_max(cls, value: float, info: ValidationInfo) -> float:
        max_rings = info.data.get("max_rings")
        if max_rings is not None and value > max_rings:
            raise ValueError(f"must be at most max_rings ({max_rings:g})")
        return value

    @field_validator("escalation")
    @classmethod
    def _steps_reachable(cls, steps: tuple[EscalationStep, ...]) -> tuple[EscalationStep, ...]:
        if not steps:
            raise ValueError('must list at least one step, e.g. [{kind = "queue"}]')
        for number, (before, step) in enumerate(pairwise(steps), start=2):
            if before.kind in TERMINAL_KINDS:
                raise ValueError(
                    f"step {number} ({step.kind}) follows a terminal step "
                    f"({before.kind} at step {number - 1}); nothing runs after "
                    "voicemail, external or message"
                )
        return steps


# --- all policies -----------------------------------------------------------------


class RingPolicies(_Frozen):
    """The default policy, per-DID overrides, and the admins' own cadences."""

    default: RingPolicy = RingPolicy()
    per_did: dict[Annotated[str, Field(pattern=DID_PATTERN.pattern)], RingPolicy] = {}
    # Keyed by name; an entry may leave out "name" (the key is used).
    custom_cadences: dict[str, Cadence] = {}

    @field_validator("custom_cadences", mode="before")
    @classmethod
    def _name_from_key(cls, value: object) -> object:
        if not isinstance(value, Mapping):
            return value
        return {
            key: {**item, "name": key} if isinstance(item, Mapping) and "name" not in item else item
            for key, item in value.items()
        }

    @model_validator(mode="wrap")
    @classmethod
    def _cadences_exist(cls, data: Any, handler: Callable[[Any], RingPolicies]) -> RingPolicies:
        policies = handler(data)
        problems: list[InitErrorDetails] = []
        for key, cadence in policies.custom_cadences.items():
            if cadence.name != key:
                problems.append(
                    _problem(
                        ("custom_cadences", key, "name"),
                        cadence.name,
                        "name_mismatch",
                        f"must be {key!r}, the key it is listed under (or left out)",
                    )
                )
        named: list[tuple[tuple[str, ...], str | None]] = [
            (("default", "cadence"), policies.default.cadence)
        ]
        named += [(("per_did", did, "cadence"), p.cadence) for did, p in policies.per_did.items()]
        for loc, name in named:
            if name is not None and find_cadence(name, policies.custom_cadences) is None:
                accepted = ", ".join(known_cadence_names(policies.custom_cadences))
                problems.append(
                    _problem(loc, name, "unknown_cadence", f"unknown cadence; accepted: {accepted}")
                )
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        return policies

    def for_did(self, did: str) -> RingPolicy:
        """The DID's own policy, else the default."""
        return self.per_did.get(did, self.default)


def _problem(loc: tuple[str, ...], value: str, kind: str, message: str) -> InitErrorDetails:
    # Without a context pydantic formats nothing: braces in the message stay as they are.
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)


# --- messages for people ------------------------------------------------------------

# What is accepted, by the field's own name (the last name in its path).
_ACCEPTED: Final[dict[str, str]] = {
    "cadence": "must be a cadence name (lowercase letters, digits, '-', '_'), or left out",
    "max_rings": f"must be a number of rings > 0 and <= {MAX_RINGS_LIMIT}",
    "min_rings": "must be a number of rings >= 0, less than max_rings",
    "agent_rings": "must be a number of rings > 0, at most max_rings",
    "selection": "must be one of longest_idle, round_robin, ring_all, sequential",
    "escalation": "must be a non-empty list of steps",
    "kind": "must be one of ring_all, queue, callback_offer, voicemail, external, message",
    "moh_class": "must be a music-on-hold class name (letters, digits, '-', '_')",
    "announce_every_s": "must be a number of seconds > 0",
    "dial": "must be a phone number (3-15 digits, '+' first allowed: dialled through "
    "the carrier trunk) or a dial string like PJSIP/agent2001, PJSIP/02121234567@trunk "
    "or Local/2000@agents",
    "sound": "must be a sound name without extension, e.g. sorry-youre-having-problems",
    "max_rings_outbound": f"must be a whole number of rings 1..{MAX_RINGS_LIMIT}",
    "outbound_retry_after_hours": "must be a number of hours > 0",
    "outbound_max_attempts": "must be a whole number 1..10",
    "auto_pause_on_miss": "must be true or false",
    "warn_after_s": "must be a number of seconds > 0",
    "max_s": "must be a number of seconds > 0",
    "on_max": "must be one of return, requeue, callback_offer",
    "reassure": "must be true or false",
    "segments_ms": "must be a list of on/off durations in ms, e.g. [1000, 4000]",
    "name": "must be a lowercase name: letters, digits, '-', '_', up to 32 characters",
    "per_did": "a DID is 1..64 of: digits, letters, + * # _ . -",
    "custom_cadences": "must map cadence names to cadences",
}


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per problem: `field.path = value: what is accepted`."""
    return [_describe(err) for err in exc.errors()]


def _describe(err: ErrorDetails) -> str:
    loc = err["loc"]
    path = field_path(loc)
    if err["type"] == "extra_forbidden":
        return f"{path}: unknown field"
    if err["type"] == "missing":
        return f"{path}: required"
    if err["type"] in ("value_error", "unknown_cadence", "name_mismatch", "union_tag_invalid"):
        accepted = str(err.get("ctx", {}).get("error", err["msg"]))
    elif err["type"] == "union_tag_not_found":
        accepted = "a step needs a kind: " + _ACCEPTED["kind"]
    else:
        names = [part for part in loc if isinstance(part, str) and part != "[key]"]
        if loc and loc[-1] == "[key]":
            names = names[:1]  # a bad key of per_did or custom_cadences
        accepted = _ACCEPTED.get(names[-1] if names else "", err["msg"])
    return f"{path} = {_show(err['input'])}: {accepted}"


def field_path(loc: tuple[int | str, ...]) -> str:
    """("escalation", 1, "external", "dial") -> "escalation[1].external.dial".

    A bad key of a table is shown as `per_did.<key> (the key)`.
    """
    path = ""
    for part in loc:
        if part == "[key]":
            path += " (the key)"
        elif isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
