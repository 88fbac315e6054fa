"""Agent selection strategies (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from telephony.calls.agents import AgentPool
from telephony.config import AgentConfig
from telephony.policy.routing import Candidate, choose

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ORDER = ("a", "b", "c")
AGENTS = [
    Candidate("a", T0 + timedelta(seconds=30), priority=2),
    Candidate("b", T0, priority=3),
    Candidate("c", T0 + timedelta(seconds=10), priority=1),
]


def test_longest_idle_first() -> None:
    assert choose(AGENTS, strategy="longest_idle") == ["b"]
    assert choose(AGENTS, strategy="longest_idle", exclude=["b"]) == ["c"]


def test_sequential_by_priority() -> None:
    assert choose(AGENTS, strategy="sequential", limit=None) == ["c", "a", "b"]


def test_round_robin_continues_after_the_last_offered() -> None:
    assert choose(AGENTS, strategy="round_robin", order=ORDER) == ["a"]
    assert choose(AGENTS, strategy="round_robin", order=ORDER, last_offered="a") == ["b"]
    assert choose(AGENTS, strategy="round_robin", order=ORDER, last_offered="c") == ["a"]
    busy_b = [c for c in AGENTS if c.agent_id != "b"]
    assert choose(busy_b, strategy="round_robin", order=ORDER, last_offered="a") == ["c"]


def test_ring_all_takes_everyone_not_excluded() -> None:
    got = choose(AGENTS, strategy="ring_all", order=ORDER, limit=None, exclude=["a"])
    assert sorted(got) == ["b", "c"]


def test_nobody_left() -> None:
    assert choose([], strategy="longest_idle") == []
    assert choose(AGENTS, strategy="longest_idle", exclude=["a", "b", "c"]) == []


def test_a_preferred_agent_comes_first_when_available() -> None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    candidates = [Candidate("a", now, 1), Candidate("b", now, 2)]
    assert choose(candidates, strategy="sequential", prefer="b") == ["b"]
    assert choose(candidates, strategy="sequential", prefer="gone") == ["a"]
    assert choose(candidates, strategy="sequential", prefer="b", exclude=("b",)) == ["a"]


def test_the_pool_offers_a_group_only_to_its_members() -> None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    agents = [
        AgentConfig(id="ayse", name="Ayşe", endpoint="PJSIP/a", groups=["sales"]),
        AgentConfig(id="mehmet", name="Mehmet", endpoint="PJSIP/m", groups=["support"]),
        AgentConfig(id="can", name="Can", endpoint="PJSIP/c", groups=["sales", "support"]),
    ]
    pool = AgentPool(agents, now)
    chosen = pool.reserve("c1", limit=None, strategy="ring_all", group="support")
    assert [s.agent_id for s in chosen] == ["mehmet", "can"]
    assert pool.reserve("c2", group="support") == []  # its members are busy: wait
    # A group nobody is in: anyone (a caller never waits for nobody).
    assert [s.agent_id for s in pool.reserve("c3", group="billing")] == ["ayse"]
