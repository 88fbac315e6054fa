"""The cadence a call's rings are counted in: the DID's, the caller's country's, or the default."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import phonenumbers

from telephony.rings.cadences import Cadence, cadence_named, find_cadence

# Regions whose ringback Asterisk files under another name. Asterisk calls the
# United Kingdom "uk" (phonenumbers: GB; the Crown Dependencies share +44 and BT's
# tones), and its "us" section is "United States / North America": Canada and the
# US territories ring the same 440+480 Hz 2 s / 4 s.
REGION_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "gb": "uk",
        "gg": "uk",
        "im": "uk",
        "je": "uk",
        "ca": "us",
        "as": "us",
        "gu": "us",
        "mp": "us",
        "pr": "us",
        "vi": "us",
    }
)

# Longer than any E.164 number (15 digits and '+'); Caller ID is untrusted.
_MAX_NUMBER_LENGTH: Final = 32


def choose_cadence(
    *,
    did: str,
    caller_e164: str | None,
    per_did: Mapping[str, str],
    default: str,
    custom: Mapping[str, Cadence],
) -> Cadence:
    """The DID's cadence if configured, else the caller's country's (if known), else `default`.

    Raises `UnknownCadence` only for a configured name (per_did or default) that does
    not exist; a caller's country without a cadence silently falls to the default.
    """
    configured = per_did.get(did)
    if configured is not None:
        return cadence_named(configured, custom)
    by_country = _country_cadence(caller_e164, custom)
    if by_country is not None:
        return by_country
    return cadence_named(default, custom)


def region_of(caller_e164: str | None) -> str | None:
    """The lower-cased phonenumbers region ("de", "tr", "gb") of an E.164 number, if any."""
    if not caller_e164 or len(caller_e164) > _MAX_NUMBER_LENGTH:
        return None
    try:
        parsed = phonenumbers.parse(caller_e164, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    # None for an unknown number, "001" for non-geographic ones (+800, +882...).
    if region is None or not region.isalpha():
        return None
    return region.lower()


def _country_cadence(caller_e164: str | None, custom: Mapping[str, Cadence]) -> Cadence | None:
    region = region_of(caller_e164)
    if region is None:
        return None
    found = find_cadence(region, custom)
    if found is None and region in REGION_ALIASES:
        found = find_cadence(REGION_ALIASES[region], custom)
    return found
