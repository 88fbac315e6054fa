"""Which agent gets the next call: pure selection over the agents' availability."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Candidate:
    agent_id: str
    idle_since: datetime


def longest_idle(candidates: Iterable[Candidate], exclude: Iterable[str] = ()) -> str | None:
    """The available agent idle the longest, skipping `exclude`; ties by agent id."""
    skip = set(exclude)
    eligible = [c for c in candidates if c.agent_id not in skip]
    if not eligible:
        return None
    return min(eligible, key=lambda c: (c.idle_since, c.agent_id)).agent_id
