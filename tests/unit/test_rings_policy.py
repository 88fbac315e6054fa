"""The admin ring policy: defaults, and every bad value refused naming its field."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from telephony.rings.cadences import Cadence
from telephony.rings.policy import (
    CallbackOfferStep,
    ExternalStep,
    MessageStep,
    QueueStep,
    RingAllStep,
    RingPolicies,
    RingPolicy,
    VoicemailStep,
    describe_errors,
    field_path,
)


def refusal(model: type[RingPolicy] | type[RingPolicies], data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return describe_errors(info.value)


def test_defaults() -> None:
    policy = RingPolicy()
    assert policy.cadence is None
    assert policy.max_rings == 3
    assert policy.min_rings == 0
    assert policy.agent_rings == 3
    assert policy.selection == "longest_idle"
    assert policy.escalation == (QueueStep(),)
    assert policy.escalation[0] == QueueStep(moh_class="default", announce_every_s=30)
    assert policy.max_rings_outbound == 5
    assert policy.outbound_retry_after_hours == 48
    assert policy.outbound_max_attempts == 3
    assert policy.auto_pause_on_miss is True


def test_a_full_policy_from_json() -> None:
    policy = RingPolicy.model_validate_json(
        """{"cadence": "de", "max_rings": 2.5, "min_rings": 1, "agent_rings": 1.5,
        "selection": "sequential", "max_rings_outbound": 4, "outbound_retry_after_hours": 24,
        "outbound_max_attempts": 5, "auto_pause_on_miss": false,
        "escalation": [{"kind": "ring_all"}, {"kind": "queue", "moh_class": "sales",
        "announce_every_s": 20}, {"kind": "callback_offer"},
        {"kind": "external", "dial": "Local/2000@agents"}]}"""
    )
    assert policy.max_rings == 2.5
    assert policy.escalation == (
        RingAllStep(),
        QueueStep(moh_class="sales", announce_every_s=20),
        CallbackOfferStep(),
        ExternalStep(dial="Local/2000@agents"),
    )
    assert RingPolicy.model_validate_json(policy.model_dump_json()) == policy


def test_a_policy_is_frozen() -> None:
    with pytest.raises(ValidationError):
        RingPolicy().max_rings = 5  # type: ignore[misc]


def test_agent_rings_default_follows_a_smaller_max_rings() -> None:
    assert RingPolicy(max_rings=2).agent_rings == 2
    assert RingPolicy(max_rings=0.5).agent_rings == 0.5
    assert RingPolicy(max_rings=6).agent_rings == 3
    assert RingPolicy(max_rings=6, agent_rings=6).agent_rings == 6


def test_the_cadence_name_is_lower_cased() -> None:
    assert RingPolicy(cadence=" US ").cadence == "us"


# Each bad value, the field path named, and a fragment of what is said.
BAD_POLICIES: list[tuple[dict[str, Any], str, str]] = [
    ({"max_rings": 0}, "max_rings = 0", "> 0 and <= 20"),
    ({"max_rings": -1}, "max_rings = -1", "> 0 and <= 20"),
    ({"max_rings": 21}, "max_rings = 21", "> 0 and <= 20"),
    ({"max_rings": math.nan}, "max_rings = nan", "> 0 and <= 20"),
    ({"max_rings": math.inf}, "max_rings = inf", "> 0 and <= 20"),
    ({"max_rings": True}, "max_rings = True", "number of rings"),
    ({"max_rings": "3"}, "max_rings = '3'", "number of rings"),
    ({"min_rings": -1}, "min_rings = -1", ">= 0"),
    ({"min_rings": 3}, "min_rings = 3", "less than max_rings (3)"),
    ({"max_rings": 2, "min_rings": 2.5}, "min_rings = 2.5", "less than max_rings (2)"),
    ({"agent_rings": 0}, "agent_rings = 0", "> 0"),
    ({"agent_rings": -2}, "agent_rings = -2", "> 0"),
    ({"agent_rings": 4}, "agent_rings = 4", "at most max_rings (3)"),
    ({"max_rings": 2, "agent_rings": 3}, "agent_rings = 3", "at most max_rings (2)"),
    ({"selection": "random"}, "selection = 'random'", "longest_idle, round_robin"),
    ({"max_rings_outbound": 0}, "max_rings_outbound = 0", "1..20"),
    ({"max_rings_outbound": 21}, "max_rings_outbound = 21", "1..20"),
    ({"max_rings_outbound": 2.5}, "max_rings_outbound = 2.5", "1..20"),
    ({"outbound_retry_after_hours": 0}, "outbound_retry_after_hours = 0", "hours > 0"),
    ({"outbound_retry_after_hours": -48}, "outbound_retry_after_hours = -48", "hours > 0"),
    ({"outbound_max_attempts": 0}, "outbound_max_attempts = 0", "1..10"),
    ({"outbound_max_attempts": 11}, "outbound_max_attempts = 11", "1..10"),
    ({"auto_pause_on_miss": "yes"}, "auto_pause_on_miss = 'yes'", "true or false"),
    ({"cadence": "no such"}, "cadence = 'no such'", "cadence name"),
    ({"max_ring": 3}, "max_ring", "unknown field"),
    ({"escalation": []}, "escalation = []", "at least one step"),
    ({"escalation": [{"kind": "pray"}]}, "escalation[0] = ", "'pray'"),
    ({"escalation": [{"moh_class": "x"}]}, "escalation[0] = ", "a step needs a kind"),
    (
        {"escalation": [{"kind": "queue", "announce_every_s": 0}]},
        "escalation[0].queue.announce_every_s = 0",
        "seconds > 0",
    ),
    (
        {"escalation": [{"kind": "queue", "moh_class": "a b"}]},
        "escalation[0].queue.moh_class = 'a b'",
        "music-on-hold class",
    ),
    (
        {"escalation": [{"kind": "queue", "volume": 3}]},
        "escalation[0].queue.volume",
        "unknown field",
    ),
    ({"escalation": [{"kind": "external"}]}, "escalation[0].external.dial", "required"),
    (
        {"escalation": [{"kind": "message", "sound": "../../etc/passwd"}]},
        "escalation[0].message.sound = '../../etc/passwd'",
        "sound name",
    ),
    (
        {"escalation": [{"kind": "ring_all", "agents": 3}]},
        "escalation[0].ring_all.agents",
        "unknown field",
    ),
    ({"hold": {"on_max": "callback"}}, "hold.on_max = 'callback'", "callback_offer"),
    ({"hold": {"max_s": -1}}, "hold.max_s = -1", "seconds > 0"),
]


@pytest.mark.parametrize(("data", "named", "said"), BAD_POLICIES)
def test_bad_values_are_refused_naming_the_field(
    data: dict[str, Any], named: str, said: str
) -> None:
    lines = refusal(RingPolicy, data)
    assert len(lines) == 1, lines
    assert lines[0].startswith(named), lines
    assert said in lines[0], lines


@pytest.mark.parametrize("terminal", ["voicemail", "external", "message"])
def test_no_step_after_a_terminal_step(terminal: str) -> None:
    step: dict[str, Any] = {"kind": terminal}
    if terminal == "external":
        step["dial"] = "PJSIP/0212@trunk"
    lines = refusal(RingPolicy, {"escalation": [{"kind": "ring_all"}, step, {"kind": "queue"}]})
    assert len(lines) == 1
    assert lines[0].startswith("escalation = ")
    assert f"step 3 (queue) follows a terminal step ({terminal} at step 2)" in lines[0]


def test_step_2_after_a_terminal_first_step() -> None:
    lines = refusal(RingPolicy, {"escalation": [{"kind": "voicemail"}, {"kind": "message"}]})
    assert "step 2 (message) follows a terminal step (voicemail at step 1)" in lines[0]


def test_a_terminal_step_may_end_the_list() -> None:
    policy = RingPolicy.model_validate(
        {
            "escalation": [
                {"kind": "ring_all"},
                {"kind": "queue"},
                {"kind": "callback_offer"},
                {"kind": "queue"},
                {"kind": "voicemail"},
            ]
        }
    )
    assert policy.escalation[-1] == VoicemailStep()
    assert RingPolicy(escalation=(MessageStep(),)).escalation[0].kind == "message"


@pytest.mark.parametrize(
    "dial",
    [
        "PJSIP/agent2001",
        "PJSIP/+902121234567@trunk",
        "PJSIP/02121234567@carrier-1",
        "Local/2000@agents",
        "Local/sales@ring-group/n",
        "+905321110000",  # a number: through the carrier trunk, like the IVR's
        "05321110000",
        "112",
    ],
)
def test_good_dial_strings(dial: str) -> None:
    assert ExternalStep(dial=dial).dial == dial


@pytest.mark.parametrize(
    "dial",
    [
        "",
        "agent2001",
        "SIP/agent2001",
        "pjsip/agent2001",
        "PJSIP/",
        "PJSIP/agent 2001",
        "PJSIP/a,30,tT",
        "PJSIP/a&PJSIP/b",
        "Local/2000",
        "Local/2000@",
        "Local/2000@ctx/x",
        "PJSIP/a\n",
        "PJSIP/" + "a" * 200,
        # Not a number either: too short, too long, spaces, a second '+', letters.
        "12",
        "+9053211100001234",
        "+90 532 111 00 00",
        "++905321110000",
        "0532111000O",
        "905321110000;hangup",
    ],
)
def test_bad_dial_strings(dial: str) -> None:
    lines = refusal(RingPolicy, {"escalation": [{"kind": "external", "dial": dial}]})
    assert lines[0].startswith("escalation[0].external.dial = ")
    assert "must be a phone number (3-15 digits" in lines[0]
    assert "or a dial string like PJSIP/agent2001" in lines[0]


def test_every_problem_is_reported() -> None:
    lines = refusal(RingPolicy, {"max_rings_outbound": 0, "outbound_max_attempts": 0, "x": 1})
    assert [line.split(" ")[0].rstrip(":") for line in lines] == [
        "max_rings_outbound",
        "outbound_max_attempts",
        "x",
    ]


# --- all policies ---------------------------------------------------------------------


def test_for_did() -> None:
    sales = RingPolicy(max_rings=2)
    policies = RingPolicies(default=RingPolicy(), per_did={"+902121234567": sales})
    assert policies.for_did("+902121234567") is sales
    assert policies.for_did("2000") is policies.default
    assert RingPolicies().default == RingPolicy()


def test_named_cadences_may_be_asterisks_defaults_or_custom() -> None:
    policies = RingPolicies.model_validate(
        {
            "default": {"cadence": "tr"},
            "per_did": {"2000": {"cadence": "UK"}, "3000": {"cadence": "office"}},
            "custom_cadences": {"office": {"segments_ms": [500, 1500]}},
        }
    )
    assert policies.per_did["2000"].cadence == "uk"
    assert policies.custom_cadences["office"] == Cadence.uniform("office", 500, 1500)


def test_an_unknown_cadence_is_refused_naming_the_path_and_the_accepted_names() -> None:
    lines = refusal(
        RingPolicies,
        {
            "default": {"cadence": "xx"},
            "per_did": {"2000": {"cadence": "de"}, "3000": {"cadence": "office"}},
        },
    )
    assert len(lines) == 2
    assert lines[0].startswith("default.cadence = 'xx': unknown cadence; accepted: at, au, be")
    assert lines[1].startswith("per_did.3000.cadence = 'office': unknown cadence; accepted: ")
    for name in ("us", "us-old", "uk", "tr", "za"):
        assert f" {name}," in lines[1] or lines[1].endswith(f" {name}")


def test_a_custom_cadence_listed_under_another_name_is_refused() -> None:
    lines = refusal(
        RingPolicies,
        {"custom_cadences": {"office": {"name": "shop", "segments_ms": [500, 1500]}}},
    )
    assert lines == [
        "custom_cadences.office.name = 'shop': must be 'office', the key it is listed under "
        "(or left out)"
    ]


def test_a_bad_custom_cadence_is_refused_naming_its_path() -> None:
    lines = refusal(RingPolicies, {"custom_cadences": {"office": {"segments_ms": [500]}}})
    assert lines[0].startswith("custom_cadences.office.segments_ms = [500]: must be an even")
    lines = refusal(RingPolicies, {"custom_cadences": {"Office": {"segments_ms": [1, 1]}}})
    assert lines[0].startswith("custom_cadences.Office.name = 'Office': must be a lowercase")


def test_a_bad_policy_for_a_did_is_refused_naming_the_did() -> None:
    lines = refusal(RingPolicies, {"per_did": {"2000": {"max_rings": 0}}})
    assert lines == ["per_did.2000.max_rings = 0: must be a number of rings > 0 and <= 20"]


def test_a_bad_did_is_refused() -> None:
    lines = refusal(RingPolicies, {"per_did": {"20 00": {}}})
    assert lines[0].startswith("per_did.20 00 (the key) = '20 00': a DID is 1..64 of")


def test_unknown_fields_of_policies_are_refused() -> None:
    assert refusal(RingPolicies, {"defaults": {}}) == ["defaults: unknown field"]


def test_field_path() -> None:
    assert field_path(("escalation", 1, "external", "dial")) == "escalation[1].external.dial"
    assert field_path(("per_did", "2000", "[key]")) == "per_did.2000 (the key)"
    assert field_path(()) == ""


def test_braces_in_a_key_are_shown_as_given() -> None:
    lines = refusal(
        RingPolicies, {"custom_cadences": {"a{x}": {"name": "b", "segments_ms": [1, 2]}}}
    )
    assert lines == [
        "custom_cadences.a{x}.name = 'b': must be 'a{x}', the key it is listed under (or left out)"
    ]


def test_each_hold_limit_action_is_accepted() -> None:
    for action in ("return", "requeue", "callback_offer"):
        assert RingPolicy.model_validate({"hold": {"on_max": action}}).hold.on_max == action
