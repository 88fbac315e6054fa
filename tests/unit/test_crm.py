"""The external CRM's answer as shown to agents: a few short text fields, whatever it
sends."""

from __future__ import annotations

from telephony.push.crm import MAX_FIELDS, MAX_KEY, MAX_VALUE, fields_of, lookup_url


def test_the_number_is_quoted_into_the_url() -> None:
    url = lookup_url("https://crm.example/lookup?phone={e164}&x=1", "+905321112233")
    assert url == "https://crm.example/lookup?phone=%2B905321112233&x=1"
    assert "/" not in lookup_url("{e164}", "+90/../admin").replace("%2F", "")


def test_only_scalar_fields_are_kept_as_clean_text() -> None:
    fields = fields_of(
        {
            "name": "<img src=x onerror=alert(1)>",
            "segment": "\u202eVIP\u202c",
            "balance": 1250.5,
            "active": True,
            "bell\x07": "x\x00y",
            "nested": {"a": 1},
            "list": [1, 2],
            "missing": None,
            "long": "ş" * 5000,
            "k" * 500: "v",
        }
    )
    assert fields is not None
    assert fields["name"] == "<img src=x onerror=alert(1)>"  # text; the page uses textContent
    assert fields["segment"] == "VIP"
    assert fields["balance"] == "1250.5" and fields["active"] == "True"
    assert fields["bell"] == "xy"
    assert "nested" not in fields and "list" not in fields and "missing" not in fields
    assert len(fields["long"]) == MAX_VALUE
    assert "k" * MAX_KEY in fields


def test_at_most_a_dozen_fields_and_only_objects() -> None:
    many = fields_of({f"f{i}": i for i in range(100)})
    assert many is not None and len(many) == MAX_FIELDS
    assert list(many)[:2] == ["f0", "f1"]  # the CRM's order
    for not_an_object in (None, [], "x", 5, [{"name": "a"}]):
        assert fields_of(not_an_object) is None
