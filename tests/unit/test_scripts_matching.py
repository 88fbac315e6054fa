"""Matching: ordered, explainable rules; a broken release falls through, never crashes."""

from __future__ import annotations

import pytest

from telephony.scripts.library import default_library
from telephony.scripts.matching import (
    campaign_of,
    candidates,
    choose,
    in_hours,
    match,
    setup_problems,
)
from telephony.scripts.model import (
    CallFacts,
    Campaign,
    History,
    Language,
    MatchRule,
    MatchSetup,
    MatchWhen,
    Release,
    VariantShare,
)

LIBRARY = {script.key: script for script in default_library()}
CEILINGS = Campaign(
    key="ceilings_search",
    name="Gergi tavan — arama reklamları",
    source="search ads",
    dids=["908501234567"],
    script="inbound_sale_tr",
)
PRICES = Campaign(
    key="price_list", name="Price list", dids=["+442071234567"], script="general_inbound_en"
)
NO_SCRIPT = Campaign(key="radio", name="Radio", dids=["908509999999"])

RULES = [
    MatchRule(name="IVR: English", when=MatchWhen(ivr_tag="english"), script="inbound_sale_en"),
    MatchRule(
        name="returning caller with an open deal",
        when=MatchWhen(campaign="ceilings_search", history=["open_deal", "customer"]),
        script="meeting_tr",
    ),
    MatchRule(
        name="night on the price line",
        when=MatchWhen(did="442071234567", hours=(22, 6)),
        script="phone_sale_en",
    ),
    MatchRule(
        name="English speakers in office hours",
        when=MatchWhen(language="en", hours=(9, 18)),
        script="general_inbound_en",
    ),
]


def _release(key: str, *weights: int) -> Release:
    return Release(
        key=key,
        variants=[
            VariantShare(label="AB"[i], version=i + 1, weight=w) for i, w in enumerate(weights)
        ],
    )


def _setup(**changes: object) -> MatchSetup:
    keys = [s.key for s in LIBRARY.values()]
    data: dict[str, object] = {
        "rules": RULES,
        "campaigns": [CEILINGS, PRICES, NO_SCRIPT],
        "releases": {key: _release(key, 50, 50) for key in keys},
        "bodies": {(key, version): LIBRARY[key] for key in keys for version in (1, 2)},
        "default_script": "general_inbound_tr",
    }
    data.update(changes)
    return MatchSetup.model_validate(data)


def facts(
    did: str = "",
    ivr_tag: str | None = None,
    history: History = "new",
    language: Language | None = None,
    hour: int | None = None,
) -> CallFacts:
    return CallFacts(
        call_id="call-1",
        did=did,
        ivr_tag=ivr_tag,
        history=history,
        language=language,
        local_hour=hour,
    )


TABLE: list[tuple[str, CallFacts, str, str | None, str | None]] = [
    # name, facts, script, campaign, rule
    ("campaign's script", facts("908501234567"), "inbound_sale_tr", "ceilings_search", None),
    ("the DID with a plus", facts("+908501234567"), "inbound_sale_tr", "ceilings_search", None),
    (
        "IVR choice first",
        facts("908501234567", ivr_tag="english"),
        "inbound_sale_en",
        "ceilings_search",
        "IVR: English",
    ),
    (
        "open deal on the campaign",
        facts("908501234567", history="open_deal"),
        "meeting_tr",
        "ceilings_search",
        "returning caller with an open deal",
    ),
    (
        "customer on the campaign",
        facts("908501234567", history="customer"),
        "meeting_tr",
        "ceilings_search",
        "returning caller with an open deal",
    ),
    (
        "returning is not in the list",
        facts("908501234567", history="returning"),
        "inbound_sale_tr",
        "ceilings_search",
        None,
    ),
    (
        "open deal elsewhere",
        facts("442071234567", history="open_deal", hour=12),
        "general_inbound_en",
        "price_list",
        None,
    ),
    (
        "night before midnight",
        facts("442071234567", hour=23),
        "phone_sale_en",
        "price_list",
        "night on the price line",
    ),
    (
        "night after midnight",
        facts("442071234567", hour=5),
        "phone_sale_en",
        "price_list",
        "night on the price line",
    ),
    ("night ends at 6", facts("442071234567", hour=6), "general_inbound_en", "price_list", None),
    ("hour unknown", facts("442071234567"), "general_inbound_en", "price_list", None),
    (
        "language and hours",
        facts("908509999999", language="en", hour=9),
        "general_inbound_en",
        "radio",
        "English speakers in office hours",
    ),
    (
        "hours end excluded",
        facts("908509999999", language="en", hour=18),
        "general_inbound_tr",
        "radio",
        None,
    ),
    ("language unknown", facts("908509999999", hour=10), "general_inbound_tr", "radio", None),
    ("unknown DID: default", facts("901111111111"), "general_inbound_tr", None, None),
    ("no DID: default", facts(), "general_inbound_tr", None, None),
]


