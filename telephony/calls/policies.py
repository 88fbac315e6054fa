"""The ring policies in force, changeable by admins while calls go on.

A new call reads the policies once, at arrival (`plan_for`), and keeps its plan to the
end: a change applies to the next call at once and never to a call in progress. Every
change is validated first (pydantic, plus the steps the call core can carry out) and
comes back as an audit entry (who, when, old, new) for the caller to store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from telephony.calls.plans import plan_for, unsupported_steps
from telephony.policy.inbound import RingPlan
from telephony.rings.policy import RingPolicies, describe_errors


class PolicyRejected(ValueError):
    """A proposed policy is invalid; `problems` has one line per field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class PolicyChange:
    who: str
    at: datetime
    old: dict[str, Any]
    new: dict[str, Any]


class LivePolicies:
    def __init__(
        self, initial: RingPolicies, default_cadence: str, clock: Callable[[], datetime]
    ) -> None:
        self._current = initial
        self._default_cadence = default_cadence
        self._clock = clock
        # Told of every policy put in force (e.g. the IVR renders the steps' prompts).
        self._watchers: list[Callable[[RingPolicies], None]] = []

    def watch(self, watcher: Callable[[RingPolicies], None]) -> None:
        """`watcher(policies)` now and after every change; it must not block."""
        self._watchers.append(watcher)
        watcher(self._current)

    @property
    def current(self) -> RingPolicies:
        return self._current

    def plan_for(self, did: str, caller_e164: str | None) -> RingPlan:
        return plan_for(self._current, did, caller_e164, self._default_cadence)

    @staticmethod
    def validate(proposed: dict[str, Any]) -> RingPolicies:
        try:
            policies = RingPolicies.model_validate(proposed)
        except ValidationError as error:
            raise PolicyRejected(describe_errors(error)) from None
        problems = unsupported_steps(policies)
        if problems:
            raise PolicyRejected(problems)
        return policies

    def propose(self, proposed: dict[str, Any], who: str) -> tuple[RingPolicies, PolicyChange]:
        """Validate a change; nothing is in force until `put_in_force` (after auditing)."""
        new = self.validate(proposed)
        change = PolicyChange(
            who=who,
            at=self._clock(),
            old=self._current.model_dump(mode="json"),
            new=new.model_dump(mode="json"),
        )
        return new, change

    def put_in_force(self, policies: RingPolicies) -> None:
        self._current = policies
        for watcher in self._watchers:
            watcher(policies)

    def replace(self, proposed: dict[str, Any], who: str) -> PolicyChange:
        """Validate and put in force; the old policy stays if anything is wrong."""
        new, change = self.propose(proposed, who)
        self.put_in_force(new)
        return change
