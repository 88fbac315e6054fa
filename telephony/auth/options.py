"""The web app's login and session limits, from the service settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from telephony.auth.accounts import SessionLimits
from telephony.auth.ratelimit import Limit
from telephony.config import Settings


@dataclass(frozen=True)
class AuthOptions:
    sessions: SessionLimits = field(default_factory=SessionLimits)
    # Failed logins: 5 per username and 20 per client IP in 5 minutes, then 429.
    per_user: Limit = field(default_factory=lambda: Limit(5, timedelta(minutes=5)))
    per_ip: Limit = field(default_factory=lambda: Limit(20, timedelta(minutes=5)))

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthOptions:
        window = timedelta(seconds=settings.login_failure_window_s)
        return cls(
            sessions=SessionLimits(
                idle_timeout=timedelta(seconds=settings.session_idle_timeout_s),
                absolute_lifetime=timedelta(seconds=settings.session_absolute_timeout_s),
            ),
            per_user=Limit(settings.login_max_failures_per_user, window),
            per_ip=Limit(settings.login_max_failures_per_ip, window),
        )
