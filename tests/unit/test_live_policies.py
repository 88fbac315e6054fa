"""Ring policies changed while calls go on: validated, audited, new calls only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from telephony.calls.policies import LivePolicies, PolicyRejected
from telephony.rings.policy import RingPolicies

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def live() -> LivePolicies:
    return LivePolicies(RingPolicies(), default_cadence="tr", clock=lambda: T0)


def test_a_change_applies_to_the_next_plan_and_is_audited() -> None:
    policies = live()
    before = policies.plan_for("100", "+905551112233")
    assert before.max_rings == 3 and before.cadence == "tr"
    change = policies.replace({"default": {"max_rings": 2, "cadence": "us"}}, who="admin1")
    after = policies.plan_for("100", "+905551112233")
    assert (after.max_rings, after.cadence, after.cycle) == (2, "us", timedelta(seconds=6))
    assert before.max_rings == 3  # a plan already handed out is not touched
    assert change.who == "admin1" and change.at == T0
    assert change.old["default"]["max_rings"] == 3 and change.new["default"]["max_rings"] == 2


def test_per_did_policy_and_country_cadence() -> None:
    policies = live()
    policies.replace({"per_did": {"200": {"max_rings": 4}}}, who="a")
    assert policies.plan_for("200", "+4930123456").cadence == "de"  # caller's country
    assert policies.plan_for("200", None).max_rings == 4
    assert policies.plan_for("100", None).max_rings == 3


@pytest.mark.parametrize(
    ("proposed", "field"),
    [
        ({"default": {"max_rings": 0}}, "default.max_rings"),
        ({"default": {"max_rings": -1}}, "default.max_rings"),
        ({"default": {"cadence": "mars"}}, "default.cadence"),
        ({"default": {"min_rings": 5, "max_rings": 3}}, "default.min_rings"),
        ({"default": {"escalation": []}}, "default.escalation"),
        ({"default": {"escalation": [{"kind": "teleport"}]}}, "default.escalation"),
        (
            {"default": {"escalation": [{"kind": "voicemail"}, {"kind": "queue"}]}},
            "default.escalation",
        ),
        (
            {"default": {"escalation": [{"kind": "external", "dial": "PJSIP/a&PJSIP/b"}]}},
            "escalation[0].external.dial",
        ),
        ({"default": {"bogus": 1}}, "default.bogus"),
    ],
)
def test_bad_policies_are_refused_naming_the_field_and_nothing_changes(
    proposed: dict[str, object], field: str
) -> None:
    policies = live()
    with pytest.raises(PolicyRejected) as refused:
        policies.replace(proposed, who="admin1")
    assert field in str(refused.value)
    assert policies.plan_for("100", None).max_rings == 3
