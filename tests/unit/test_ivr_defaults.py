"""The default flow: greeting with the kind of business and the company, straight to the
agents in hours; after hours a message and a callback offer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from telephony.ivr import messages as m
from telephony.ivr.defaults import default_flow
from telephony.ivr.validate import validate_flow
from telephony.ivr.walker import decide, start

OPEN = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # Friday 11:00 in Istanbul
CLOSED = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)  # Friday 23:00


@pytest.mark.parametrize("language", ["tr", "en"])
def test_the_default_flow_is_valid_and_short(language: str) -> None:
    checked = validate_flow(
        default_flow("mobilya atölyesi", "Usta Ahşap", language=language),
        file_exists=lambda name: False,
    )
    assert checked.warnings == []
    assert not any(node.kind == "menu" for node in checked.flow.nodes.values())


def test_in_hours_the_greeting_names_the_business_then_the_agents() -> None:
    flow = validate_flow(
        default_flow("mobilya atölyesi", "Usta Ahşap"), file_exists=lambda name: False
    ).flow
    state, commands = start(flow, call_id="c", channel_id="ch", caller_number=None, now=OPEN)
    (play,) = [c for c in commands if isinstance(c, m.PlayPrompts)]
    assert play.prompts[0].text["tr"].startswith("İyi günler, mobilya atölyesi Usta Ahşap.")
    state, commands = decide(state, m.PromptDone(playback_id=play.playback_id), OPEN)
    (finish,) = [c for c in commands if isinstance(c, m.Finish)]
    assert finish.route == m.ToAgents(group="default")


def test_after_hours_a_message_then_a_callback_offer() -> None:
    flow = validate_flow(
        default_flow("law office", "Adalet", language="en"), file_exists=lambda name: False
    ).flow
    state, commands = start(
        flow, call_id="c", channel_id="ch", caller_number="+905551112233", now=CLOSED
    )
    (play,) = [c for c in commands if isinstance(c, m.PlayPrompts)]
    assert "outside our hours" in play.prompts[0].text["en"]
    state, commands = decide(state, m.PromptDone(playback_id=play.playback_id), CLOSED)
    assert state.node == "callback"


def test_a_callback_asked_for_after_hours_is_due_when_the_line_opens() -> None:
    flow = validate_flow(
        default_flow("mobilya atölyesi", "Usta Ahşap"), file_exists=lambda name: False
    ).flow
    state, commands = start(
        flow, call_id="c", channel_id="ch", caller_number="+905551112233", now=CLOSED
    )
    for _ in range(2):  # the closed message, then the offer
        playing = state.playing or ""
        state, commands = decide(state, m.PromptDone(playback_id=playing), CLOSED)
    state, commands = decide(state, m.Keyed(digit="1"), CLOSED)
    state, commands = decide(state, m.PromptDone(playback_id=state.playing or ""), CLOSED)
    (finish,) = [c for c in commands if isinstance(c, m.Finish)]
    # Friday 23:00 in Istanbul: Monday 09:00 + 15 minutes, not tonight.
    assert finish.route == m.ToCallback(
        number="+905551112233",
        confirmed="caller_id",
        due_at=datetime(2026, 11, 30, 6, 15, tzinfo=UTC),
    )
