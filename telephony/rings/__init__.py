"""Rings as a unit: cadences, rings <-> time, the cadence of a call, the ring policy.

Pure code: no I/O, no asyncio, no logging, no clock.
"""

from telephony.rings.cadences import (
    ASTERISK_CADENCES,
    CUSTOM_DEFAULTS,
    Cadence,
    UnknownCadence,
    cadence_named,
    find_cadence,
    known_cadence_names,
)
from telephony.rings.choice import choose_cadence, region_of
from telephony.rings.conversions import deadline, ring_at, ring_label, ring_start, rings_heard
from telephony.rings.policy import (
    CallbackOfferStep,
    EscalationStep,
    ExternalStep,
    MessageStep,
    QueueStep,
    RingAllStep,
    RingPolicies,
    RingPolicy,
    VoicemailStep,
    describe_errors,
)

__all__ = [
    "ASTERISK_CADENCES",
    "CUSTOM_DEFAULTS",
    "Cadence",
    "CallbackOfferStep",
    "EscalationStep",
    "ExternalStep",
    "MessageStep",
    "QueueStep",
    "RingAllStep",
    "RingPolicies",
    "RingPolicy",
    "UnknownCadence",
    "VoicemailStep",
    "cadence_named",
    "choose_cadence",
    "deadline",
    "describe_errors",
    "find_cadence",
    "known_cadence_names",
    "region_of",
    "ring_at",
    "ring_label",
    "ring_start",
    "rings_heard",
]
