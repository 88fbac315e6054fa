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


def merge_latest(path: Path, host: Machine, results: Sequence[BenchResult]) -> dict[str, Any]:
    """`latest.json` with this run's benchmarks replaced and the others kept (a run of
    one benchmark does not erase the rest)."""
    ran = {r.name for r in results}
    kept: list[dict[str, Any]] = []
    if path.exists():
        try:
            old = json.loads(path.read_text())
            kept = [b for b in old.get("benchmarks", []) if b.get("name") not in ran]
        except (ValueError, AttributeError):
            kept = []
    document = {
        "machine": host.to_json(),
        "benchmarks": kept + [r.to_json() for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return document


README_START, README_END = "<!-- bench:latest -->", "<!-- /bench:latest -->"


def markdown(document: dict[str, Any], columns: dict[str, Sequence[str]]) -> str:
    """The README's table of the latest results: key metrics, the reference's, the ratio."""
    host = document.get("machine", {})
    lines = [
        f"Machine: {host.get('cores')} cores, {host.get('memory_gb')} GB, "
        f"Asterisk {host.get('asterisk')}.",
        "",
        "| benchmark | params | ours | reference | ratio (first figure) |",
        "|---|---|---|---|---|",
    ]
    for bench in document.get("benchmarks", []):
        shown = columns.get(bench["name"], list(bench["metrics"])[:3])[:3]
        params = ", ".join(f"{k}={v}" for k, v in bench["params"].items())
        ours = ", ".join(f"{c} {_fmt(bench['metrics'].get(c))}" for c in shown)
        reference, ratio = "-", "-"
        if bench.get("reference"):
            ref = bench["reference"]
            reference = f"{ref['name']}: " + ", ".join(
                f"{c} {_fmt(ref['metrics'].get(c))}" for c in shown
            )
            first, theirs = bench["metrics"].get(shown[0]), ref["metrics"].get(shown[0])
            if isinstance(first, int | float) and isinstance(theirs, int | float) and theirs:
                ratio = f"{first / theirs:.2f}"
        lines.append(f"| {bench['name']} | {params} | {ours} | {reference} | {ratio} |")
    return "\n".join(lines)


def update_readme(readme: Path, table_text: str) -> bool:
    """Replace the text between the README's bench markers; False if they are missing."""
    if not readme.exists():
        return False
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return False
    head = text[: start + len(README_START)]
    readme.write_text(f"{head}\n{table_text}\n{text[end:]}")
    return True


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
