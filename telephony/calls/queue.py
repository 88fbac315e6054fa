"""The queue a caller waits in once the system answered: their place and the expected
wait, as Asterisk's own prompts announce them.

The expected wait is app_queue's estimate: an exponential average of how long queued
callers waited for an agent (each new wait counts a quarter), announced in minutes.
"""

from __future__ import annotations

from collections.abc import Callable


class QueueInfo:
    def __init__(self, position: Callable[[str], int] = lambda call_id: 1) -> None:
        self._position = position
        self.average_wait_s: float | None = None  # None until a queued caller was answered

    def position(self, call_id: str) -> int:
        return self._position(call_id)

    def waited(self, seconds: float) -> None:
        """A queued caller was answered after `seconds` in the queue."""
        old = self.average_wait_s
        self.average_wait_s = seconds if old is None else (3 * old + seconds) / 4

    def announcement(self, call_id: str) -> list[str]:
        return announcement(self.position(call_id) - 1, self.average_wait_s)


def announcement(ahead: int, expected_wait_s: float | None = None) -> list[str]:
    """Next in line, or how many callers are ahead; then the expected wait, if known."""
    if ahead <= 0:
        media = ["sound:queue-youarenext"]
    else:
        media = ["sound:queue-thereare", f"number:{ahead}", "sound:queue-callswaiting"]
    if expected_wait_s is None:
        return media
    minutes = round(expected_wait_s / 60)
    if minutes < 1:
        return [*media, "sound:queue-holdtime", "sound:queue-less-than", "number:1",
                "sound:queue-minute"]  # fmt: skip
    unit = "sound:queue-minute" if minutes == 1 else "sound:queue-minutes"
    return [*media, "sound:queue-holdtime", f"number:{minutes}", unit]
