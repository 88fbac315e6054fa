"""What script matching reads about a call, from what the pop already has.

Pure: no I/O, no clock (`now` is a parameter). `call_facts` turns a CallSession
snapshot, the caller's context (None: the history lookup has not answered yet) and the
DID's time zone into `CallFacts`:

- `did`: the number dialled; `ivr_tag`: the tag of the caller's last IVR choice
  (snapshot `tag`); `language`: the language the IVR spoke to the caller (snapshot
  `ivr.language`, the caller's choice when the flow asked), else unknown.
- `history`, from the caller's last calls (newest first, as the pop shows them):
  `open_deal` when a pending deal (offer made / pending purchase) is newer than any sale
  — the deal is what this call is about; else `customer` after a sale; else `returning`
  with any earlier call; else `new`. No context yet counts as `new` (the script picked
  then is provisional: see telephony.push.call_scripts).
- `local_hour`: the hour at the DID's time zone (None: zone unknown).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_zones

from telephony.scripts.model import CallFacts, History, Language
from telephony.store.history import CallerContext

PENDING = frozenset({"offer_made", "pending_purchase"})
SALE = "sale"
LANGUAGES: frozenset[str] = frozenset(get_args(Language))


def caller_history(context: CallerContext | None) -> History:
    if context is None or not context.last_calls:
        return "new"
    sold = False
    for past in context.last_calls:  # newest first
        if past.outcome in PENDING and not sold:
            return "open_deal"
        if past.outcome == SALE:
            sold = True
    return "customer" if sold else "returning"


def ivr_language(call: dict[str, Any]) -> Language | None:
    ivr = call.get("ivr")
    language = ivr.get("language") if isinstance(ivr, dict) else None
    if language in LANGUAGES:
        lang: Language = language
        return lang
    return None


def ivr_tag(call: dict[str, Any]) -> str | None:
    tag = call.get("tag")
    return tag[:64] if isinstance(tag, str) and tag else None


def local_hour(now: datetime, zone: tzinfo | None) -> int | None:
    return now.astimezone(zone).hour if zone is not None else None


def call_facts(
    call: dict[str, Any], context: CallerContext | None, *, now: datetime, zone: tzinfo | None
) -> CallFacts:
    return CallFacts(
        call_id=str(call["id"]),
        did=str(call.get("did") or ""),
        ivr_tag=ivr_tag(call),
        history=caller_history(context),
        language=ivr_language(call),
        local_hour=local_hour(now, zone),
    )


def number_zone(did: str, region: str) -> tzinfo | None:
    """The time zone of a dialled number when its numbering plan names exactly one
    (Turkey's +90 does); None otherwise. `908502220001` is read as +90 850 ..."""
    international = did.isdigit() and len(did) > 10 and not did.startswith("0")
    try:
        parsed = phonenumbers.parse(f"+{did}" if international else did, region)
    except phonenumbers.NumberParseException:
        return None
    zones = [z for z in number_zones.time_zones_for_number(parsed) if z != "Etc/Unknown"]
    if len(zones) != 1:
        return None
    try:
        return ZoneInfo(zones[0])
    except (ZoneInfoNotFoundError, ValueError):
        return None
