"""The cadence of a call: the DID's, else the caller's country's, else the default."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.rings.cadences import ASTERISK_CADENCES, CUSTOM_DEFAULTS, Cadence, UnknownCadence
from telephony.rings.choice import choose_cadence, region_of

NO_CUSTOM: Mapping[str, Cadence] = {}


def choose(
    caller: str | None,
    *,
    did: str = "2000",
    per_did: Mapping[str, str] | None = None,
    default: str = "us",
    custom: Mapping[str, Cadence] = NO_CUSTOM,
) -> Cadence:
    return choose_cadence(
        did=did, caller_e164=caller, per_did=per_did or {}, default=default, custom=custom
    )


def test_the_dids_cadence_wins_over_the_callers_country() -> None:
    assert choose("+4915112345678", per_did={"2000": "uk"}) is ASTERISK_CADENCES["uk"]


def test_another_dids_setting_does_not_apply() -> None:
    assert choose("+4915112345678", per_did={"3000": "uk"}) is ASTERISK_CADENCES["de"]


@pytest.mark.parametrize(
    ("caller", "cadence"),
    [
        ("+4915112345678", "de"),
        ("+74951234567", "ru"),
        ("+12025550123", "us"),
        ("+33612345678", "fr"),
        ("+819012345678", "jp"),
        ("+442071234567", "uk"),  # phonenumbers says GB; Asterisk says uk
        ("+14165550123", "us"),  # Canada rings like the US ("North America")
    ],
)
def test_the_callers_country(caller: str, cadence: str) -> None:
    assert choose(caller, default="za") is ASTERISK_CADENCES[cadence]


def test_turkish_callers_get_the_custom_default() -> None:
    assert choose("+905321234567") is CUSTOM_DEFAULTS["tr"]


def test_a_custom_cadence_for_the_callers_country_wins() -> None:
    mine = {"de": Cadence.uniform("de", 1000, 3000)}
    assert choose("+4915112345678", custom=mine) is mine["de"]


@pytest.mark.parametrize(
    "caller",
    [
        None,
        "",
        "anonymous",
        "12345",  # not E.164: no country
        "+380441234567",  # Ukraine: no cadence known
        "+80012345678",  # international freephone: no country
        "+" + "9" * 40,
        "<script>",
    ],
)
def test_otherwise_the_default(caller: str | None) -> None:
    assert choose(caller, default="de") is ASTERISK_CADENCES["de"]


def test_the_default_may_be_custom() -> None:
    office = Cadence.uniform("office", 500, 500)
    assert choose(None, default="office", custom={"office": office}) is office


def test_an_unknown_configured_name_raises() -> None:
    with pytest.raises(UnknownCadence, match="unknown cadence 'xx'"):
        choose(None, default="xx")
    with pytest.raises(UnknownCadence, match="unknown cadence 'yy'"):
        choose("+4915112345678", per_did={"2000": "yy"})


@pytest.mark.parametrize(
    ("caller", "region"),
    [("+4915112345678", "de"), ("+442071234567", "gb"), ("+905321234567", "tr"), ("x", None)],
)
def test_region_of(caller: str, region: str | None) -> None:
    assert region_of(caller) == region


@settings(deadline=None)  # load on the test machine must not fail a property
@given(caller=st.one_of(st.none(), st.text(max_size=64)))
def test_any_caller_id_gives_a_cadence(caller: str | None) -> None:
    assert isinstance(choose(caller), Cadence)


@settings(deadline=None)
@given(digits=st.text(alphabet="0123456789", min_size=1, max_size=16))
def test_any_plus_number_gives_a_cadence(digits: str) -> None:
    assert isinstance(choose("+" + digits), Cadence)
