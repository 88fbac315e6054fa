"""The results format of issue 9, the machine it ran on, and the printed table.

`bench/results/latest.json` =
`{"machine": {"cores", "memory_gb", "asterisk"}, "benchmarks": [{"name", "params",
"metrics", "reference": {"name", "metrics"}}]}`, one entry per benchmark and parameter set.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Number = int | float


@dataclass(frozen=True)
class Reference:
    """The same figure, same run, same machine, for the thing we compare with."""

    name: str
    metrics: dict[str, Number]


@dataclass(frozen=True)
class BenchResult:
    name: str
    params: dict[str, Number | str]
    metrics: dict[str, Number]
    reference: Reference | None = None
    # Said on the console under the table (how it was measured, anomalies); not in JSON.
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "params": self.params,
            "metrics": _plain(self.metrics),
        }
        if self.reference is not None:
            reference = self.reference
            out["reference"] = {"name": reference.name, "metrics": _plain(reference.metrics)}
        return out


def _plain(metrics: dict[str, Number]) -> dict[str, Number | None]:
    """NaN (nothing measured) is not JSON: null instead."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in metrics.items()}


@dataclass(frozen=True)
class Machine:
    cores: int
    memory_gb: float
    asterisk: str

    def to_json(self) -> dict[str, Any]:
        return {"cores": self.cores, "memory_gb": self.memory_gb, "asterisk": self.asterisk}


def machine(asterisk: str) -> Machine:
    """Cores this process may use and total memory, from the kernel."""
    cores = len(os.sched_getaffinity(0))
    kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
    return Machine(cores=cores, memory_gb=round(kib / 1024 / 1024, 1), asterisk=asterisk)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): a value that was measured, never interpolated."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def write(path: Path, host: Machine, results: Sequence[BenchResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"machine": host.to_json(), "benchmarks": [r.to_json() for r in results]}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _fmt(value: Number | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def describe(host: Machine) -> str:
    return f"machine: {host.cores} cores, {host.memory_gb} GB memory, Asterisk {host.asterisk}"


def table(results: Sequence[BenchResult], columns: Sequence[str]) -> str:
    """One row per result: its params, `columns` of its metrics, the same of its reference,
    and the ratio of the first column (ours / reference)."""
    header = ["benchmark", "params", *columns, "reference", *columns, f"{columns[0]} ratio"]
    rows = [header]
    for r in results:
        params = " ".join(f"{k}={v}" for k, v in r.params.items())
        ours = [_fmt(r.metrics.get(c)) for c in columns]
        ref_metrics = r.reference.metrics if r.reference else {}
        theirs = [_fmt(ref_metrics.get(c)) for c in columns]
        first, ref_first = r.metrics.get(columns[0]), ref_metrics.get(columns[0])
        ratio = "-"
        if first is not None and ref_first and not math.isnan(first / ref_first):
            ratio = f"{first / ref_first:.2f}"
        rows.append(
            [r.name, params, *ours, r.reference.name if r.reference else "-", *theirs, ratio]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    for row in rows[1:]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)