@pytest.mark.parametrize(
    ("name", "call", "script", "campaign", "rule"), TABLE, ids=[row[0] for row in TABLE]
)
def test_match_table(
    name: str, call: CallFacts, script: str, campaign: str | None, rule: str | None
) -> None:
    found = match(_setup(), call)
    assert found is not None
    assert (found.script, found.campaign, found.rule) == (script, campaign, rule)
    chosen = choose(_setup(), call)
    assert chosen is not None and chosen.key == script and chosen.campaign == campaign


def test_the_reason_reads_as_a_chain() -> None:
    chosen = choose(_setup(), facts("908501234567", history="open_deal"))
    assert chosen is not None
    assert chosen.reason == [
        "DID 908501234567",
        "campaign 'Gergi tavan — arama reklamları'",
        "rule 'returning caller with an open deal'",
        "script 'Gelen arama — toplantı ayarlama' v" + str(chosen.version),
        f"variant {chosen.variant} (50%)",
    ]
    assert chosen.body == LIBRARY["meeting_tr"] and chosen.language == "tr"
    default = choose(_setup(), facts("901111111111"))
    assert default is not None and default.reason[:2] == [
        "DID 901111111111",
        "no rule or campaign script matched",
    ]


def test_no_default_and_nothing_matching_gives_none() -> None:
    assert match(_setup(default_script=None), facts("901111111111")) is None
    assert choose(_setup(default_script=None), facts("901111111111")) is None


def test_an_unservable_script_is_skipped_with_its_reason() -> None:
    setup = _setup(
        releases={
            "meeting_tr": _release("meeting_tr", 0, 0),  # no weight
            "inbound_sale_tr": _release("inbound_sale_tr", 100),  # body of v1 missing
            "general_inbound_tr": _release("general_inbound_tr", 0, 100),
        },
        bodies={("general_inbound_tr", 2): LIBRARY["general_inbound_tr"]},
    )
    call = facts("908501234567", history="open_deal")
    assert [c.script for c in candidates(setup, call)] == [
        "meeting_tr",
        "inbound_sale_tr",
        "general_inbound_tr",
    ]
    chosen = choose(setup, call)
    assert chosen is not None
    assert (chosen.key, chosen.version, chosen.variant) == ("general_inbound_tr", 2, "B")
    assert chosen.reason == [
        "DID 908501234567",
        "campaign 'Gergi tavan — arama reklamları'",
        "the default script",
        "script 'meeting_tr' skipped: every variant has weight 0",
        "script 'inbound_sale_tr' skipped: version 1 has no body",
        "script 'Genel gelen arama — 12 adım' v2",
        "variant B (100%)",
    ]
    unreleased = _setup(releases={})
    assert choose(unreleased, call) is None


@pytest.mark.parametrize(
    ("hours", "inside", "outside"),
    [
        ((9, 18), [9, 12, 17], [8, 18, 23, 0]),
        ((22, 6), [22, 23, 0, 5], [6, 12, 21]),
        ((0, 24), [0, 12, 23], []),
        ((7, 7), [0, 7, 23], []),  # from == to: all day
    ],
)
def test_hours_window(hours: tuple[int, int], inside: list[int], outside: list[int]) -> None:
    assert all(in_hours(hours, h) for h in inside)
    assert not any(in_hours(hours, h) for h in outside)


def test_campaign_of_ignores_a_plus() -> None:
    setup = _setup()
    assert campaign_of(setup, "+908501234567") == CEILINGS
    assert campaign_of(setup, "442071234567") == PRICES
    assert campaign_of(setup, "") is None


def test_setup_problems() -> None:
    setup = _setup(
        rules=[
            MatchRule(name="bad hours", when=MatchWhen(hours=(25, 3)), script="x"),
            MatchRule(name="bad campaign", when=MatchWhen(campaign="tv"), script="x"),
            MatchRule(name="bad DID", when=MatchWhen(did="0850 123"), script="x"),
        ],
        campaigns=[CEILINGS, Campaign(key="copy", name="Copy", dids=["+908501234567"])],
    )
    assert setup_problems(setup) == [
        "DID +908501234567 belongs to both 'ceilings_search' and 'copy'",
        "rules[0] 'bad hours'.when.hours = [25, 3]: hours are 0-23 (to may be 24)",
        "rules[1] 'bad campaign'.when.campaign = 'tv': no such campaign; campaigns: "
        "['ceilings_search', 'copy']",
        "rules[2] 'bad DID'.when.did = '0850 123': 3-20 digits, '+' first allowed",
    ]
    assert setup_problems(_setup()) == []
