"""Caller ID clean-up. Caller ID is set by whoever places the call: never trust it, never raise."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

# Values PBXs and carriers use for a withheld number.
_WITHHELD = frozenset(
    {"anonymous", "unknown", "restricted", "private", "unavailable", "withheld", "blocked"}
)
# Longer than any dialable number with spacing; rejects abuse before parsing.
_MAX_RAW_NUMBER = 32
# Digits with the usual separators, an optional leading '+'. No letters (vanity
# numbers such as 1-800-FLOWERS are not Caller ID) and no extensions.
_NUMBER_SHAPE = re.compile(r"^\+?[0-9(][0-9 ()./-]*$")
# Work done on a name is bounded even for a megabyte of input.
_MAX_NAME_INPUT = 1000
MAX_NAME_LENGTH = 80
# Cc control, Cf format (bidi overrides, zero-width), Cs lone surrogates (not
# encodable as UTF-8), Co private use, Cn unassigned.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def normalise_number(raw: str | None, default_region: str) -> str | None:
    """E.164 form of a Caller ID number (e.g. "+905551112233"), or None when unusable."""
    if not isinstance(raw, str) or len(raw) > _MAX_RAW_NUMBER:
        return None
    text = raw.strip()
    if not text or text.lower() in _WITHHELD or not _NUMBER_SHAPE.fullmatch(text):
        return None
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def clean_caller_name(raw: str | None) -> str:
    """Printable one-line name, at most 80 characters; markup is kept as plain text."""
    return clean_text(raw, MAX_NAME_LENGTH) if isinstance(raw, str) else ""


def clean_text(raw: str, limit: int) -> str:
    """Any text from outside (Caller ID, a CRM's answer) as one printable line of at most
    `limit` characters: control, format (bidi overrides) and unassigned characters
    dropped, white space collapsed; markup stays plain text."""
    text = unicodedata.normalize("NFC", raw[: max(_MAX_NAME_INPUT, limit * 4)])
    kept = (
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in _DROPPED_CATEGORIES
    )
    return " ".join("".join(kept).split())[:limit].rstrip()
