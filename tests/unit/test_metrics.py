"""The metrics: live gauges read at scrape time, counters as things happen, and the
Grafana dashboard naming only what is exported."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from telephony.alarms import Alarm
from telephony.metrics import LiveSources, Metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "monitoring" / "grafana-dashboard.json"
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def values(metrics: Metrics) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}[{labels}]" if labels else sample.name] = sample.value
    return out


def live(calls: list[dict[str, Any]], agents: list[dict[str, Any]] | None = None) -> Metrics:
    return Metrics(
        LiveSources(
            live_calls=lambda: calls, ari_state=lambda: "connected", agents=lambda: agents or []
        )
    )


def test_live_gauges_are_read_at_scrape_time() -> None:
    calls: list[dict[str, Any]] = []
    metrics = live(calls, [{"status": "available"}, {"status": "paused"}, {"status": "paused"}])
    assert values(metrics)["thirdring_calls_ringing"] == 0
    calls += [
        {"phase": "offering", "system_answered": False, "hold": None},
        {"phase": "waiting", "system_answered": True, "hold": None},
        {"phase": "talking", "system_answered": False, "hold": {"since": "x"}},
    ]
    now = values(metrics)
    assert now["thirdring_calls_ringing"] == 1
    assert now["thirdring_calls_queued"] == 1
    assert now["thirdring_calls_on_hold"] == 1
    assert now["thirdring_calls_in_progress[phase=talking]"] == 1
    assert now["thirdring_agents[status=paused]"] == 2
    assert now["thirdring_ari_connected"] == 1


def test_alarms_and_pops_are_counted() -> None:
    metrics = live([])
    metrics.on_alarm(Alarm("recording_missing", "c1", "gone", T0))
    metrics.on_alarm(Alarm("recording_missing", "c2", "gone", T0))
    metrics.on_pop(T0, T0 + timedelta(milliseconds=12))
    metrics.on_pop(T0, T0 - timedelta(seconds=1))  # clocks apart: never negative
    now = values(metrics)
    assert now["thirdring_alarms_total[kind=recording_missing]"] == 2
    assert now["thirdring_pop_latency_seconds_count"] == 2
    assert now["thirdring_pop_latency_seconds_bucket[le=0.02]"] == 2
    assert now["thirdring_pop_latency_seconds_bucket[le=0.005]"] == 1


class FakeSession:
    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.escalations: list[dict[str, Any]] = []
        self.done = asyncio.Event()
        self.ended = False


class FakeCalls:
    def __init__(self) -> None:
        self.told: list[str] = []
        self.on_change: Callable[[Any], None] = lambda session: self.told.append(session.call_id)


async def test_escalations_are_counted_once_each_even_after_the_end() -> None:
    metrics = live([])
    calls = FakeCalls()
    metrics.watch(calls)
    session = FakeSession("c1")
    session.escalations.append({"step": "ring_all", "ring": 3.0})
    calls.on_change(session)
    calls.on_change(session)  # a change without a new step
    session.ended = True
    calls.on_change(session)
    session.escalations.append({"step": "message", "ring": 5.0})  # stored after the end
    session.done.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    now = values(metrics)
    assert now["thirdring_escalations_total[step=ring_all]"] == 1
    assert now["thirdring_escalations_total[step=message]"] == 1
    assert calls.told == ["c1", "c1", "c1"]  # the watcher before is still told


def test_the_dashboard_names_only_exported_metrics() -> None:
    metrics = live(
        [{"phase": "talking", "system_answered": False, "hold": None}], [{"status": "available"}]
    )
    metrics.on_alarm(Alarm("recording_short", None, "", T0))
    metrics.escalations.labels(step="queue").inc()
    metrics.on_pop(T0, T0)
    exported = {name.split("[")[0] for name in values(metrics)}
    dashboard = json.loads(DASHBOARD.read_text())
    named = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"thirdring_[a-z_]+", target["expr"])
    }
    assert named and named <= exported, named - exported
