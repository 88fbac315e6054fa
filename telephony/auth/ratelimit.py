"""Failed logins per key (an IP, a username) in a sliding window, in memory.

A key with `max_failures` failures within `window` is refused until the oldest of
them leaves the window. The clock is a constructor parameter (tests pass a fake).
Memory is bounded: at most `max_keys` keys are remembered, oldest dropped first.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Limit:
    max_failures: int
    window: timedelta

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError(f"max_failures = {self.max_failures!r}: must be at least 1")
        if self.window <= timedelta(0):
            raise ValueError(f"window = {self.window!r}: must be positive")


class FailureLimiter:
    def __init__(self, limit: Limit, *, clock: Clock = _utc_now, max_keys: int = 10_000) -> None:
        self.limit = limit
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[str, deque[datetime]] = {}

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may try again; 0 when it may now."""
        failures = self._recent(key)
        if failures is None or len(failures) < self.limit.max_failures:
            return 0.0
        # The attempt is allowed again once the failure max_failures back has aged out.
        free_at = failures[-self.limit.max_failures] + self.limit.window
        return max((free_at - self._clock()).total_seconds(), 0.0)

    def failed(self, key: str) -> None:
        failures = self._recent(key)
        if failures is None:
            failures = self._failures[key] = deque(maxlen=self.limit.max_failures)
            self._evict()
        failures.append(self._clock())

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def __len__(self) -> int:
        return len(self._failures)

    def _recent(self, key: str) -> deque[datetime] | None:
        failures = self._failures.get(key)
        if failures is None:
            return None
        cutoff = self._clock() - self.limit.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures

    def _evict(self) -> None:
        if len(self._failures) <= self._max_keys:
            return
        for key in list(self._failures):
            self._recent(key)  # drops keys whose failures all aged out
        while len(self._failures) > self._max_keys:
            del self._failures[next(iter(self._failures))]


class LoginRateLimiter:
    """Login failures counted per client IP and per username, each with its own limit.

    The username limit protects one account from guessing from many places; the IP
    limit (looser: a call centre's agents often share one address) slows one place
    guessing many accounts.
    """

    def __init__(self, per_user: Limit, per_ip: Limit, *, clock: Clock = _utc_now) -> None:
        self._users = FailureLimiter(per_user, clock=clock)
        self._ips = FailureLimiter(per_ip, clock=clock)

    def retry_after(self, *, ip: str, username: str) -> int:
        """Whole seconds to wait (for Retry-After), 0 when this attempt may go ahead."""
        wait = max(self._ips.retry_after(ip), self._users.retry_after(username))
        return math.ceil(wait)

    def failed(self, *, ip: str, username: str) -> None:
        self._ips.failed(ip)
        self._users.failed(username)

    def succeeded(self, *, username: str) -> None:
        # The IP's count stays: one valid account must not reset guessing at others.
        self._users.forget(username)
