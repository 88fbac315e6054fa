"""The screen pop's content, composed from the call's snapshot and the caller's context.

Pure: no I/O, no clock (`now` is a parameter). Caller text stays text: it is cleaned
of control and bidi-override characters and capped, and the browser renders it with
`textContent` only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import phonenumbers

from telephony.numbers import clean_caller_name
from telephony.store.history import CallerContext, PastCall

PENDING_OUTCOMES = ("offer_made", "pending_purchase")
MAX_NOTE = 2000  # characters of a past call's notes shown in the pop


def format_number(e164: str | None) -> str:
    """ "+90 532 111 22 33" for people; "" for an anonymous caller."""
    if not e164:
        return ""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def rings_left(call: dict[str, Any], now: datetime) -> float | None:
    """Rings the caller may still hear before the deadline (max_rings); None if unknown."""
    since, cycle_ms, max_rings = (
        call.get("ringing_since"),
        call.get("cycle_ms"),
        call.get("max_rings"),
    )
    if not since or not cycle_ms or max_rings is None:
        return None
    elapsed_ms = (now - datetime.fromisoformat(since)).total_seconds() * 1000
    return round(max(float(max_rings) - elapsed_ms / float(cycle_ms), 0.0), 2)


def recording_url(call_id: str) -> str:
    return f"/api/recordings/{call_id}"


def past_call_json(past: PastCall) -> dict[str, Any]:
    talk = None
    if past.answered_at is not None and past.ended_at is not None:
        talk = round(max((past.ended_at - past.answered_at).total_seconds(), 0.0), 1)
    return {
        "call_id": past.call_id,
        "at": past.arrived_at.isoformat(),
        "did": past.did,
        "agent_id": past.agent_id,
        "agent_name": past.agent_name,
        "duration_s": talk,
        "call_outcome": past.call_outcome,
        "outcome": past.outcome,
        "lost_reason": past.lost_reason,
        "notes": past.notes[:MAX_NOTE],
        "needs": past.needs[:MAX_NOTE],
        "next_step": past.next_step,
        "next_step_at": past.next_step_at.isoformat() if past.next_step_at else None,
        "recording_url": recording_url(past.call_id) if past.has_recording else None,
    }


def compose_pop(
    call: dict[str, Any],
    context: CallerContext | None,
    *,
    now: datetime,
    script: dict[str, Any] | None = None,
    source: str | None = None,
    crm: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One pop for every agent offered `call` (a CallSession snapshot). `context` None:
    the history lookup has not answered yet (`history_ready` false; an update follows).
    `script`: the call's matched script as JSON (a `CallScript`: key, version, variant,
    name, language, campaign, reason, body), None when none matched; `source`: the name
    of the campaign behind the DID, when known (else the DID stands for it); `crm`: the
    external CRM's fields once they came (cleaned text; None before or without one)."""
    caller_id_name = clean_caller_name(call.get("caller_name"))
    contact_name = clean_caller_name(context.contact_name) if context else ""
    number = call.get("caller_number")
    last_calls = [past_call_json(p) for p in context.last_calls] if context else []
    return {
        "call_id": call["id"],
        "did": call.get("did") or "",
        "source": source or call.get("did") or "",
        "caller": {
            "number": number,
            "display_number": format_number(number),
            "anonymous": not number,
            "name": contact_name or caller_id_name,
            "name_from": "contact" if contact_name else ("caller_id" if caller_id_name else None),
            "caller_id_name": caller_id_name,
            "returning": bool(context and context.returning),
            "calls_before": len(last_calls),
            "needs": context.needs if context else "",
        },
        "history_ready": context is not None,
        "last_calls": last_calls,
        "pending_deals": [c for c in last_calls if c["outcome"] in PENDING_OUTCOMES],
        "callbacks": [
            {
                "id": cb.id,
                "due_at": cb.due_at.isoformat(),
                "status": cb.status,
                "agent_id": cb.agent_id,
                "attempts": cb.attempts,
            }
            for cb in (context.callbacks if context else [])
        ],
        "script": script,
        "crm": crm,
        "ring": {
            "ringing_since": call.get("ringing_since"),
            "cycle_ms": call.get("cycle_ms"),
            "max_rings": call.get("max_rings"),
            "rings_left": rings_left(call, now),
        },
        "now": now.isoformat(),
    }
