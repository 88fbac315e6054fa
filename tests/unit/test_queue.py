"""What a queued caller is told: their place, then the expected wait once it is known."""

from __future__ import annotations

from telephony.calls.queue import QueueInfo, announcement


def test_next_in_line() -> None:
    assert announcement(0) == ["sound:queue-youarenext"]


def test_callers_ahead() -> None:
    assert announcement(3) == [
        "sound:queue-thereare",
        "number:3",
        "sound:queue-callswaiting",
    ]


def test_the_expected_wait_follows_in_minutes() -> None:
    assert announcement(0, 150)[-3:] == ["sound:queue-holdtime", "number:2", "sound:queue-minutes"]
    assert announcement(0, 70)[-2:] == ["number:1", "sound:queue-minute"]
    assert announcement(2, 20)[-4:] == [
        "sound:queue-holdtime",
        "sound:queue-less-than",
        "number:1",
        "sound:queue-minute",
    ]


def test_the_estimate_is_app_queues_exponential_average() -> None:
    queue = QueueInfo(lambda call_id: 2)
    assert queue.announcement("c") == announcement(1)  # no wait known: place only
    queue.waited(120)
    assert queue.average_wait_s == 120
    queue.waited(40)
    assert queue.average_wait_s == 100  # (3 * 120 + 40) / 4
    assert queue.announcement("c")[-2:] == ["number:2", "sound:queue-minutes"]
