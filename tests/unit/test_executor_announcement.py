"""What a queued caller is told, by their place in the queue."""

from telephony.calls.executor import announcement


def test_next_in_line() -> None:
    assert announcement(0) == ["sound:queue-youarenext"]


def test_callers_ahead() -> None:
    assert announcement(3) == [
        "sound:queue-thereare",
        "number:3",
        "sound:queue-callswaiting",
    ]
