"""Prometheus metrics for operators (`GET /metrics`).

What is true now (calls by phase, ringing, on hold, queued, agents by status, the ARI
connection, open browser sockets) is read at scrape time from the live objects, so it
can never drift from them. What happened (escalations, alarms such as a recording
found missing, pops sent and how long after the caller arrived) is counted as it
happens. One registry per service, not the process-global one: tests run several
services in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from telephony.alarms import Alarm

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# The pop's target is tens of milliseconds; the tail shows load.
POP_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# The deadline's answer is meant to leave within milliseconds of its time.
LATE_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)


@dataclass(frozen=True)
class LiveSources:
    """Where the scrape reads what is true now."""

    live_calls: Callable[[], list[dict[str, Any]]]
    ari_state: Callable[[], str]
    agents: Callable[[], list[dict[str, Any]]]


class Metrics:
    def __init__(self, live: LiveSources) -> None:
        # auto_describe off: describing the live collector would read the service at start.
        self.registry = CollectorRegistry(auto_describe=False)
        self.escalations = Counter(
            "thirdring_escalations",
            "Escalation steps taken when a caller reached the ring limit",
            ["step"],
            registry=self.registry,
        )
        self.alarms = Counter(
            "thirdring_alarms",
            "Alarms raised (recording_missing, recording_short, recording_silent, ...)",
            ["kind"],
            registry=self.registry,
        )
        self.pop_latency = Histogram(
            "thirdring_pop_latency_seconds",
            "From the caller's arrival to the first pop sent to an agent's browser",
            buckets=POP_BUCKETS,
            registry=self.registry,
        )
        self.deadline_answers = Histogram(
            "thirdring_deadline_answer_late_seconds",
            "How late after the caller's deadline the system's answer was sent",
            buckets=LATE_BUCKETS,
            registry=self.registry,
        )
        self._collector = _LiveCollector(live)
        self.registry.register(self._collector)

    def count_sockets(self, sockets: Callable[[], int]) -> None:
        """The web app's open WebSockets (known once the app exists)."""
        self._collector.sockets = sockets

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def on_alarm(self, alarm: Alarm) -> None:
        self.alarms.labels(kind=alarm.kind).inc()

    def on_pop(self, arrived_at: datetime, sent_at: datetime) -> None:
        self.pop_latency.observe(max((sent_at - arrived_at).total_seconds(), 0.0))

    def on_escalation(self, step: str) -> None:
        self.escalations.labels(step=step).inc()

    def on_deadline_answer(self, late_s: float) -> None:
        """From the answering threads (prometheus_client's metrics are thread-safe)."""
        self.deadline_answers.observe(max(late_s, 0.0))


class _LiveCollector(Collector):
    def __init__(self, live: LiveSources) -> None:
        self._live = live
        self.sockets: Callable[[], int] = lambda: 0

    def collect(self) -> Iterator[Metric]:
        calls = self._live.live_calls()
        by_phase = GaugeMetricFamily(
            "thirdring_calls_in_progress", "Calls in progress by phase", labels=["phase"]
        )
        for phase, count in _count(str(c.get("phase")) for c in calls).items():
            by_phase.add_metric([phase], count)
        yield by_phase
        yield GaugeMetricFamily(
            "thirdring_calls_ringing",
            "Callers not yet answered by anyone (the ring limit runs)",
            value=sum(
                1 for c in calls if c.get("phase") != "talking" and not c.get("system_answered")
            ),
        )
        yield GaugeMetricFamily(
            "thirdring_calls_queued",
            "Callers answered by the system, waiting for an agent",
            value=sum(1 for c in calls if c.get("system_answered") and c.get("phase") != "talking"),
        )
        yield GaugeMetricFamily(
            "thirdring_calls_on_hold", "Callers on hold", value=sum(1 for c in calls if c["hold"])
        )
        agents = GaugeMetricFamily("thirdring_agents", "Agents by status", labels=["status"])
        for status, count in _count(str(a.get("status")) for a in self._live.agents()).items():
            agents.add_metric([status], count)
        yield agents
        yield GaugeMetricFamily(
            "thirdring_ari_connected",
            "1 when the service's ARI event stream is connected to Asterisk",
            value=1 if self._live.ari_state() == "connected" else 0,
        )
        yield GaugeMetricFamily(
            "thirdring_browser_sockets", "Open browser WebSockets", value=self.sockets()
        )


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts
