"""The metrics: live gauges read at scrape time, counters as things happen, and the
Grafana dashboard naming only what is exported."""

from __future__ import annotations

import json
import re
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


def test_escalations_are_counted_by_step() -> None:
    metrics = live([])
    for step in ("ring_all", "queue", "queue"):
        metrics.on_escalation(step)
    now = values(metrics)
    assert now["thirdring_escalations_total[step=ring_all]"] == 1
    assert now["thirdring_escalations_total[step=queue]"] == 2


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
