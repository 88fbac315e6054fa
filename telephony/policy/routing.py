"""Which agents get the next offer: pure selection over the agents' availability."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Strategy = Literal["longest_idle", "round_robin", "sequential", "ring_all"]


@dataclass(frozen=True)
class Candidate:
    agent_id: str
    idle_since: datetime
    priority: int = 100  # lower rings first ("sequential")


def choose(
    candidates: Sequence[Candidate],
    *,
    strategy: Strategy,
    exclude: Sequence[str] = (),
    limit: int | None = 1,
    last_offered: str | None = None,
    order: Sequence[str] = (),
    prefer: str | None = None,
) -> list[str]:
    """Up to `limit` agents (None: all) from the available `candidates`, best first.

    longest_idle: idle the longest first. sequential: by priority, then id.
    round_robin: the configured `order`, starting after `last_offered`.
    ring_all: everyone (in configured order).
    `prefer` (e.g. the agent who promised the callback) comes first when available.
    """
    skip = set(exclude)
    eligible = [c for c in candidates if c.agent_id not in skip]
    if strategy == "longest_idle":
        eligible.sort(key=lambda c: (c.idle_since, c.agent_id))
    elif strategy == "sequential":
        eligible.sort(key=lambda c: (c.priority, c.agent_id))
    else:
        position = {agent: i for i, agent in enumerate(order)}
        start = position.get(last_offered, -1) + 1 if last_offered is not None else 0
        size = max(len(order), 1)
        eligible.sort(key=lambda c: ((position.get(c.agent_id, size) - start) % size, c.agent_id))
    chosen = [c.agent_id for c in eligible]
    if prefer in chosen:
        chosen.remove(prefer)
        chosen.insert(0, prefer)
    return chosen if limit is None else chosen[:limit]
