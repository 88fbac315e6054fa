"""Counts of the bad-input runs (issue 9): each run reports how many inputs it tried,
how many crashed something and how many leaked something; pytest prints one line per
run at the end ("tried N, crashed 0, leaked 0")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BadInputRun:
    name: str
    tried: int
    crashed: int
    leaked: int

    def line(self) -> str:
        return f"{self.name}: tried {self.tried}, crashed {self.crashed}, leaked {self.leaked}"


RUNS: list[BadInputRun] = []


def report(name: str, *, tried: int, crashed: int, leaked: int) -> None:
    RUNS.append(BadInputRun(name, tried, crashed, leaked))
