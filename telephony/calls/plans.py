"""A new call's ring plan, from the admins' ring policies and the caller's country."""

from __future__ import annotations

from datetime import timedelta

from telephony.policy.call_state import HoldPlan
from telephony.policy.inbound import Escalation, RingPlan
from telephony.rings.cadences import cadence_named
from telephony.rings.choice import choose_cadence
from telephony.rings.policy import EscalationStep, RingPolicies

# Escalation steps the call core carries out today; the others need the IVR, callback
# and voicemail pieces and are refused at start-up until those land.
SUPPORTED_STEPS = ("ring_all", "queue", "message")


def unsupported_steps(policies: RingPolicies) -> list[str]:
    """`rings.<where>.escalation[i].kind = '<kind>'` for each step we cannot carry out."""
    problems = []
    named = {
        "default": policies.default,
        **{f"per_did.{d}": p for d, p in policies.per_did.items()},
    }
    for where, policy in named.items():
        for i, step in enumerate(policy.escalation):
            if step.kind not in SUPPORTED_STEPS:
                problems.append(
                    f"rings.{where}.escalation[{i}].kind = {step.kind!r}: not available yet; "
                    f"accepted: {', '.join(SUPPORTED_STEPS)}"
                )
    return problems


def plan_for(
    policies: RingPolicies, did: str, caller_e164: str | None, default_cadence: str
) -> RingPlan:
    policy = policies.for_did(did)
    custom = policies.custom_cadences
    if policy.cadence is not None:
        cadence = cadence_named(policy.cadence, custom)
    else:
        cadence = choose_cadence(
            did=did, caller_e164=caller_e164, per_did={}, default=default_cadence, custom=custom
        )
    return RingPlan(
        cadence=cadence.name,
        cycle=cadence.cycle,
        max_rings=policy.max_rings,
        min_rings=policy.min_rings,
        agent_rings=policy.agent_rings,
        selection=policy.selection,
        auto_pause_on_miss=policy.auto_pause_on_miss,
        escalation=tuple(_step(s) for s in policy.escalation if s.kind in SUPPORTED_STEPS),
        hold=HoldPlan(
            warn_after=timedelta(seconds=policy.hold.warn_after_s),
            max=timedelta(seconds=policy.hold.max_s),
            on_max=policy.hold.on_max,
            reassure=policy.hold.reassure,
            moh_class=policy.hold.moh_class,
        ),
    )


def _step(step: EscalationStep) -> Escalation:
    if step.kind == "queue":
        return Escalation(
            "queue",
            moh_class=step.moh_class,
            announce_every=timedelta(seconds=step.announce_every_s),
        )
    return Escalation(step.kind)  # type: ignore[arg-type]  # filtered to SUPPORTED_STEPS
