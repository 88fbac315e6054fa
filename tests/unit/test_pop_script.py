"""What script matching reads about a call (pure), and the pop carrying the choice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from telephony.push.pop import compose_pop
from telephony.push.script_facts import (
    call_facts,
    caller_history,
    ivr_language,
    local_hour,
    number_zone,
)
from telephony.scripts.library import default_library
from telephony.scripts.matching import choose
from telephony.scripts.model import Campaign, MatchRule, MatchSetup, Release
from telephony.store.history import CallerContext, PastCall

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ISTANBUL = ZoneInfo("Europe/Istanbul")
DID = "908502220001"


def past(call_id: str, outcome: str | None, days_ago: int) -> PastCall:
    at = T0 - timedelta(days=days_ago)
    return PastCall(
        call_id=call_id,
        arrived_at=at,
        did=DID,
        agent_id="bob",
        agent_name="Bob",
        answered_at=at,
        ended_at=at + timedelta(minutes=2),
        call_outcome="answered",
        outcome=outcome,
        lost_reason=None,
        notes="",
        needs="",
        next_step="",
        next_step_at=None,
        has_recording=False,
    )


def context(*outcomes: str | None) -> CallerContext:
    """Past calls newest first, as the history lookup returns them."""
    return CallerContext(
        "+905321112233",
        last_calls=[past(f"p{i}", o, i + 1) for i, o in enumerate(outcomes)],
    )


def snapshot(**extra: Any) -> dict[str, Any]:
    return {"id": "c1", "did": DID, "caller_number": "+905321112233", **extra}


@pytest.mark.parametrize(
    ("outcomes", "history"),
    [
        ((), "new"),
        ((None,), "returning"),
        (("lost",), "returning"),
        (("offer_made",), "open_deal"),
        ((None, "pending_purchase"), "open_deal"),
        (("sale",), "customer"),
        (("sale", "offer_made"), "customer"),  # the deal was closed by the later sale
        (("offer_made", "sale"), "open_deal"),  # a customer with a new deal open
        (("lost", None, "sale"), "customer"),
    ],
)
def test_caller_history_from_the_last_calls(outcomes: tuple[str | None, ...], history: str) -> None:
    assert caller_history(context(*outcomes)) == history


def test_no_history_yet_counts_as_new() -> None:
    assert caller_history(None) == "new"
    assert caller_history(CallerContext(None)) == "new"


def test_ivr_language_and_tag() -> None:
    assert ivr_language(snapshot()) is None
    assert ivr_language(snapshot(ivr={"language": "en"})) == "en"
    assert ivr_language(snapshot(ivr={"language": "de"})) is None  # no script speaks it
    assert ivr_language(snapshot(ivr="garbage")) is None
    facts = call_facts(
        snapshot(tag="sales", ivr={"language": "en", "tag": "sales"}),
        context("offer_made"),
        now=T0,
        zone=ISTANBUL,
    )
    assert facts.model_dump() == {
        "call_id": "c1",
        "did": DID,
        "ivr_tag": "sales",
        "history": "open_deal",
        "language": "en",
        "local_hour": 12,  # 09:00 UTC is noon in Istanbul
    }
    long_tag = call_facts(snapshot(tag="x" * 500), None, now=T0, zone=None)
    assert long_tag.ivr_tag == "x" * 64 and long_tag.local_hour is None
    assert call_facts(snapshot(tag=""), None, now=T0, zone=None).ivr_tag is None


def test_local_hour_and_the_zone_of_a_did() -> None:
    assert local_hour(T0, ISTANBUL) == 12
    assert local_hour(T0.replace(hour=22), ISTANBUL) == 1  # past midnight there
    assert local_hour(T0, None) is None
    assert number_zone(DID, "TR") == ISTANBUL
    assert number_zone("+908502220001", "TR") == ISTANBUL
    assert number_zone("02121234567", "TR") == ISTANBUL  # national form
    assert number_zone("+12125550123", "TR") == ZoneInfo("America/New_York")
    assert number_zone("not a number", "TR") is None
    assert number_zone("", "TR") is None


def library_setup() -> MatchSetup:
    """The shipped library, every script released as variant A, a campaign for the
    DID, and an open-deal rule: the demo's shape, in memory."""
    library = default_library()
    keys = {s.key for s in library}
    sale = next(k for k in sorted(keys) if "inbound_sale" in k and k.endswith("tr"))
    follow = next(k for k in sorted(keys) if "meeting" in k and k.endswith("tr"))
    return MatchSetup(
        rules=[
            MatchRule.model_validate(
                {
                    "name": "Open deal on the ceilings line",
                    "when": {"did": DID, "history": ["open_deal"]},
                    "script": follow,
                }
            )
        ],
        campaigns=[Campaign(key="ceilings", name="Ceilings — search ads", dids=[DID], script=sale)],
        releases={
            s.key: Release.model_validate(
                {"key": s.key, "variants": [{"label": "A", "version": 1, "weight": 1}]}
            )
            for s in library
        },
        bodies={(s.key, 1): s for s in library},
        default_script=sale,
    )


def test_facts_choose_the_script_and_the_pop_carries_it_as_json() -> None:
    setup = library_setup()
    new = choose(setup, call_facts(snapshot(), context(), now=T0, zone=ISTANBUL))
    deal = choose(setup, call_facts(snapshot(), context("offer_made"), now=T0, zone=ISTANBUL))
    assert new is not None and deal is not None
    assert "inbound_sale" in new.key and "meeting" in deal.key
    assert deal.reason[:3] == [
        f"DID {DID}",
        "campaign 'Ceilings — search ads'",
        "rule 'Open deal on the ceilings line'",
    ]
    pop = compose_pop(
        snapshot(caller_name="Ali"),
        context("offer_made"),
        now=T0,
        script=deal.model_dump(mode="json"),
        source="Ceilings — search ads",
    )
    assert pop["source"] == "Ceilings — search ads"
    assert pop["script"]["key"] == deal.key and pop["script"]["reason"] == deal.reason
    assert {"key", "version", "variant", "name", "language", "campaign", "reason", "body"} <= set(
        pop["script"]
    )
    json.dumps(pop)
    # No campaign known: the DID stands for the source, and no script is null.
    bare = compose_pop(snapshot(), None, now=T0)
    assert bare["source"] == DID and bare["script"] is None


def test_the_service_takes_a_did_s_zone_from_its_call_flow_else_its_number(
    tmp_path: Path,
) -> None:
    from telephony.config import load_settings
    from telephony.ivr.defaults import default_flow
    from telephony.ivr.flow import Flow
    from telephony.service import Runtime

    settings = load_settings(
        ari_url="http://127.0.0.1:9",
        ari_username="u",
        ari_password="password",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'zones.db'}",
        recordings_dir=str(tmp_path / "recordings"),
        ivr_sounds_dir=str(tmp_path / "sounds"),
        log_json=False,
    )
    runtime = Runtime(settings)
    assert runtime.did_zone(DID) == ISTANBUL  # +90: one zone
    flow = Flow.model_validate({**default_flow("x", "y"), "time_zone": "America/New_York"})
    runtime.ivr.flows.put_in_force(DID, 1, flow)
    assert runtime.did_zone(DID) == ZoneInfo("America/New_York")
