"""The escalation steps' IVR flows walked by the IVR walker, with a fake clock: the
offer takes only 1 (anything else, or nothing, hands the caller back), the callback
node asks again for a typed number that is not a phone number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from telephony.ivr import messages as m
from telephony.ivr.escalation import (
    CALLBACK_DUE_MINUTES,
    OFFER_TIMEOUT_S,
    step_flow,
    step_language,
    step_prompts,
)
from telephony.ivr.flow import VoicemailNode
from telephony.ivr.walker import IvrState, Wait, decide, start
from telephony.numbers import normalise_number

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def usable(number: str) -> bool:
    return normalise_number(number, "TR") is not None


def offer(caller: str | None = "+905551117788", language: str = "tr") -> IvrState:
    state, commands = start(
        step_flow("callback_offer", language),
        call_id="c1-esc1",
        channel_id="caller",
        caller_number=caller,
        now=T0,
        number_ok=usable,
    )
    assert isinstance(commands[0], m.AnswerCaller)  # harmless: the call answered already
    assert isinstance(commands[-1], m.PlayPrompts)
    return state


def heard(state: IvrState) -> IvrState:
    """The playing prompt ends (4 s in)."""
    assert state.playing is not None
    state, _ = decide(state, m.PromptDone(playback_id=state.playing), T0 + timedelta(seconds=4))
    return state


def keys(state: IvrState, digits: str) -> tuple[IvrState, list[m.IvrCommand]]:
    commands: list[m.IvrCommand] = []
    for digit in digits:
        state, more = decide(state, m.Keyed(digit=digit), T0 + timedelta(seconds=5))
        commands += more
    return state, commands


def finish(commands: list[m.IvrCommand]) -> m.Finish:
    (done,) = [c for c in commands if isinstance(c, m.Finish)]
    return done


def test_the_offer_says_its_words_in_the_language_and_waits_five_seconds() -> None:
    state = heard(offer(language="en"))
    assert state.wait is Wait.INPUT
    _, commands = decide(state, m.TimerFired(key="nothing"), T0)
    assert commands == []  # a timer that is not armed
    prompt = step_flow("callback_offer", "en").nodes["offer"]
    assert prompt.kind == "menu" and prompt.timeout_s == OFFER_TIMEOUT_S
    assert "press 1" in prompt.prompt.text["en"]


@pytest.mark.parametrize("key", ["2", "9", "0", "*", "#"])
def test_any_other_key_at_the_offer_hands_the_caller_back(key: str) -> None:
    state, commands = keys(heard(offer()), key)
    assert state.wait is Wait.DONE
    assert finish(commands).route == m.ToAgents(group="default")
    assert finish(commands).record["keys"] == key


def test_no_key_at_the_offer_hands_the_caller_back_without_asking_again() -> None:
    state = heard(offer())
    assert state.timer is not None
    state, commands = decide(state, m.TimerFired(key=state.timer), T0 + timedelta(seconds=9))
    assert finish(commands).route == m.ToAgents(group="default")
    assert [c for c in commands if isinstance(c, m.PlayPrompts)] == []


def test_one_then_one_confirms_the_caller_id_and_thanks_the_caller() -> None:
    state, _ = keys(heard(offer()), "1")  # barge-in works too: the key counts at once
    assert state.node == "callback"
    state, commands = keys(heard(state), "1")
    assert state.wait is Wait.CLOSING  # "thank you", then the hand-over
    state, commands = decide(state, m.PromptDone(playback_id=state.playing or ""), T0)
    route = finish(commands).route
    assert isinstance(route, m.ToCallback)
    assert (route.number, route.confirmed) == ("+905551117788", "caller_id")
    # Due 10 minutes after the key (pressed 5 s in).
    assert route.due_at == T0 + timedelta(seconds=5, minutes=CALLBACK_DUE_MINUTES)


@pytest.mark.parametrize("hostile", ["112#", "000#", "999999999999999#", "0532#"])
def test_a_typed_number_that_is_not_a_phone_number_is_asked_again(hostile: str) -> None:
    state, _ = keys(heard(offer(caller=None)), "1")
    state, commands = keys(heard(state), hostile)
    assert state.wait is Wait.PROMPT and state.node == "callback"
    (again,) = [c for c in commands if isinstance(c, m.PlayPrompts)]
    assert len(again.prompts) == 2  # "not understood", then the question again
    state, commands = keys(heard(state), "05321234567#")
    state, commands = decide(state, m.PromptDone(playback_id=state.playing or ""), T0)
    route = finish(commands).route
    assert isinstance(route, m.ToCallback)
    assert (route.number, route.confirmed) == ("05321234567", "keyed")


def test_sixteen_digits_are_refused_at_the_sixteenth() -> None:
    state, _ = keys(heard(offer(caller=None)), "1")
    state, _ = keys(heard(state), "1" * 16)
    assert state.retries == 1 and state.digits == ""


def test_failing_the_callback_node_hands_the_caller_back() -> None:
    state, _ = keys(heard(offer(caller=None)), "1")
    for _ in range(3):  # the question, then 2 retries: then the fallback
        state = heard(state)
        state, commands = keys(state, "#")
    assert finish(commands).route == m.ToAgents(group="default")


def test_without_a_number_check_the_walker_takes_any_three_digits() -> None:
    state, _ = start(
        step_flow("callback_offer", "tr"),
        call_id="c1",
        channel_id="caller",
        caller_number=None,
        now=T0,
    )
    state, _ = keys(heard(state), "1")
    state, _ = keys(heard(state), "112#")
    assert state.wait is Wait.CLOSING  # thanked: the runner alarms on the unusable number


def test_the_voicemail_step_is_the_voicemail_node() -> None:
    flow = step_flow("voicemail", "en")
    node = flow.nodes[flow.start]
    assert isinstance(node, VoicemailNode) and node.max_s == 120
    assert "after the tone" in node.prompt.text["en"]


def test_languages_without_words_fall_back_to_turkish() -> None:
    assert step_language("de") == "tr" and step_language(None) == "tr"
    assert step_language("en") == "en"
    assert step_flow("voicemail", "de").language == "tr"


def test_prompts_to_render_ahead_only_for_the_steps_in_use() -> None:
    assert step_prompts({"queue", "ring_all", "external"}, {"tr"}) == []
    offer_only = step_prompts({"callback_offer"}, {"tr", "en", "de"})
    assert {language for _, language in offer_only} == {"tr", "en"}
    assert len(offer_only) == 2 * 5  # offer, confirm, key in, done, invalid
    assert len(step_prompts({"voicemail"}, {"tr"})) == 1
