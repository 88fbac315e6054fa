"""screen_pop_latency's arithmetic: each pop timed from its caller's StasisStart, split
into the service's, the delivery's and the page's share; CPU used by kind of process."""

from __future__ import annotations

import importlib
import os
from typing import Any

# Imported by name: bench/ is outside mypy's `files`, and following the import would
# type-check bench/history_lookup.py (which screen_pop uses) under this suite's rules.
screen_pop: Any = importlib.import_module("bench.screen_pop")
Agents, Observer, Options, Pages, Stream = (
    screen_pop.Agents,
    screen_pop.Observer,
    screen_pop.Options,
    screen_pop.Pages,
    screen_pop.Stream,
)
_cpu_use, _results = screen_pop._cpu_use, screen_pop._results


def _observer(start: dict[str, tuple[float, float, str]]) -> Any:
    observer = Observer("http://127.0.0.1:1", "u", "p")
    observer.start = start
    return observer


def test_each_pop_is_split_into_service_delivery_and_page() -> None:
    t = 1_000.0
    observer = _observer(
        {"1": (t, t + 0.001, "StasisStart"), "2": (t + 1, t + 1.002, "StasisStart")}
    )
    clients = Agents()
    clients.first_pop["1"] = t + 0.010  # 10 ms after its StasisStart
    clients.composed["1"] = t + 0.007
    pages = Pages(
        rendered={"2": t + 1.020},
        painted={"2": t + 1.030},
        message={"2": t + 1.018},
        composed={"2": t + 1.008},
        page={"2": 0},
        clock_ms=[0.2],
        states=["visible+focused"],
    )
    ws, browser = _results(Options(), observer, clients, pages, Stream(), problems=None)

    assert ws.params["measured"] == "ws" and browser.params["measured"] == "browser"
    assert ws.metrics["n"] == 1 and ws.metrics["p50_ms"] == 10.0
    assert ws.metrics["service_p50_ms"] == 7.0 and ws.metrics["delivery_p50_ms"] == 3.0
    assert browser.metrics["n"] == 1 and browser.metrics["p99_ms"] == 20.0
    assert browser.metrics["service_p50_ms"] == 8.0
    assert browser.metrics["delivery_p50_ms"] == 10.0
    assert browser.metrics["page_js_p50_ms"] == 2.0
    assert browser.metrics["frame_p50_ms"] == 10.0
    assert ws.reference is not None and ws.reference.metrics["n"] == 2
    assert ws.metrics["added_p99_ms"] == 10.0 - ws.reference.metrics["p99_ms"]


def test_cpu_is_counted_by_kind_and_others_apart() -> None:
    me = os.getpid()
    before = {me: ("python", 1, 10.0), 50: ("asterisk", me, 1.0), 60: ("pytest", 1, 0.0)}
    after = {
        me: ("python", 1, 11.0),
        50: ("asterisk", me, 3.0),
        51: ("chromium", 52, 0.5),  # a renderer, under the driver this bench started
        52: ("node", me, 0.25),
        60: ("pytest", 1, 4.0),  # somebody else's
        70: ("python", me, 2.0),
    }
    assert _cpu_use(before, after, service_pid=70) == {
        "other": 4.0,
        "asterisk": 2.0,
        "service": 2.0,
        "bench": 1.0,
        "chromium": 0.5,
        "node": 0.25,
    }
