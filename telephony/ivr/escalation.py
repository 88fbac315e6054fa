"""The IVR flows of the ring policy's escalation steps (pure data, no I/O).

When nobody answered by the deadline, the call core hands the caller to the IVR's own
nodes (`RunIvrStep`), walked by the same walker and runner as a DID's call flow:

- `callback_offer`: a short offer ("nobody is free; press 1 to be called back"), a menu
  with one key and no retry (no key, or any other key: the caller is handed back and
  the next step runs); on 1 the IVR's callback node (confirm the Caller ID, or key a
  number and #; a number that is not a usable phone number is asked again); the
  caller is thanked and hung up. Failing the callback node also hands back.
- `hold_callback_offer`: the same at a hold's limit, in other words ("your consultant
  needs a little longer; press 1 to be called back within 15 minutes, or stay on the
  line"): the callback is a promise of the holding agent's, due in 15 minutes.
- `voicemail`: the IVR's voicemail node (a prompt, the beep, up to `VOICEMAIL_MAX_S`).
- `external` needs no flow: the runner dials it like the IVR's external node.

"Handed back" is the flow's agents node: for a step, the agents are the call's ring
policy, which then runs its next step.
"""

from __future__ import annotations

from typing import Final, Literal

from telephony.ivr.flow import (
    AgentsNode,
    CallbackNode,
    Choice,
    Flow,
    MenuNode,
    Node,
    Prompt,
    VoicemailNode,
    prompts,
)

OFFER_TIMEOUT_S: Final = 5.0
CALLBACK_DUE_MINUTES: Final = 10  # the playbook: called back within 10-15 minutes
HOLD_CALLBACK_DUE_MINUTES: Final = 15  # what the offer says: within 15 minutes
VOICEMAIL_MAX_S: Final = 120
LANGUAGES: Final = ("tr", "en")
FlowStep = Literal["callback_offer", "hold_callback_offer", "voicemail"]
FLOW_STEPS: Final[tuple[FlowStep, ...]] = ("callback_offer", "hold_callback_offer", "voicemail")

_TEXTS: Final[dict[str, dict[str, str]]] = {
    "tr": {
        "offer": "Şu an tüm temsilcilerimiz meşgul. Sizi geri aramamızı isterseniz 1'e basın.",
        "hold_offer": "Temsilcimizin biraz daha zamana ihtiyacı var. Sizi 15 dakika içinde "
        "geri aramamızı isterseniz 1'e basın; beklemek için hatta kalın.",
        "confirm": "Sizi bu numaradan aramamız için 1'e basın. Başka bir numara için "
        "numarayı tuşlayıp kare tuşuna basın.",
        "keyin": "Sizi geri aramamız için numaranızı tuşlayıp kare tuşuna basın.",
        "done": "Teşekkürler. Sizi en kısa sürede arayacağız. İyi günler.",
        "invalid": "Numara anlaşılamadı.",
        "voicemail": "Şu an size cevap veremiyoruz. Sinyal sesinden sonra mesajınızı "
        "bırakın; bitince kare tuşuna basın.",
    },
    "en": {
        "offer": "Nobody is free right now. To be called back, press 1.",
        "hold_offer": "Your consultant needs a little longer. To be called back within 15 "
        "minutes, press 1; to keep waiting, stay on the line.",
        "confirm": "To be called back on this number, press 1. For another number, key it "
        "in and press hash.",
        "keyin": "To be called back, key in your number and press hash.",
        "done": "Thank you. We will call you back shortly. Goodbye.",
        "invalid": "That number was not understood.",
        "voicemail": "Nobody can take your call right now. Please leave a message after "
        "the tone, and press hash when you are done.",
    },
}

DECLINED: Final = "declined"  # the agents node that hands the caller back


def step_language(language: str | None) -> str:
    """The language the step speaks: the caller's (or the DID's) if we have its words."""
    return language if language in _TEXTS else LANGUAGES[0]


def step_flow(kind: FlowStep, language: str) -> Flow:
    language = step_language(language)
    say = _TEXTS[language]

    def text(key: str) -> Prompt:
        return Prompt(text={language: say[key]})

    nodes: dict[str, Node]
    if kind == "voicemail":
        nodes = {"voicemail": VoicemailNode(prompt=text("voicemail"), max_s=VOICEMAIL_MAX_S)}
        start = "voicemail"
    else:
        on_hold = kind == "hold_callback_offer"
        nodes = {
            "offer": MenuNode(
                prompt=text("hold_offer" if on_hold else "offer"),
                choices={"1": Choice(next="callback")},
                timeout_s=OFFER_TIMEOUT_S,
                retries=0,
                default=DECLINED,
            ),
            "callback": CallbackNode(
                prompt=text("confirm"),
                keyin_prompt=text("keyin"),
                done_prompt=text("done"),
                invalid_prompt=text("invalid"),
                due_in_minutes=HOLD_CALLBACK_DUE_MINUTES if on_hold else CALLBACK_DUE_MINUTES,
                fallback=DECLINED,
            ),
            DECLINED: AgentsNode(),
        }
        start = "offer"
    return Flow(start=start, language=language, languages=(language,), nodes=nodes)


def step_prompts(kinds: set[str], languages: set[str]) -> list[tuple[Prompt, str]]:
    """Every prompt the steps of `kinds` can play, per language (to render ahead)."""
    wanted: list[tuple[Prompt, str]] = []
    for kind in FLOW_STEPS:
        if kind not in kinds:
            continue
        for language in sorted({step_language(x) for x in languages}):
            flow = step_flow(kind, language)
            for node in flow.nodes.values():
                wanted += [(prompt, language) for _, prompt in prompts(node)]
    return wanted
