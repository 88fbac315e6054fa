from __future__ import annotations

import pytest

from telephony.numbers import clean_caller_name, normalise_number


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+905551112233", "TR", "+905551112233"),
        ("+90 555 111 22 33", "TR", "+905551112233"),
        ("05551112233", "TR", "+905551112233"),
        ("0555 111 22 33", "TR", "+905551112233"),
        ("(0555) 111-22-33", "TR", "+905551112233"),
        ("00905551112233", "TR", "+905551112233"),
        ("5551112233", "TR", "+905551112233"),
        ("+1 415-555-2671", "TR", "+14155552671"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("  +905551112233  ", "TR", "+905551112233"),
        ("+905551112233", "ZZ", "+905551112233"),  # international form needs no region
    ],
)
def test_valid_numbers_become_e164(raw: str, region: str, expected: str) -> None:
    assert normalise_number(raw, region) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "anonymous",
        "Anonymous",
        "unknown",
        "RESTRICTED",
        "private",
        "12",
        "0000",
        "+0000",
        "98765432109876543210",
        "5" * 200,
        "abc",
        "1-800-FLOWERS",
        "+90555\x001112233",
        "+905551112233;ext=12",
        "sip:+905551112233@example.com",
        "<script>",
        "٠٥٥٥١١١٢٢٣٣",  # Arabic-Indic digits are not what a trunk sends
        "\ud800",
        "(((",
    ],
)
def test_unusable_numbers_become_none(raw: str | None) -> None:
    assert normalise_number(raw, "TR") is None


def test_local_number_with_unknown_region_is_none() -> None:
    assert normalise_number("05551112233", "ZZ") is None


def test_never_raises_on_non_string() -> None:
    assert normalise_number(12345, "TR") is None  # type: ignore[arg-type]
    assert clean_caller_name(b"bytes") == ""  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("", ""),
        ("Ayşe", "Ayşe"),
        ("  Ayşe \t\n Kaya  ", "Ayşe Kaya"),
        ("Ay\x00şe\x1b[31m", "Ayşe[31m"),
        ("evil\u202eabc", "evilabc"),  # bidi override could reverse the text shown
        ("zero\u200bwidth", "zerowidth"),
        ("bad\ud800surrogate", "badsurrogate"),
        ("Aye\u0301", "Ay\u00e9"),  # NFC: one code point per letter
        ("<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>"),
        ("Müller & Söhne", "Müller & Söhne"),
        ("李小龙", "李小龙"),
        ("😀 Emoji", "😀 Emoji"),
        ("x" * 200, "x" * 80),
        ("a" * 79 + " b", "a" * 79),  # no trailing space after the cut
        ("y" * 1_000_000, "y" * 80),
    ],
)
def test_clean_caller_name(raw: str | None, expected: str) -> None:
    assert clean_caller_name(raw) == expected
