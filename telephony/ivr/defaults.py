"""The default call flow: greet with the kind of business and the company name, then
straight to the agents in business hours (no menu); after hours, a message and a
callback offer (confirm the Caller ID or key a number).

The playbook's greeting is "greet first, then the kind of business and the company
name"; the agent adds their own name when they pick up.
"""

from __future__ import annotations

from typing import Any

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]

_TEXTS = {
    "tr": {
        "greeting": "İyi günler, {activity} {company}. Sizi hemen bir temsilcimize bağlıyoruz.",
        "closed": "İyi günler, {activity} {company}. Şu an mesai saatlerimiz dışındasınız.",
        "offer": "Sizi bu numaradan geri aramamızı isterseniz 1'e basın. Başka bir numara "
        "için numarayı tuşlayıp kare tuşuna basın.",
        "keyin": "Sizi geri aramamız için numaranızı tuşlayıp kare tuşuna basın.",
        "done": "Teşekkürler. Mesai başladığında sizi arayacağız. İyi günler.",
        "invalid": "Numara anlaşılamadı.",
        "bye": "Bizi aradığınız için teşekkürler. İyi günler.",
    },
    "en": {
        "greeting": "Good day, {activity} {company}. Putting you through to a person now.",
        "closed": "Good day, {activity} {company}. You are calling outside our hours.",
        "offer": "To be called back on this number, press 1. For another number, key it "
        "in and press hash.",
        "keyin": "To be called back, key in your number and press hash.",
        "done": "Thank you. We will call you back when we open. Goodbye.",
        "invalid": "That number was not understood.",
        "bye": "Thank you for calling. Goodbye.",
    },
}


def default_flow(
    activity: str,
    company: str,
    *,
    language: str = "tr",
    time_zone: str = "Europe/Istanbul",
    opens: str = "09:00",
    closes: str = "18:00",
    days: list[str] | None = None,
    holidays: list[str] | None = None,
    callback_in_minutes: int = 15,
) -> dict[str, Any]:
    """The flow as the admin API takes it (validated like any other)."""
    texts = _TEXTS[language]

    def say(key: str) -> dict[str, Any]:
        return {"text": {language: texts[key].format(activity=activity, company=company)}}

    return {
        "start": "hours",
        "time_zone": time_zone,
        "language": language,
        "languages": [language],
        "nodes": {
            "hours": {
                "kind": "hours",
                "open_spans": [{"days": days or WEEKDAYS, "start": opens, "end": closes}],
                "holidays": holidays or [],
                "open": "greeting",
                "closed": "closed",
            },
            "greeting": {"kind": "play", "prompt": say("greeting"), "next": "agents"},
            "agents": {"kind": "agents", "group": "default"},
            "closed": {"kind": "play", "prompt": say("closed"), "next": "callback"},
            "callback": {
                "kind": "callback",
                "prompt": say("offer"),
                "keyin_prompt": say("keyin"),
                "done_prompt": say("done"),
                "invalid_prompt": say("invalid"),
                "due_in_minutes": callback_in_minutes,
                "after_opening": "hours",  # not called back at night
                "fallback": "bye",
            },
            "bye": {"kind": "hangup", "prompt": say("bye")},
        },
    }
