"""A new call's ring plan, from the admins' ring policies and the caller's country."""

from __future__ import annotations

from datetime import timedelta

from telephony.policy.call_state import HoldPlan
from telephony.policy.inbound import Escalation, RingPlan
from telephony.rings.cadences import cadence_named
from telephony.rings.choice import choose_cadence
from telephony.rings.policy import EscalationStep, RingPolicies

# Escalation steps the call core carries out: ring_all, queue and message itself, the
# others through the IVR's nodes (`RunIvrStep`). A kind the policy model learns before
# the call core does is refused at start-up and by the admin API.
SUPPORTED_STEPS = ("ring_all", "queue", "message", "callback_offer", "voicemail", "external")


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
    if step.kind == "external":
        return Escalation("external", dial=step.dial)
    return Escalation(step.kind)
