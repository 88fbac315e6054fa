"""The IVR walker node by node, with a fake clock: no I/O, no sleeps, no mocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from telephony.ivr import messages as m
from telephony.ivr.flow import Flow, HoursNode
from telephony.ivr.hours import next_open
from telephony.ivr.walker import IvrError, Wait, decide, start

# Friday 27 November 2026, 10:00 in Istanbul (UTC+3).
T0 = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
# A callback asked for after Friday's hours: 15 minutes after Monday 09:00 in Istanbul.
MONDAY_0915 = datetime(2026, 11, 30, 6, 15, tzinfo=UTC)


def say(text: str) -> dict[str, Any]:
    return {"text": {"tr": text}}


def flow(**extra: Any) -> Flow:
    raw: dict[str, Any] = {
        "start": "hours",
        "nodes": {
            "hours": {
                "kind": "hours",
                "open_spans": [
                    {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}
                ],
                "holidays": ["2026-12-31"],
                "open": "greeting",
                "closed": "closed",
            },
            "greeting": {"kind": "play", "prompt": say("İyi günler"), "next": "menu"},
            "menu": {
                "kind": "menu",
                "prompt": say("Satış için 1, destek için 2"),
                "choices": {
                    "1": {"next": "sales", "tag": "sales"},
                    "2": {"next": "support", "tag": "support"},
                },
                "timeout_s": 5,
                "retries": 2,
                "invalid_prompt": say("Geçersiz tuş"),
                "timeout_prompt": say("Tuşlama yapılmadı"),
                "default": "sales",
            },
            "sales": {"kind": "agents", "group": "sales"},
            "support": {"kind": "agents", "group": "support"},
            "closed": {"kind": "play", "prompt": say("Mesai dışı"), "next": "callback"},
            "callback": {
                "kind": "callback",
                "prompt": say("Bu numaradan aranmak için 1"),
                "keyin_prompt": say("Numaranızı tuşlayıp # basın"),
                "done_prompt": say("Teşekkürler"),
                "timeout_s": 8,
                "retries": 1,
                "after_opening": "hours",
            },
        },
    }
    raw.update(extra)
    return Flow.model_validate(raw)


class Walk:
    """Drives the walker like the runner does, with a clock the test moves."""

    def __init__(self, f: Flow, caller: str | None = "+905551112233", at: datetime = T0) -> None:
        self.now = at
        self.state, self.commands = start(
            f, call_id="c1", channel_id="ch1", caller_number=caller, now=at
        )
        self.all: list[m.IvrCommand] = list(self.commands)

    def feed(self, event: m.IvrEvent, after_s: float = 0.0) -> list[m.IvrCommand]:
        self.now += timedelta(seconds=after_s)
        self.state, self.commands = decide(self.state, event, self.now)
        self.all += self.commands
        return self.commands

    def key(self, digit: str, after_s: float = 0.0) -> list[m.IvrCommand]:
        return self.feed(m.Keyed(digit=digit), after_s)

    def prompt_done(self, after_s: float = 1.0) -> list[m.IvrCommand]:
        assert self.state.playing is not None, "nothing is playing"
        return self.feed(m.PromptDone(playback_id=self.state.playing), after_s)

    def timer_fires(self) -> list[m.IvrCommand]:
        start = next(c for c in reversed(self.all) if isinstance(c, m.StartTimer))
        self.now = start.at
        return self.feed(m.TimerFired(key=start.key))

    @property
    def played(self) -> list[list[str]]:
        return [[p.text["tr"] for p in c.prompts] for c in self.all if isinstance(c, m.PlayPrompts)]

    @property
    def finish(self) -> m.Finish:
        found = [c for c in self.all if isinstance(c, m.Finish)]
        assert len(found) == 1, found
        return found[0]


def test_in_hours_the_caller_is_answered_greeted_and_offered_the_menu() -> None:
    w = Walk(flow())
    assert isinstance(w.all[0], m.AnswerCaller)
    assert w.played == [["İyi günler"]]
    w.prompt_done()
    assert w.played[-1] == ["Satış için 1, destek için 2"]
    w.prompt_done()
    assert w.state.wait is Wait.INPUT
    start_timer = w.commands[-1]
    assert isinstance(start_timer, m.StartTimer) and start_timer.at == w.now + timedelta(seconds=5)
    w.key("2", after_s=1.5)
    finish = w.finish
    assert finish.route == m.ToAgents(group="support")
    assert finish.record["path"] == ["hours", "greeting", "menu", "support"]
    assert finish.record["keys"] == "2"
    assert finish.record["tags"] == ["support"]
    assert finish.record["seconds"] == 3.5
    assert finish.record["result"] == "agents" and finish.record["group"] == "support"
    assert any(isinstance(c, m.CancelTimer) for c in w.commands)


def test_a_key_during_the_menu_prompt_stops_it_and_counts() -> None:
    w = Walk(flow())
    w.prompt_done()
    menu_playback = w.state.playing
    commands = w.key("1", after_s=0.4)
    assert commands[0] == m.StopPrompt(playback_id=menu_playback or "")
    assert w.finish.route == m.ToAgents(group="sales")
    # The PlaybackFinished of the stopped prompt comes later and changes nothing.
    assert w.feed(m.PromptDone(playback_id=menu_playback or "")) == []


def test_keys_pressed_too_fast_are_buffered_for_the_menu() -> None:
    w = Walk(flow())
    assert w.key("2", after_s=0.2) == []  # during the greeting: no menu yet
    assert w.state.buffer == "2"
    w.prompt_done()
    # The menu takes the buffered key at once, without playing its prompt.
    assert w.played == [["İyi günler"]]
    assert w.finish.route == m.ToAgents(group="support")
    assert w.finish.record["keys"] == "2"


def test_the_buffer_is_bounded() -> None:
    w = Walk(flow())
    for _ in range(20):
        w.key("9")
    assert w.state.buffer == "9" * 8 and w.state.keys == "9" * 20


def test_too_slow_replays_with_the_timeout_prompt_then_goes_to_the_default() -> None:
    w = Walk(flow())
    w.prompt_done()
    w.prompt_done()
    w.timer_fires()  # retry 1
    assert w.played[-1] == ["Tuşlama yapılmadı", "Satış için 1, destek için 2"]
    w.prompt_done()
    w.timer_fires()  # retry 2
    w.prompt_done()
    w.timer_fires()  # retries exhausted: the default route
    assert w.finish.route == m.ToAgents(group="sales")
    assert w.finish.record["keys"] == ""
    assert w.finish.record["path"] == ["hours", "greeting", "menu", "sales"]


def test_a_key_after_a_timeout_retry_is_still_taken() -> None:
    w = Walk(flow())
    w.prompt_done()
    w.prompt_done()
    w.timer_fires()
    w.prompt_done()
    w.key("1", after_s=2)
    assert w.finish.route == m.ToAgents(group="sales")
    assert w.finish.record["tags"] == ["sales"]


@pytest.mark.parametrize("key", ["#", "*", "7", "0"])
def test_keys_not_in_the_menu_replay_with_the_invalid_prompt(key: str) -> None:
    w = Walk(flow())
    w.prompt_done()
    w.prompt_done()
    w.key(key)
    assert w.played[-1] == ["Geçersiz tuş", "Satış için 1, destek için 2"]
    assert w.state.retries == 1
    w.prompt_done()
    w.key("2")
    assert w.finish.route == m.ToAgents(group="support")
    assert w.finish.record["keys"] == f"{key}2"


def test_only_wrong_keys_end_at_the_default_after_the_retries() -> None:
    w = Walk(flow())
    w.prompt_done()
    for _ in range(3):
        w.key("#")  # barge into each replay
    assert w.finish.route == m.ToAgents(group="sales")
    assert w.finish.record["keys"] == "###"


def test_a_stale_timer_is_ignored() -> None:
    w = Walk(flow())
    w.prompt_done()
    w.prompt_done()
    old = w.state.timer
    w.key("5")  # invalid: the timer is cancelled, the menu replays
    assert w.feed(m.TimerFired(key=old or "")) == []
    assert w.state.wait is Wait.PROMPT


def test_hang_up_mid_prompt_ends_the_ivr_as_abandoned() -> None:
    w = Walk(flow())
    w.feed(m.CallerHungUp(), after_s=0.7)
    assert w.finish.route == m.Abandoned()
    assert w.finish.record["path"] == ["hours", "greeting"]
    assert w.finish.record["seconds"] == 0.7
    # Nothing happens after the end.
    assert w.feed(m.Keyed(digit="1")) == [] and w.state.wait is Wait.DONE


def test_hang_up_while_waiting_cancels_the_timer() -> None:
    w = Walk(flow())
    w.prompt_done()
    w.prompt_done()
    commands = w.feed(m.CallerHungUp())
    assert isinstance(commands[0], m.CancelTimer)
    assert w.finish.route == m.Abandoned()


def test_a_missing_prompt_file_is_skipped_with_an_alarm() -> None:
    w = Walk(flow())
    playing = w.state.playing or ""
    commands = w.feed(m.PromptMissing(playback_id=playing, missing=("ivr/greeting",)))
    assert commands[0] == m.Alarm(
        kind="ivr_prompt_missing", detail="node greeting: ivr/greeting not found; skipped"
    )
    assert w.played[-1] == ["Satış için 1, destek için 2"]  # moved on, not stuck
    w.prompt_done()
    w.key("1")
    assert w.finish.record["alarms"] == ["ivr_prompt_missing"]


def test_a_partly_missing_prompt_alarms_and_waits_for_the_rest() -> None:
    w = Walk(flow())
    playing = w.state.playing or ""
    commands = w.feed(m.PromptMissing(playback_id=playing, missing=("x",), played_rest=True))
    assert [type(c) for c in commands] == [m.Alarm]
    assert w.state.playing == playing
    w.prompt_done()
    assert w.played[-1] == ["Satış için 1, destek için 2"]


def test_after_hours_a_message_then_the_caller_id_is_confirmed_for_a_callback() -> None:
    w = Walk(flow(), at=T0 + timedelta(hours=10))  # 20:00 in Istanbul
    assert w.played == [["Mesai dışı"]]
    w.prompt_done()
    assert w.played[-1] == ["Bu numaradan aranmak için 1"]
    w.prompt_done()
    w.key("1")
    assert w.played[-1] == ["Teşekkürler"]
    assert w.state.wait is Wait.CLOSING
    w.key("5")  # keys during the closing prompt change nothing
    w.prompt_done()
    assert w.finish.route == m.ToCallback(
        number="+905551112233", confirmed="caller_id", due_at=MONDAY_0915
    )
    assert w.finish.record["path"] == ["hours", "closed", "callback"]


def test_a_holiday_is_closed_all_day() -> None:
    w = Walk(flow(), at=datetime(2026, 12, 31, 8, 0, tzinfo=UTC))  # a Thursday, 11:00
    assert w.played == [["Mesai dışı"]]


def test_the_weekend_is_closed() -> None:
    w = Walk(flow(), at=datetime(2026, 11, 28, 8, 0, tzinfo=UTC))  # Saturday 11:00
    assert w.played == [["Mesai dışı"]]


def test_an_anonymous_caller_keys_a_number_ending_with_hash() -> None:
    w = Walk(flow(), caller=None, at=T0 + timedelta(hours=10))
    w.prompt_done()
    assert w.played[-1] == ["Numaranızı tuşlayıp # basın"]
    w.prompt_done()
    w.key("1")  # no Caller ID to confirm: the 1 is the number's first digit
    for digit in "2345":
        w.key(digit, after_s=0.5)
    w.key("#")
    w.prompt_done()
    assert w.finish.route == m.ToCallback(number="12345", confirmed="keyed", due_at=MONDAY_0915)


def test_a_keyed_number_can_be_restarted_with_star_and_a_too_short_one_is_refused() -> None:
    w = Walk(flow(), caller=None, at=T0 + timedelta(hours=10))
    w.prompt_done()
    w.prompt_done()
    w.key("9")
    w.key("*")
    assert w.state.digits == ""
    w.key("4")
    w.key("#")  # one digit: not a number
    assert w.state.retries == 1 and w.state.wait is Wait.PROMPT
    w.prompt_done()
    for digit in "5551234#":
        w.key(digit)
    w.prompt_done()
    assert w.finish.route == m.ToCallback(number="5551234", confirmed="keyed", due_at=MONDAY_0915)


def test_no_answer_to_the_callback_offer_hangs_up_after_the_retries() -> None:
    w = Walk(flow(), at=T0 + timedelta(hours=10))
    w.prompt_done()
    w.prompt_done()
    w.timer_fires()
    w.prompt_done()
    w.timer_fires()
    assert w.finish.route == m.HangUp()


def test_the_language_choice_sets_the_prompts_language() -> None:
    f = Flow.model_validate(
        {
            "start": "lang",
            "languages": ["tr", "en"],
            "nodes": {
                "lang": {
                    "kind": "language",
                    "prompt": {"text": {"tr": "Türkçe için 1", "en": "For English press 2"}},
                    "choices": {"1": "tr", "2": "en"},
                    "next": "hello",
                },
                "hello": {
                    "kind": "play",
                    "prompt": {"text": {"tr": "Merhaba", "en": "Hello"}},
                    "next": "agents",
                },
                "agents": {"kind": "agents"},
            },
        }
    )
    w = Walk(f)
    w.prompt_done()
    w.key("2")
    play = [c for c in w.all if isinstance(c, m.PlayPrompts)][-1]
    assert play.language == "en" and play.fallback_language == "tr"
    w.prompt_done()
    assert w.finish.record["language"] == "en"
    # No choice: the default language is kept.
    w = Walk(f)
    w.prompt_done()
    w.timer_fires()
    w.prompt_done()
    w.timer_fires()
    w.prompt_done()
    assert w.finish.record["language"] == "tr"


def test_tags_and_terminal_routes() -> None:
    f = Flow.model_validate(
        {
            "start": "t",
            "nodes": {
                "t": {"kind": "tag", "tag": "web-advert", "next": "m"},
                "m": {
                    "kind": "menu",
                    "prompt": say("1 2 3"),
                    "choices": {"1": {"next": "vm"}, "2": {"next": "ext"}, "3": {"next": "bye"}},
                    "default": "bye",
                },
                "vm": {"kind": "voicemail", "prompt": say("Mesaj bırakın"), "max_s": 60},
                "ext": {"kind": "external", "number": "+902120000000"},
                "bye": {"kind": "hangup"},
            },
        }
    )
    w = Walk(f)
    w.key("1")
    w.prompt_done()
    assert w.finish.route == m.ToVoicemail(max_s=60)
    assert w.finish.record["tags"] == ["web-advert"]
    w = Walk(f)
    w.key("2")
    assert w.finish.route == m.ToExternal(number="+902120000000")
    w = Walk(f)
    w.key("3")
    assert w.finish.route == m.HangUp()


def test_the_hop_limit_hands_a_looping_caller_to_the_agents_with_an_alarm() -> None:
    f = Flow.model_validate(
        {
            "start": "m",
            "max_hops": 5,
            "nodes": {
                "m": {
                    "kind": "menu",
                    "prompt": say("Tekrar için 9"),
                    "choices": {"9": {"next": "again"}},
                    "default": "bye",
                },
                "again": {"kind": "play", "prompt": say("Tekrar"), "next": "m"},
                "bye": {"kind": "hangup"},
            },
        }
    )
    w = Walk(f)
    w.key("9")  # buffered? no: barge-in on the menu prompt
    w.prompt_done()  # "again" -> m (hop 3)
    w.key("9")  # hop 4: again
    w.prompt_done()  # hop 5: m
    w.key("9")  # hop 6: over the limit
    alarms = [c for c in w.all if isinstance(c, m.Alarm)]
    assert alarms and alarms[0].kind == "ivr_hop_limit"
    assert w.finish.route == m.ToAgents(group="default")


def test_an_unexpected_event_is_a_walker_error() -> None:
    class Odd(m.Message):
        pass

    with pytest.raises(IvrError):
        decide(Walk(flow()).state, Odd(), T0)  # type: ignore[arg-type]


def test_a_callback_without_an_opening_to_wait_for_is_due_in_minutes_from_now() -> None:
    f = Flow.model_validate(
        {
            "start": "offer",
            "nodes": {
                "offer": {
                    "kind": "callback",
                    "prompt": say("Bir"),
                    "keyin_prompt": say("Numara"),
                    "due_in_minutes": 10,
                }
            },
        }
    )
    w = Walk(f)
    w.key("1", after_s=3)
    assert w.finish.route == m.ToCallback(
        number="+905551112233", confirmed="caller_id", due_at=T0 + timedelta(seconds=603)
    )


def test_the_next_opening_skips_holidays_and_is_now_when_open() -> None:
    hours = flow().nodes["hours"]
    assert isinstance(hours, HoursNode)
    zone = ZoneInfo("Europe/Istanbul")
    assert next_open(hours, T0, zone) == T0
    # Wednesday 30 December 2026, 20:00: Thursday the 31st is a holiday -> Friday 09:00.
    evening = datetime(2026, 12, 30, 17, 0, tzinfo=UTC)
    assert next_open(hours, evening, zone) == datetime(2027, 1, 1, 6, 0, tzinfo=UTC)
    # Early morning: later the same day.
    early = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 06:00 in Istanbul
    assert next_open(hours, early, zone) == datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
